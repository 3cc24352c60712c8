"""Train stage: the unconditional prior (unless published), then the EPS and Palette fine-tunes from it.

One EPS and one Palette network per dataset and task (the EPS paper's main tables, App. B), each trained on operator
draws of its task with the configured task parameters (``eps train --tasks --task-params``, the parameters ``eps
sample`` uses; a network's ``task_params`` option overrides them for training only); ``amortized: true`` trains one
network on every configured task instead (the paper's D.5 ablation). Budgets are ``steps`` or ``images``, as are
the lr warm-up and the EMA half-life (``eps.workflow_plan``). A ``methods`` entry with its own ``train`` options (e.g. another conditioning)
samples with its own network, named by the entry (``eps.workflow_plan.networks``); with ``continues: <entry>`` that network is the
named entry's training run carried on to more steps (its training state copied and resumed: resumption equals an
uninterrupted run, so the networks of a learning curve are snapshots of one fine-tune).
``eps train`` resumes from its state file, which lives next to the output under a name keyed by the hash of
the training config (:func:`state_file`) and is moved into place only when training finishes: an interrupted
run resumes, no partial output survives, and a changed config never resumes or keeps a model that is not the
configured one. With train.gpus > 1 the command is launched through torchrun (one process per GPU).
"""

GPUS = config["train"]["gpus"]
TRAIN = f"torchrun --standalone --nproc_per_node={GPUS} -m eps.training.cli" if GPUS > 1 else "eps train"


def train_flags(stem: str) -> str:
    """The training options of network ``stem`` as ``eps train`` flags (lists comma-separated; the options the
    workflow reads itself, ``plan.WORKFLOW_OPTIONS``, are not passed)."""
    return " ".join(f"--{k.replace('_', '-')} {shlex.quote(','.join(map(str, v)) if isinstance(v, list) else str(v))}"
                    for k, v in plan.training_options(config, stem).items() if k not in plan.WORKFLOW_OPTIONS) \
        + f" --threads {config['threads']}"


def continued_model(w) -> dict:
    """``{"start": file}``: the finished training state network ``w.model`` continues, if it continues one."""
    start = NETWORKS[MODELS[w.model]].continues
    return {"start": model_file(start, w.dataset, plan.model_tasks(config, w.model)[0])} if start else {}


def state_file(output: str, model: str) -> str:
    """The resumable state of ``output`` (network file ``model``, or ``prior``), keyed by the hash of everything that
    shapes the network (its training options, the tasks it trains on and their parameters, sigma_y:
    ``plan.training_identity``): an interrupted run resumes from it, a changed
    config (fewer steps, another lr, ...) starts a new state instead of resuming or keeping a model that is not
    the configured one. The finished state is moved to ``output`` (a rename: atomic), so a later re-run of the
    rule always trains afresh; states of abandoned configs may be deleted."""
    key = config_hash(plan.training_identity(config, model))[:12]
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
        "{TRAIN} --kind prior --data {input.data:q} {params.flags} --out {params.state:q} 2>&1 | tee {log:q}; "
        "mv {params.state:q} {output:q}"


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
        kind=lambda w: NETWORKS[MODELS[w.model]].kind,
        flags=lambda w: train_flags(MODELS[w.model]),
        start=lambda w, input: shlex.quote(input.start if "start" in input.keys() else ""),  # '' when none
        tasks=lambda w: ",".join(plan.model_tasks(config, w.model)),
        task_params=lambda w: as_json(plan.training_tasks(config, w.model)),
        labels=lambda w: class_labels(w.dataset),  # both fine-tuned from the backbone: its class inputs
        state=lambda w, output: state_file(output[0], w.model),
    resources:
        gpu=GPUS if config["device"] == "cuda" else 0,
    log:
        f"{OUT}/logs/train/{{dataset}}/{{model}}.log",
    shell:
        "if [ -n {params.start} ] && [ ! -e {params.state:q} ]; then cp {params.start} {params.state:q}; fi; "
        "{TRAIN} --kind {params.kind} --data {input.data:q} --init {input.init:q} --tasks {params.tasks:q} "
        "--task-params {params.task_params} --sigma-y {SAMPLE[sigma_y]} --class-labels {params.labels:q} {params.flags} "
        "--out {params.state:q} 2>&1 | tee {log:q}; mv {params.state:q} {output:q}"
