"""What the workflow builds from a config, as plain functions: which networks are trained, from what, under
which names, and which (dataset, task, method, NFE) cells are sampled. The rules (workflow/rules/*.smk) only
turn these into paths and commands; the tests read the same answers (tests/test_workflow_plan.py).

Networks. A ``methods`` entry whose registered method samples with its own network (:data:`TRAINED`: ``eps``,
``palette``) uses the kind's shared network, named after the kind, unless it sets its own ``train`` options or
``continues`` another entry: then it gets its own network, named after the entry. ``continues: <entry>`` carries
that entry's training on to more steps (its finished state is the start). A per-task kind (:data:`PER_TASK`:
Palette is a per-task model, Saharia et al. 2022) trains one network per task, ``<stem>_<task>``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# Methods that sample with their own trained network -> the `eps train --kind` that produces it.
TRAINED = {"eps": "eps", "palette": "palette"}
# Kinds trained once per task rather than on every task at once.
PER_TASK = {"palette"}


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
    section overridden by the entry's own ``train``."""
    spec = config["methods"][label]
    return {**config["train"][TRAINED[registered(config, label)]], **spec.get("train", {})}


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
    """The file stem of network ``stem`` that samples ``task``: ``<stem>`` or, per-task kind, ``<stem>_<task>``."""
    return f"{stem}_{task}" if networks(config)[stem].kind in PER_TASK else stem


def models(config: Mapping) -> dict[str, str]:
    """Every network file stem to train -> its network stem."""
    return {model_name(config, stem, task): stem for stem in networks(config) for task in config["tasks"]}


def model_tasks(config: Mapping, model: str) -> list[str]:
    """The tasks the network file ``model`` (a key of :func:`models`) trains on."""
    stem = models(config)[model]
    return [model.removeprefix(f"{stem}_")] if networks(config)[stem].kind in PER_TASK else list(config["tasks"])


def training_options(config: Mapping, stem: str) -> dict:
    """The ``eps train`` options of network ``stem`` (``prior`` or a key of :func:`networks`)."""
    return config["train"]["prior"] if stem == "prior" else networks(config)[stem].options


def training_identity(config: Mapping, stem: str) -> dict:
    """Everything that shapes network ``stem``: its training options, and for the conditional kinds the tasks
    with their parameters and sigma_y (the key of its resumable state: a change starts a new state)."""
    conditional = stem != "prior"
    return {"train": training_options(config, stem), "tasks": config["tasks"] if conditional else {},
            "sigma_y": config["sample"]["sigma_y"] if conditional else None}


def series(config: Mapping, label: str) -> str:
    """The entry a trained entry's training run started as (following ``continues`` back to its root)."""
    while "continues" in config["methods"][label]:
        label = config["methods"][label]["continues"]
    return label


def curve_point(config: Mapping, label: str) -> str:
    """``LABEL=SERIES:STEPS`` (``eps report --networks``): a learning-curve point of a trained entry."""
    return f"{label}={series(config, label)}:{network_options(config, label)['steps']}"


def download_name(entry: Mapping) -> str:
    """The file name under weights_dir of a published file (``file``, else the last part of its ``url``)."""
    return entry.get("file") or entry["url"].rstrip("/").rsplit("/", 1)[-1]


def training_images(config: Mapping) -> dict[tuple[str, str], int]:
    """``(dataset, network file stem) -> images seen in training`` (steps x batch; a network that ``continues``
    another trains only its extra steps) of every network the config trains, the prior where no published
    checkpoint is named."""
    from .parsers import TRAIN_DEFAULTS

    def images(options: Mapping, start_steps: int = 0) -> int:
        return (options["steps"] - start_steps) * options.get("batch", TRAIN_DEFAULTS["batch"])

    nets = networks(config)
    out = {}
    for dataset, ds in config["datasets"].items():
        if "checkpoint" not in ds:
            out[(dataset, "prior")] = images(config["train"]["prior"])
        for model, stem in models(config).items():
            start = nets[stem].continues
            out[(dataset, model)] = images(nets[stem].options, nets[start].options["steps"] if start else 0)
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


__all__ = ["TRAINED", "PER_TASK", "Network", "registered", "network_options", "network_stem", "networks", "model_name",
           "models", "model_tasks", "training_options", "training_identity", "series", "curve_point", "download_name", "training_images", "training_estimate", "cells"]
