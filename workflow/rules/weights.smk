"""Weights stage: published files named in the config (backbones, FID statistics), the conversion of the
published EDM pickles to eps network files, and the metric networks."""

DOWNLOADS = downloads()


if DOWNLOADS:

    localrules: download  # compute nodes have no internet: downloads run where snakemake runs

    rule download:
        """A published file, verified against its sha256 when the config states one."""
        output:
            f"{WEIGHTS_DIR}/{{file}}",
        wildcard_constraints:
            file="|".join(map(re.escape, DOWNLOADS)),
        params:
            url=lambda w: DOWNLOADS[w.file]["url"],
            sha256=lambda w: DOWNLOADS[w.file]["sha256"],
        log:
            f"{OUT}/logs/weights/{{file}}.log",
        shell:
            "eps download-weights --url {params.url:q} --sha256 {params.sha256:q} --out {output:q} > {log:q} 2>&1"

EDM_PICKLES = {converted_name(ds["checkpoint"]).removesuffix(".pt"): download_name(ds["checkpoint"])
               for ds in config["datasets"].values() if "checkpoint" in ds}


def trust_flag(pickle_name: str) -> str:
    """``--sha256 HEX`` when the config states the pickle's digest, ``--allow-unverified`` when it does not and
    the config says allow_unverified_pickle: true; otherwise nothing, and ``eps convert-edm`` refuses the file."""
    sha256 = DOWNLOADS[pickle_name]["sha256"]
    if sha256 != "unknown":
        return f"--sha256 {shlex.quote(sha256)}"
    return "--allow-unverified" if config["allow_unverified_pickle"] else ""


if EDM_PICKLES:

    rule convert_checkpoint:
        """A published EDM pickle as the eps-net-v1 backbone file the sample and train rules read."""
        input:
            pkl=lambda w: f"{WEIGHTS_DIR}/{EDM_PICKLES[w.net]}",
            edm_source=ancient(config["edm_source"]),
        output:
            f"{WEIGHTS_DIR}/{{net}}.pt",
        wildcard_constraints:
            net="|".join(map(re.escape, EDM_PICKLES)),
        params:
            trust=lambda w: trust_flag(EDM_PICKLES[w.net]),
        log:
            f"{OUT}/logs/weights/{{net}}.convert.log",
        shell:
            "eps convert-edm --pkl {input.pkl:q} --edm-source {input.edm_source:q} --out {output:q} {params.trust} "
            "> {log:q} 2>&1"

    localrules: edm_source

    rule edm_source:
        """The NVlabs/edm source (licence CC BY-NC-SA 4.0) is not fetched by a rule: this job fails with what to do."""
        output:
            directory(config["edm_source"]),
        shell:
            "echo 'MANUAL STEP:' {output:q} 'is missing; unpickling the published EDM checkpoints needs the NVlabs/edm "
            "source: git clone https://github.com/NVlabs/edm' {output:q} '(or set edm_source in the config to a clone)' "
            ">&2; exit 1"



localrules: metric_weights


rule metric_weights:
    """Inception / AlexNet weights of the metric networks (fetched when evaluate.download_weights is true)."""
    output:
        [f"{WEIGHTS_DIR}/{w.filename}" for w in METRIC_WEIGHTS.values()],
    log:
        f"{OUT}/logs/weights/metric_weights.log",
    shell:
        "eps download-weights --dest {WEIGHTS_DIR:q} > {log:q} 2>&1"
