"""Weights stage: published files named in the config (backbones, FID statistics) and metric networks."""

DOWNLOADS = downloads()


if DOWNLOADS:

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
            "eps download-weights --url {params.url} --sha256 {params.sha256} --out {output} > {log} 2>&1"


rule metric_weights:
    """Inception / AlexNet weights of the metric networks (fetched when evaluate.download_weights is true)."""
    output:
        [f"{WEIGHTS_DIR}/{w.filename}" for w in METRIC_WEIGHTS.values()],
    log:
        f"{OUT}/logs/weights/metric_weights.log",
    shell:
        "eps download-weights --dest {WEIGHTS_DIR} > {log} 2>&1"
