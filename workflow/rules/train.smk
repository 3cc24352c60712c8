"""Train stage: the unconditional prior (unless published), then the EPS fine-tune and Palette.

One EPS and one Palette network per dataset, trained on operator draws of every configured task with
the configured task parameters (``eps train --tasks --task-params``, the parameters ``eps sample`` uses). ``eps train`` resumes from its state file, which lives next to the output and
is copied into place only when training finishes, so an interrupted run resumes and no partial output
survives. With train.gpus > 1 the command is launched through torchrun (one process per GPU).
"""

GPUS = config["train"]["gpus"]
TRAIN = f"torchrun --standalone --nproc_per_node={GPUS} -m eps.training.cli" if GPUS > 1 else "eps train"
TASK_LIST = ",".join(config["tasks"])
TASK_PARAMS = as_json(config["tasks"])


def train_flags(kind: str) -> str:
    """The config's training options as ``eps train`` flags (lists comma-separated)."""
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(','.join(map(str, v)) if isinstance(v, list) else str(v))}"
                    for k, v in config["train"][kind].items()) + f" --threads {config['threads']}"


def finish(output: str) -> str:
    """Shell tail: copy the finished state file to the output atomically."""
    return f"cp {output}.state {output}.tmp && mv {output}.tmp {output}"


rule train_prior:
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
    output:
        f"{OUT}/models/{{dataset}}/prior.pt",
    params:
        flags=train_flags("prior"),
        finish=lambda w, output: finish(output[0]),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/prior.log",
    shell:
        "{TRAIN} --kind prior --data {input.data} {params.flags} --out {output}.state > {log} 2>&1 "
        "&& {params.finish}"


rule train_conditional:
    """EPS (fine-tuned from the prior, zero-initialised conditioning) or Palette (from scratch)."""
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
        init=lambda w: [prior_checkpoint(w.dataset)] if w.kind == "eps" else [],
    output:
        f"{OUT}/models/{{dataset}}/{{kind}}.pt",
    params:
        flags=lambda w: train_flags(w.kind),
        init=lambda w, input: f"--init {input.init}" if input.init else "",
        labels=lambda w: class_labels(w.dataset) if w.kind == "eps" else "none",  # Palette: DDPM++ from scratch
        finish=lambda w, output: finish(output[0]),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/{{kind}}.log",
    shell:
        "{TRAIN} --kind {wildcards.kind} --data {input.data} {params.init} --tasks {TASK_LIST} --task-params {TASK_PARAMS} "
        "--sigma-y {SAMPLE[sigma_y]} --class-labels {params.labels} {params.flags} --out {output}.state > {log} 2>&1 "
        "&& {params.finish}"
