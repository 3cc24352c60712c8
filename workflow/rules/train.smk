"""Train stage: the unconditional prior (unless published), then per task the EPS fine-tune and Palette.

With train.gpus > 1 the command is launched through torchrun (one process per GPU, DDP inside `eps train`).
"""

GPUS = config["train"]["gpus"]
TRAIN = f"torchrun --standalone --nproc_per_node={GPUS} -m eps.cli train" if GPUS > 1 else "eps train"


def train_flags(kind: str) -> str:
    spec = config["train"][kind]
    flags = {"--steps": spec["steps"], "--batch-size": spec.get("batch_size"), "--lr": spec.get("lr")}
    return " ".join(f"{k} {v}" for k, v in flags.items() if v is not None) + f" --device {config['device']}"


rule train_prior:
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
    output:
        f"{OUT}/models/{{dataset}}/prior.pt",
    params:
        flags=train_flags("prior"),
    resources:
        gpu=GPUS,
    log:
        f"{OUT}/logs/train/{{dataset}}/prior.log",
    shell:
        "{TRAIN} --kind prior --data {input.data} {params.flags} --out {output} > {log} 2>&1"


rule train_conditional:
    """EPS (fine-tuned from the prior, zero-initialised conditioning) or Palette, for one task."""
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
        init=lambda w: prior_checkpoint(w.dataset),
    output:
        f"{OUT}/models/{{dataset}}/{{kind}}-{{task}}.pt",
    params:
        flags=lambda w: train_flags(w.kind),
        task=lambda w: as_json(config["tasks"][w.task]),
    resources:
        gpu=GPUS,
    log:
        f"{OUT}/logs/train/{{dataset}}/{{kind}}-{{task}}.log",
    shell:
        "{TRAIN} --kind {wildcards.kind} --data {input.data} --init {input.init} --task {wildcards.task} "
        "--task-params {params.task} --sigma-y {SAMPLE[sigma_y]} {params.flags} --out {output} > {log} 2>&1"
