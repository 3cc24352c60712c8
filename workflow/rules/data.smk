"""Data stage: prepared EDM-layout zips, train and test, per dataset.

``embedded`` patches ship with the package (offline). ``folder`` datasets read raw image folders that a
licence keeps out of reach of a rule (FFHQ, ImageNet): a missing folder is a job that fails with the
config's ``manual`` instructions, so a dry run still shows the whole DAG. The config's ``select`` says which
files of a folder each split takes; train and test are prepared in one job, which refuses any overlap.
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
            "--out {output.train:q} {output.test:q} > {log:q} 2>&1"


if FOLDERS:

    rule prepare_folder:
        """Both splits in one job: eps prepare-data refuses a train set that shares an image with the test set."""
        input:
            train=lambda w: FOLDERS[(w.dataset, "train")],
            test=lambda w: FOLDERS[(w.dataset, "test")],
        output:
            train=f"{DATA}/{{dataset}}/train.zip",
            test=f"{DATA}/{{dataset}}/test.zip",
        wildcard_constraints:
            dataset="|".join(sorted({d for d, _ in FOLDERS})),
        params:
            resolution=lambda w: config["datasets"][w.dataset]["resolution"],
            select=lambda w: as_json(config["datasets"][w.dataset].get("select", {})),
            labels=lambda w: "folders" if class_labels(w.dataset) == "true_label" else "none",
        log:
            f"{OUT}/logs/data/{{dataset}}.log",
        shell:
            "eps prepare-data --source folder --folders {input.train:q} {input.test:q} --select {params.select} "
            "--class-labels {params.labels:q} --resolution {params.resolution} --out {output.train:q} {output.test:q} "
            "> {log:q} 2>&1"

    localrules: manual_download

    rule manual_download:
        """Licensed raw data is not fetched by a rule: this job fails with the config's instructions."""
        output:
            directory("{raw}"),
        wildcard_constraints:
            raw="|".join(map(re.escape, MANUAL)),
        params:
            text=lambda w: MANUAL[w.raw],
        shell:
            "echo 'MANUAL STEP (licensed data),' {output:q} 'is missing:' {params.text:q} >&2; exit 1"
