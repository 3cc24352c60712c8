"""Train stage: the unconditional prior (unless published), then the EPS and Palette fine-tunes from it.

One EPS and one Palette network per dataset and task (the EPS paper's main tables, App. B: ``PER_TASK``), each
trained on operator draws of its task with the configured task parameters (``eps train --tasks --task-params``,
the parameters ``eps sample`` uses); ``amortized: true`` in a network's training options trains one network on every
configured task instead (the paper's D.5 ablation). Budgets are given in ``steps`` or ``images`` (``eps train
--images``: steps = ceil(images / batch)), as are the lr warm-up and the EMA half-life. A ``methods`` entry with its own ``train`` options (e.g. another conditioning)
samples with its own network, named by the entry (``NETWORKS``); with ``continues: <entry>`` that network is the
named entry's training run carried on to more steps (its training state copied and resumed: resumption equals an
uninterrupted run, so the networks of a learning curve are snapshots of one fine-tune).
``eps train`` resumes from its state file, which lives next to the output under a name keyed by the hash of
the training config (:func:`state_file`) and is moved into place only when training finishes: an interrupted
run resumes, no partial output survives, and a changed config never resumes or keeps a model that is not the
configured one. With train.gpus > 1 the command is launched through torchrun (one process per GPU).
"""

GPUS = config["train"]["gpus"]
TRAIN = f"torchrun --standalone --nproc_per_node={GPUS} -m eps.training.cli" if GPUS > 1 else "eps train"


def training_options(stem: str) -> dict:
    """The ``eps train`` options of network ``stem`` (``prior`` or a key of ``NETWORKS``)."""
    return config["train"]["prior"] if stem == "prior" else NETWORKS[stem][1]


def train_flags(stem: str) -> str:
    """The training options of network ``stem`` as ``eps train`` flags (lists comma-separated; the options the
    workflow reads itself, e.g. ``amortized``, are not passed)."""
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(','.join(map(str, v)) if isinstance(v, list) else str(v))}"
                    for k, v in training_options(stem).items() if k not in WORKFLOW_OPTIONS) + f" --threads {config['threads']}"


def continued_model(w) -> dict:
    """``{"start": file}``: the finished training state network ``w.model`` continues, if it continues one."""
    stem = MODELS[w.model]
    start = NETWORKS[stem][2]
    return {"start": model_file(start, w.dataset, model_tasks(w.model)[0])} if start else {}


def training_tasks(model: str) -> dict:
    """Task -> operator parameters network file ``model`` (a key of ``MODELS``) trains on: the configured tasks',
    overridden by its training option ``task_params`` (e.g. the EPS paper's D.9: trained at 70% missing, evaluated
    at other densities)."""
    own = training_options(MODELS[model]).get("task_params", {})
    return {t: {**config["tasks"][t], **own.get(t, {})} for t in model_tasks(model)}


def state_file(output: str, stem: str, tasks: dict | None = None) -> str:
    """The resumable state of ``output``, keyed by the hash of everything that shapes the network (this kind's
    training options, the tasks and their parameters it trains on, sigma_y): an interrupted run resumes from it, a
    changed config (fewer steps, another lr, ...) starts a new state instead of resuming or keeping a model that is
    not the configured one. The finished state is moved to ``output`` (a rename: atomic), so a later re-run of the
    rule always trains afresh; states of abandoned configs may be deleted."""
    key = config_hash({"train": training_options(stem), "tasks": tasks or {},
                       "sigma_y": SAMPLE["sigma_y"] if stem != "prior" else None})[:12]
    return f"{output}.{key}.state"


rule train_prior:
    input:
        data=f"{DATA}/{{dataset}}/train.zip",
    output:
        f"{OUT}/models/{{dataset}}/prior.pt",
    params:
        flags=train_flags("prior"),
        state=lambda w, output: state_file(output[0], "prior"),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/prior.log",
    shell:
        "{TRAIN} --kind prior --data {input.data:q} {params.flags} --out {params.state:q} 2>&1 | tee {log:q} "
        "&& mv {params.state:q} {output:q}"


rule train_conditional:
    """EPS or Palette, fine-tuned from the prior (zero-initialised conditioning: step 0 is the prior), or carried on
    from the finished state of the network it continues (copied to the state file, which ``eps train`` resumes)."""
    input:
        unpack(continued_model),
        data=f"{DATA}/{{dataset}}/train.zip",
        init=lambda w: prior_checkpoint(w.dataset),
    output:
        f"{OUT}/models/{{dataset}}/{{model}}.pt",
    params:
        kind=lambda w: NETWORKS[MODELS[w.model]][0],
        flags=lambda w: train_flags(MODELS[w.model]),
        start=lambda w, input: input.start if "start" in input.keys() else "",
        tasks=lambda w: ",".join(model_tasks(w.model)),
        task_params=lambda w: as_json(training_tasks(w.model)),
        labels=lambda w: class_labels(w.dataset),  # both fine-tuned from the backbone: its class inputs
        state=lambda w, output: state_file(output[0], MODELS[w.model], training_tasks(w.model)),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/{{model}}.log",
    shell:
        "if [ -n {params.start:q} ] && [ ! -e {params.state:q} ]; then cp {params.start:q} {params.state:q}; fi; "
        "{TRAIN} --kind {params.kind} --data {input.data:q} --init {input.init:q} --tasks {params.tasks:q} "
        "--task-params {params.task_params} --sigma-y {SAMPLE[sigma_y]} --class-labels {params.labels:q} {params.flags} "
        "--out {params.state:q} 2>&1 | tee {log:q} && mv {params.state:q} {output:q}"
