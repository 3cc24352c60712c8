"""Checks of a workflow config that its JSON schema cannot state, run by the Snakefile before any job starts.

    check_config(config)   # one ValueError naming the key and the problem, or None

* every number is finite (YAML ``.nan`` / ``.inf`` pass ``minimum: 0``: NaN compares false to everything);
* every method's ``options`` are known and of the type of their default (``get_method(name, **options)``);
* every task fits every dataset's resolution (e.g. ``sr4.factor`` must divide it) and the exact-posterior
  benchmark's ``gmm.shape`` (which must also fit in memory);
* a ``methods`` entry's own ``train`` options and ``continues`` belong to a method with a trained network, and
  ``continues`` names an entry of the same kind whose training differs only by fewer ``steps``;
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
from .workflow_plan import TRAINED, network_options

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


def check_networks(config: Mapping) -> None:
    """``train`` / ``continues`` of ``methods`` entries (module docstring)."""
    methods = config["methods"]
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
        differ = sorted(k for k in {*mine, *theirs} - {"steps"} if mine.get(k) != theirs.get(k))
        if differ or theirs["steps"] >= mine["steps"]:
            raise ValueError(f"config: methods.{name}.continues {start!r}: a continued training changes only steps, "
                             f"to more ({theirs['steps']} -> {mine['steps']}"
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


__all__ = ["check_config", "check_networks", "non_finite", "embedded_test_count"]
