"""Checks of a workflow config that its JSON schema cannot state, run by the Snakefile before any job starts.

    check_config(config)   # one ValueError naming the key and the problem, or None

* every number is finite (YAML ``.nan`` / ``.inf`` pass ``minimum: 0``: NaN compares false to everything);
* every method's ``options`` are known and of the type of their default (``get_method(name, **options)``);
* every task fits every dataset's resolution (e.g. ``sr4.factor`` must divide it) and the exact-posterior
  benchmark's ``gmm.shape`` (which must also fit in memory);
* a ``methods`` entry's own ``train`` options and ``continues`` belong to a method with a trained network, and
  ``continues`` names an entry of the same kind whose training differs only by a smaller budget (``steps`` or
  ``images``);
* ``num_test`` of an embedded dataset is at most its number of test patches (a folder dataset is counted
  when its zip is read, by ``eps sample``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

from .gmm_bench import check_problem
from .methods import available_methods, get_method
from .operators import make_operator
from .rng import generator

# Methods that sample with their own trained network -> the `eps train` kind that produces it (the workflow's
# training rules follow this table).
TRAINED = {"eps": "eps", "palette": "palette"}
# Training options the workflow reads itself (not passed to `eps train` as such): ``amortized: true`` trains one
# network on every configured task (the EPS paper's D.5 ablation) instead of one per task (its main tables, App. B);
# ``task_params`` (task -> parameters) overrides the configured tasks' parameters for training only (D.9);
# ``budget_factor`` scales the kind's budget (an ablation overlay stays valid at every scale, e.g. D.5's 55k-step
# amortized network = 2.2 x the 25k-step per-task budget).
WORKFLOW_OPTIONS = ("amortized", "task_params", "budget_factor")
BUDGETS = ("steps", "images")  # a training budget is one of these (eps train --steps / --images)
BUDGET_KEYS = (*BUDGETS, "budget_factor")


def non_finite(value, path: str = "config") -> list[str]:
    """Keys (``a.b[2]``) of every NaN or infinite number in a nested config."""
    if isinstance(value, float) and not math.isfinite(value):
        return [path]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in non_finite(v, f"{path}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in non_finite(v, f"{path}[{i}]")]
    return []


def embedded_test_count(resolution: int) -> int:
    """Number of test patches ``eps prepare-data --source embedded`` writes at ``resolution`` (from the
    pictures' sizes, without cutting them)."""
    from .data.embedded import SCALES, TEST_PICTURES, load_picture

    sizes = [load_picture(name).shape[:2] for name in TEST_PICTURES]
    return sum((H // s // resolution) * (W // s // resolution) for H, W in sizes for s in SCALES)


def network_options(config: Mapping, label: str) -> dict:
    """The training options of the network a trained ``methods`` entry samples with: ``train.<kind>`` overridden by
    the entry's own ``train`` (a budget given there, in steps or images, replaces the kind's)."""
    spec = config["methods"][label]
    base, own = dict(config["train"][TRAINED[spec.get("method", label)]]), spec.get("train", {})
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
    from .training.trainer import TrainConfig

    if "steps" in options:
        return int(options["steps"])
    return -(-int(options["images"]) // int(options.get("batch", TrainConfig.batch)))


def per_task(options: Mapping) -> bool:
    """One network per task (the EPS paper's main tables, App. B), unless ``amortized: true`` (its D.5 ablation)."""
    return not options.get("amortized", False)


def check_budget(options: Mapping, where: str) -> None:
    given = [b for b in BUDGETS if b in options]
    if len(given) != 1:
        raise ValueError(f"config: {where}: give a training budget as exactly one of steps or images, got "
                         f"{', '.join(given) or 'neither'}")


def check_networks(config: Mapping) -> None:
    """``train`` / ``continues`` of ``methods`` entries (module docstring)."""
    methods = config["methods"]
    for kind in ("prior", *TRAINED.values()):
        check_budget(config["train"][kind], f"train.{kind}")
    for name, spec in methods.items():
        kind = TRAINED.get(spec.get("method", name))
        own = [k for k in ("train", "continues") if k in spec]
        if own and kind is None:
            raise ValueError(f"config: methods.{name}.{own[0]}: {spec.get('method', name)} has no trained network "
                             f"(only {', '.join(TRAINED)})")
        if "continues" not in spec:
            continue
        start = spec["continues"]
        if start not in methods or TRAINED.get(methods[start].get("method", start)) != kind or start == name:
            raise ValueError(f"config: methods.{name}.continues: {start!r} is not another methods entry with a "
                             f"network of kind {kind!r}")
        mine, theirs = network_options(config, name), network_options(config, start)
        differ = sorted(k for k in {*mine, *theirs} - set(BUDGET_KEYS) if mine.get(k) != theirs.get(k))
        before, after = budget_steps(theirs), budget_steps(mine)
        if differ or before >= after:
            raise ValueError(f"config: methods.{name}.continues {start!r}: a continued training changes only its "
                             f"budget, to more steps ({before} -> {after}"
                             + (f"; differ: {', '.join(differ)})" if differ else ")"))


def check_config(config: Mapping) -> None:
    """Raise one ``ValueError`` (``config: ...``) for the first problem found; see the module docstring."""
    bad = non_finite(config)
    if bad:
        raise ValueError(f"config: {', '.join(bad)} must be a finite number (got NaN or infinity)")
    check_networks(config)
    for name, spec in config["methods"].items():
        if name not in available_methods():  # named by the workflow's own check of method names
            continue
        try:
            get_method(name, **spec.get("options", {}))
        except ValueError as err:
            raise ValueError(f"config: methods.{name}.options: {err}") from None
    for dataset, ds in config["datasets"].items():
        r = ds["resolution"]
        for task, params in config["tasks"].items():
            try:
                make_operator(task, (3, r, r), 1, generator(0), **params)
            except ValueError as err:
                raise ValueError(f"config: tasks.{task} {params} does not fit datasets.{dataset} (resolution {r}): "
                                 f"{err}") from None
        if ds["source"] == "embedded" and ds["num_test"] > (count := embedded_test_count(r)):
            raise ValueError(f"config: datasets.{dataset}.num_test is {ds['num_test']}, but the embedded test set "
                             f"at resolution {r} holds {count} images")
    gmm = config["gmm"]
    try:
        check_problem(tuple(gmm["shape"]), list(gmm["tasks"]))
    except ValueError as err:
        raise ValueError(f"config: gmm.shape: {err}") from None


__all__ = ["TRAINED", "WORKFLOW_OPTIONS", "BUDGETS", "budget_steps", "per_task", "check_budget", "check_config",
           "check_networks", "network_options", "non_finite", "embedded_test_count"]
