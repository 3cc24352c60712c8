"""Evaluate stage: one job per results-table cell (dataset, task, method, NFE) over all its seeds and shards."""

EVALUATE = config["evaluate"]


def evaluate_inputs(w):
    inputs = {"shards": shards_of(w.dataset, w.task, w.method, w.nfe)}
    if EVALUATE["download_weights"]:
        inputs["weights"] = [f"{WEIGHTS_DIR}/{m.filename}" for m in METRIC_WEIGHTS.values()]
    if EVALUATE["reference"] == "train":
        inputs["reference"] = f"{DATA}/{w.dataset}/train.zip"
    elif EVALUATE["reference"] == "published":  # FID statistics (mu, sigma): FID only, MMD reported missing
        inputs["reference"] = f"{WEIGHTS_DIR}/{download_name(config['datasets'][w.dataset]['fid_reference'])}"
    return inputs


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        per_image=f"{OUT}/metrics/{{dataset}}/{{task}}/{{method}}-nfe{{nfe}}.per_image.csv",
        summary=summary_path("{dataset}", "{task}", "{method}", "{nfe}"),
    params:
        reference=lambda w, input: f"--reference {input.reference}" if "reference" in input.keys() else "",
    resources:
        gpu=1 if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/evaluate/{{dataset}}/{{task}}/{{method}}-nfe{{nfe}}.log",
    shell:
        "eps evaluate --shards {input.shards} {params.reference} --weights-dir {WEIGHTS_DIR} "
        "--batch-size {EVALUATE[batch_size]} --device {config[device]} "
        "--per-image {output.per_image} --summary {output.summary} > {log} 2>&1"
