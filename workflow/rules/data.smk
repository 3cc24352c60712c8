"""Data stage: prepared EDM-layout zips, train and test, per dataset.

``embedded`` patches ship with the package (offline). ``folder`` datasets read raw image folders that a
licence keeps out of reach of a rule (FFHQ, ImageNet): a missing folder is a job that fails with the
config's ``manual`` instructions, so a dry run still shows the whole DAG.
"""

EMBEDDED = [d for d, ds in config["datasets"].items() if ds["source"] == "embedded"]
FOLDERS = {(d, split): path for d, ds in config["datasets"].items() if ds["source"] == "folder"
           for split, path in ds["folders"].items()}
MANUAL = {path: config["datasets"][d]["manual"] for (d, _), path in FOLDERS.items()}


if EMBEDDED:

    rule prepare_embedded:
        output:
            train=f"{DATA}/{{dataset}}/train.zip",
            test=f"{DATA}/{{dataset}}/test.zip",
        wildcard_constraints:
            dataset="|".join(EMBEDDED),
        params:
            resolution=lambda w: config["datasets"][w.dataset]["resolution"],
        log:
            f"{OUT}/logs/data/{{dataset}}.log",
        shell:
            "eps prepare-data --source embedded --resolution {params.resolution} "
            "--out {output.train} {output.test} > {log} 2>&1"


if FOLDERS:

    rule prepare_folder:
        input:
            lambda w: FOLDERS[(w.dataset, w.split)],
        output:
            f"{DATA}/{{dataset}}/{{split}}.zip",
        wildcard_constraints:
            dataset="|".join(sorted({d for d, _ in FOLDERS})),
            split="train|test",
        params:
            resolution=lambda w: config["datasets"][w.dataset]["resolution"],
            labels=lambda w: "folders" if class_labels(w.dataset) == "true_label" else "none",
        log:
            f"{OUT}/logs/data/{{dataset}}-{{split}}.log",
        shell:
            "eps prepare-data --source folder --folder {input} --resolution {params.resolution} "
            "--class-labels {params.labels} --out {output} > {log} 2>&1"

    rule manual_download:
        """Licensed raw data is not fetched by a rule: this job fails with the config's instructions."""
        output:
            directory("{raw}"),
        wildcard_constraints:
            raw="|".join(map(re.escape, MANUAL)),
        params:
            text=lambda w: MANUAL[w.raw],
        shell:
            "echo 'MANUAL STEP (licensed data), {output} is missing: {params.text}' >&2; exit 1"
