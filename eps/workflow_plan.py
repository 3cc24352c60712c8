"""What the workflow builds from a config, as plain functions: which networks are trained, from what, under
which names, and which (dataset, task, method, NFE) cells are sampled. The rules (workflow/rules/*.smk) only
turn these into paths and commands; the tests read the same answers (tests/test_workflow_plan.py).

Networks. A ``methods`` entry whose registered method samples with its own network (:data:`TRAINED`: ``eps``,
``palette``) uses the kind's shared network, named after the kind, unless it sets its own ``train`` options or
``continues`` another entry: then it gets its own network, named after the entry. ``continues: <entry>`` carries
that entry's training on to more steps (its finished state is the start). EPS and Palette train one network per
task, ``<stem>_<task>`` (the EPS paper's main tables, App. B), unless the network's options say ``amortized: true``
(one network on every configured task: the paper's D.5 ablation; :func:`per_task`).

Budgets are ``steps`` or ``images`` (``eps train --images``: steps = ceil(images / batch); :func:`budget_steps`);
an entry's own budget replaces the kind's, and ``budget_factor`` scales the kind's (an ablation overlay stays valid at
every scale). ``task_params`` (task -> parameters) overrides the configured tasks' parameters for training only
(the paper's D.9: trained at 70% missing, evaluated at other densities; :func:`training_tasks`). These three
options (:data:`WORKFLOW_OPTIONS`) are read here, not passed to ``eps train`` as such.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Methods that sample with their own trained network -> the `eps train --kind` that produces it.
TRAINED = {"eps": "eps", "palette": "palette"}
# Training options the workflow reads itself (module doc), and the two forms of a budget.
WORKFLOW_OPTIONS = ("amortized", "task_params", "budget_factor")
BUDGETS = ("steps", "images")
BUDGET_KEYS = (*BUDGETS, "budget_factor")


@dataclass(frozen=True)
class Network:
    """A trained network of the plan: its ``eps train`` kind, training options, and the stem it continues."""

    kind: str
    options: dict
    continues: str | None = None


def registered(config: Mapping, label: str) -> str:
    """The registered method a ``methods`` entry runs (its ``method`` key, else its own name)."""
    return config["methods"][label].get("method", label)


def network_options(config: Mapping, label: str) -> dict:
    """The training options of the network a trained ``methods`` entry samples with: the kind's ``train``
    section overridden by the entry's own ``train`` (a budget given there, in steps or images, replaces the kind's;
    ``budget_factor`` scales the kind's)."""
    base, own = dict(config["train"][TRAINED[registered(config, label)]]), config["methods"][label].get("train", {})
    if any(b in own for b in BUDGETS):
        base = {k: v for k, v in base.items() if k not in BUDGETS}
    options = {**base, **own}
    if "budget_factor" in own:
        budget = next(b for b in BUDGETS if b in options)
        options[budget] = max(1, round(options[budget] * own["budget_factor"]))
    return options


