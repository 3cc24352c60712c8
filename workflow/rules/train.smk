"""Train stage: the unconditional prior (unless published), then the EPS and Palette fine-tunes from it.

One EPS network per dataset, trained on operator draws of every configured task, and one Palette network per
dataset and task (``PER_TASK``), both with the configured task parameters (``eps train --tasks --task-params``,
the parameters ``eps sample`` uses). ``eps train`` resumes from its state file, which lives next to the output and
is copied into place only when training finishes, so an interrupted run resumes and no partial output
survives. With train.gpus > 1 the command is launched through torchrun (one process per GPU).
"""

GPUS = config["train"]["gpus"]
TRAIN = f"torchrun --standalone --nproc_per_node={GPUS} -m eps.training.cli" if GPUS > 1 else "eps train"


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
    """EPS or Palette, fine-tuned from the prior (zero-initialised conditioning: step 0 is the prior)."""
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
        init=lambda w: prior_checkpoint(w.dataset),
    output:
        f"{OUT}/models/{{dataset}}/{{model}}.pt",
    params:
        kind=lambda w: w.model.partition("_")[0],
        flags=lambda w: train_flags(w.model.partition("_")[0]),
        tasks=lambda w: ",".join(model_tasks(w.model)),
        task_params=lambda w: as_json({t: config["tasks"][t] for t in model_tasks(w.model)}),
        labels=lambda w: class_labels(w.dataset),  # both fine-tuned from the backbone: its class inputs
        finish=lambda w, output: finish(output[0]),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/{{model}}.log",
    shell:
        "{TRAIN} --kind {params.kind} --data {input.data} --init {input.init} --tasks {params.tasks} "
        "--task-params {params.task_params} --sigma-y {SAMPLE[sigma_y]} --class-labels {params.labels} {params.flags} "
        "--out {output}.state > {log} 2>&1 "
        "&& {params.finish}"
