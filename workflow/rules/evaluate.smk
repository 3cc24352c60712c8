"""Evaluate stage: one job per (dataset, task) over every (method, NFE) cell, seed and shard of it.

Evaluating a whole task in one process loads the metric networks once and keeps the DAG small; the summary
has one row per cell."""

EVALUATE = config["evaluate"]


def evaluate_inputs(w):
    inputs = {"shards": [s for cell in task_cells(w.dataset, w.task) for s in shards_of(*cell)]}
    if EVALUATE["download_weights"]:
        inputs["weights"] = [f"{WEIGHTS_DIR}/{m.filename}" for m in METRIC_WEIGHTS.values()]
    if EVALUATE["reference"] == "train":  # MMD (and FID without fid_statistics) reference images
        inputs["reference"] = f"{DATA}/{w.dataset}/train.zip"
    if EVALUATE["fid_statistics"]:  # FID against the published Inception statistics (mu, sigma)
        inputs["fid_statistics"] = f"{WEIGHTS_DIR}/{download_name(config['datasets'][w.dataset]['fid_reference'])}"
    return inputs


def evaluate_flags(w, input) -> str:
    """``--reference`` / ``--fid-statistics`` for the inputs that exist, and the CRPS estimator."""
    flags = [f"--{key.replace('_', '-')} {shlex.quote(input[key])}" for key in ("reference", "fid_statistics")
             if key in input.keys()]
    return " ".join(flags + [f"--crps-estimator {shlex.quote(EVALUATE['crps_estimator'])}",
                             f"--sample-set {shlex.quote(EVALUATE['sample_set'])}"])


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        per_image=f"{OUT}/metrics/{{dataset}}/{{task}}.per_image.csv",
        summary=summary_path("{dataset}", "{task}"),
    params:
        flags=evaluate_flags,
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/evaluate/{{dataset}}/{{task}}.log",
    shell:
        "eps evaluate --shards {input.shards:q} {params.flags} --weights-dir {WEIGHTS_DIR:q} "
        "--batch-size {EVALUATE[batch_size]} --device {config[device]:q} "
        "--per-image {output.per_image:q} --summary {output.summary:q} > {log:q} 2>&1"