def budget_steps(options: Mapping) -> int:
    """The optimizer steps of a training's options: ``steps``, or ``images`` at the global ``batch`` (rounded up, as
    ``eps train --images`` converts them)."""
    from .parsers import TRAIN_DEFAULTS

    if "steps" in options:
        return int(options["steps"])
    return -(-int(options["images"]) // int(options.get("batch", TRAIN_DEFAULTS["batch"])))


def per_task(options: Mapping) -> bool:
    """One network per task (the EPS paper's main tables, App. B), unless ``amortized: true`` (its D.5 ablation)."""
    return not options.get("amortized", False)


def network_stem(config: Mapping, label: str) -> str | None:
    """The network a ``methods`` entry samples with (None: no trained network): the kind's shared one, or its
    own, named after the entry, when it sets ``train`` or ``continues``."""
    kind = TRAINED.get(registered(config, label))
    spec = config["methods"][label]
    return None if kind is None else label if ("train" in spec or "continues" in spec) else kind


def networks(config: Mapping) -> dict[str, Network]:
    """Every trained network but the prior, by stem."""
    plan = {}
    for label, spec in config["methods"].items():
        stem = network_stem(config, label)
        if stem is not None:
            start = network_stem(config, spec["continues"]) if "continues" in spec else None
            plan[stem] = Network(TRAINED[registered(config, label)], network_options(config, label), start)
    return plan


def model_name(config: Mapping, stem: str, task: str) -> str:
    """The file stem of network ``stem`` that samples ``task``: ``<stem>_<task>``, or ``<stem>`` if amortized."""
    return f"{stem}_{task}" if per_task(networks(config)[stem].options) else stem


def models(config: Mapping) -> dict[str, str]:
    """Every network file stem to train -> its network stem."""
    return {model_name(config, stem, task): stem for stem in networks(config) for task in config["tasks"]}


def model_tasks(config: Mapping, model: str) -> list[str]:
    """The tasks the network file ``model`` (a key of :func:`models`) trains on."""
    stem = models(config)[model]
    return [model.removeprefix(f"{stem}_")] if per_task(networks(config)[stem].options) else list(config["tasks"])


def training_tasks(config: Mapping, model: str) -> dict:
    """Task -> operator parameters the network file ``model`` trains on: the configured tasks', overridden by its
    training option ``task_params``."""
    own = networks(config)[models(config)[model]].options.get("task_params", {})
    return {t: {**config["tasks"][t], **own.get(t, {})} for t in model_tasks(config, model)}


def training_options(config: Mapping, stem: str) -> dict:
    """The ``eps train`` options of network ``stem`` (``prior`` or a key of :func:`networks`)."""
    return config["train"]["prior"] if stem == "prior" else networks(config)[stem].options


def training_identity(config: Mapping, model: str) -> dict:
    """Everything that shapes network file ``model`` (``prior`` or a key of :func:`models`): its training options,
    and for the conditional kinds the tasks it trains on with their parameters and sigma_y (the key of its
    resumable state: a change starts a new state; evaluation-only task changes do not)."""
    if model == "prior":
        return {"train": training_options(config, "prior"), "tasks": {}, "sigma_y": None}
    return {"train": training_options(config, models(config)[model]), "tasks": training_tasks(config, model),
            "sigma_y": config["sample"]["sigma_y"]}


def series(config: Mapping, label: str) -> str:
    """The entry a trained entry's training run started as (following ``continues`` back to its root)."""
    while "continues" in config["methods"][label]:
        label = config["methods"][label]["continues"]
    return label


def curve_point(config: Mapping, label: str) -> str:
    """``LABEL=SERIES:STEPS`` (``eps report --networks``): a learning-curve point of a trained entry."""
    return f"{label}={series(config, label)}:{budget_steps(network_options(config, label))}"


def download_name(entry: Mapping) -> str:
    """The file name under weights_dir of a published file (``file``, else the last part of its ``url``)."""
    return entry.get("file") or entry["url"].rstrip("/").rsplit("/", 1)[-1]


def training_images(config: Mapping) -> dict[tuple[str, str], int]:
    """``(dataset, network file stem) -> images seen in training`` (steps x batch; a network that ``continues``
    another trains only its extra steps) of every network the config trains, the prior where no published
    checkpoint is named."""
    from .parsers import TRAIN_DEFAULTS

    def images(options: Mapping, start_steps: int = 0) -> int:
        return (budget_steps(options) - start_steps) * options.get("batch", TRAIN_DEFAULTS["batch"])

    nets = networks(config)
    out = {}
    for dataset, ds in config["datasets"].items():
        if "checkpoint" not in ds:
            out[(dataset, "prior")] = images(config["train"]["prior"])
        for model, stem in models(config).items():
            start = nets[stem].continues
            out[(dataset, model)] = images(nets[stem].options, budget_steps(nets[start].options) if start else 0)
    return out


def training_estimate(config: Mapping) -> str | None:
    """One line: the training GPU-hours of the plan at the config's stated throughput
    (``train.images_per_gpu_second``, per dataset), or None when the config states none."""
    rates = config["train"].get("images_per_gpu_second")
    if not rates:
        return None
    per_net = training_images(config)
    hours = {key: n / rates[key[0]] / 3600 for key, n in per_net.items() if key[0] in rates}
    unrated = sorted({d for d, _ in per_net} - set(rates))
    return (f"training estimate (not measured): {len(hours)} networks, {sum(hours.values()):,.0f} GPU-hours at "
            + ", ".join(f"{d} {rates[d]:g} images/GPU-s" for d in rates)
            + (f"; no throughput stated for {', '.join(unrated)}" if unrated else ""))


def cells(config: Mapping) -> list[tuple[str, str, str, int]]:
    """Every (dataset, task, method, NFE) cell of the results table."""
    return [(d, t, m, n) for d in config["datasets"] for t in config["tasks"]
            for m, spec in config["methods"].items() for n in spec["nfe"]]


__all__ = ["TRAINED", "WORKFLOW_OPTIONS", "BUDGETS", "BUDGET_KEYS", "Network", "registered", "network_options",
           "budget_steps", "per_task", "network_stem", "networks", "model_name", "models", "model_tasks",
           "training_tasks", "training_options", "training_identity", "series", "curve_point", "download_name", "training_images", "training_estimate", "cells"]
