"""Checks of a workflow config, run by the Snakefile before any job starts: every problem is ONE line naming the
key path, the valid keys or values and, for a misspelt name, the closest valid one.

    check_config(config)   # one ValueError ``config: <key path>: ...``, or None; fills in the schema's defaults

* the JSON schema (config/schema.yaml, its task/solver/... names filled in from eps/names.py), its errors
  reduced to one line (:func:`schema_error`), its defaults set;
* the ``protocol`` (eps.protocols.apply_protocol) fills in what the config leaves out: every task's parameters
  (the protocol's family with the config's entries on top) and ``evaluate.crps_estimator`` / ``sample_set``;
* every method named (``methods`` entries, ``gmm.methods``, ``frontier.methods``) is registered;
* every number is finite (YAML ``.nan`` / ``.inf`` pass ``minimum: 0``: NaN compares false to everything);
* every method's ``options`` are known and of the type of their default (``get_method(name, **options)``);
* every task fits every dataset's resolution (e.g. ``sr4.factor`` must divide it) and the exact-posterior
  benchmark's ``gmm.shape`` (which must also fit in memory);
* every training section gives its budget as exactly one of ``steps`` or ``images``;
* a ``methods`` entry's own ``train`` options and ``continues`` belong to a method with a trained network, and
  ``continues`` names an entry of the same kind whose training differs only by a smaller budget;
* dataset names are plain words (``DATASET_NAME``: they name folders and a workflow wildcard);
* ``num_test`` of an embedded dataset is at most its number of test patches (a folder dataset is counted
  when its zip is read, by ``eps sample``);
* the paper run's published files: checkpoints are EDM pickles, converting one needs ``edm_source`` and, when
  its ``sha256`` is ``unknown``, ``allow_unverified_pickle: true`` (refused here, not after the downloads);
  ``evaluate.fid_statistics`` needs every dataset's ``fid_reference``; the fair CRPS needs K >= 2.
"""
from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from pathlib import Path

from .args import unknown
from .names import CONDITIONINGS, CRPS_ESTIMATORS, INTERPOLANTS, PALETTE_CONDITIONINGS, PRECONDS, SOLVERS, TASKS
from .workflow_plan import BUDGET_KEYS, BUDGETS, TRAINED, budget_steps, download_name, network_options

# A dataset name names folders and the workflow's {dataset} wildcard (workflow/rules/common.smk).
DATASET_NAME = "[A-Za-z0-9_-]+"
SCHEMA = Path(__file__).resolve().parent.parent / "config" / "schema.yaml"
# The schema's $defs whose enum is the code's list of names.
NAMES = {"task": TASKS, "solver": SOLVERS, "interpolant": INTERPOLANTS,
         "conditioning": tuple(dict.fromkeys([*CONDITIONINGS, *PALETTE_CONDITIONINGS])),
         "precond": PRECONDS, "crps_estimator": CRPS_ESTIMATORS}


def load_schema(path: str | Path = SCHEMA) -> dict:
    """config/schema.yaml with the enums of :data:`NAMES` filled in from the code."""
    import yaml

    schema = yaml.safe_load(Path(path).read_text())
    for name, values in NAMES.items():
        schema["$defs"][name]["enum"] = list(values)
    return schema


def key_path(parts) -> str:
    """``methods.dps.nfe[0]`` from a JSON-schema error path."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def schema_error(error) -> str:
    """One line for a ``jsonschema`` error: the key path, what is wrong, the valid keys/values, a did-you-mean."""
    where, instance, schema = key_path(error.absolute_path), error.instance, error.schema
    if error.validator == "additionalProperties" and isinstance(instance, Mapping):
        valid = list(schema.get("properties", {}))
        extra = next(k for k in instance if k not in valid)
        at = f"{where}.{extra}" if where else str(extra)
        hint = ""
        if len(error.absolute_path) == 2 and error.absolute_path[0] == "methods":
            hint = f"; method options go under {where}.options (e.g. {where}: {{options: {{{extra}: ...}}}})"
        return f"config: {at}: " + unknown("key", extra, valid, f"valid keys {'under ' + where if where else 'at the top level'}") + hint
    if error.validator == "enum":
        return f"config: {where}: " + unknown("value", instance, error.validator_value)
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in instance]
        return f"config: {where or 'top level'}: missing required key(s) {', '.join(missing)}"
    message = " ".join(error.message.split())
    if len(message) > 160:  # messages that quote a whole sub-config
        message = f"fails {error.validator}: {error.validator_value!r}"[:160]
    return f"config: {where or 'top level'}: {message}"


def check_schema(config: dict, schema: dict | None = None) -> None:
    """Validate ``config`` against the schema (one ``ValueError`` line, see :func:`schema_error`) and fill in
    its defaults."""
    import jsonschema

    schema = schema or load_schema()
    base = jsonschema.validators.validator_for(schema)
    validate_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, subschema):
        if isinstance(instance, dict):
            for key, sub in properties.items():
                if isinstance(sub, Mapping) and "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, subschema)

    validator = jsonschema.validators.extend(base, {"properties": properties_with_defaults})(schema)
    errors = list(validator.iter_errors(config))
    if errors:  # the most specific: a misspelt key before the required key it misses, deeper before shallower
        rank = {"additionalProperties": 0, "enum": 1, "required": 3}
        raise ValueError(schema_error(min(errors, key=lambda e: (rank.get(e.validator, 2), -len(e.absolute_path)))))

def non_finite(value, path: str = "") -> list[str]:
    """Keys (``a.b[2]``) of every NaN or infinite number in a nested config."""
    if isinstance(value, float) and not math.isfinite(value):
        return [path]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in non_finite(v, f"{path}.{k}" if path else str(k))]
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
    """Training budgets, and ``train`` / ``continues`` of ``methods`` entries (module docstring)."""
    methods = config["methods"]
    for kind in ("prior", *TRAINED.values()):
        given = [b for b in BUDGETS if b in config["train"][kind]]
        if len(given) != 1:
            raise ValueError(f"config: train.{kind}: give the training budget as exactly one of steps or images, got "
                             f"{', '.join(given) or 'neither'}")
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


def check_method_names(config: Mapping) -> None:
    """Every method the config names is registered (a ``methods`` entry's ``method``, else its label)."""
    from .methods import available_methods

    valid = available_methods()
    named = [(f"methods.{label}", spec.get("method", label)) for label, spec in config["methods"].items()]
    named += [(f"{section}.methods[{i}]", m.split("@")[0]) for section in ("gmm", "frontier")
              for i, m in enumerate(config.get(section, {}).get("methods", []))]
    for where, name in named:
        if name not in valid:
            raise ValueError(f"config: {where}: " + unknown("method", name, valid, "registered methods"))


def check_select(config: Mapping) -> None:
    """The names in ``select`` (the cells of the target rule ``select``) are configured ones."""
    for key in ("datasets", "tasks", "methods"):
        for i, name in enumerate(config.get("select", {}).get(key, [])):
            if name not in config[key]:
                raise ValueError(f"config: select.{key}[{i}]: " + unknown(key[:-1], name, list(config[key]),
                                                                        f"configured {key}"))


def check_published_files(config: Mapping) -> None:
    """The paper run's published files (module docstring), refused at planning rather than after downloads."""
    pickles = {d: ds["checkpoint"] for d, ds in config["datasets"].items() if "checkpoint" in ds}
    for dataset, entry in pickles.items():
        if not download_name(entry).endswith(".pkl"):
            raise ValueError(f"config: datasets.{dataset}.checkpoint: a published EDM pickle (*.pkl) is expected, "
                             f"got {download_name(entry)!r}")
        if entry["sha256"] == "unknown" and not config.get("allow_unverified_pickle", False):
            raise ValueError(f"config: datasets.{dataset}.checkpoint.sha256 is 'unknown' and allow_unverified_pickle "
                             "is false: unpickling runs code from the file, so state its sha256 or set "
                             "allow_unverified_pickle: true")
    if pickles and "edm_source" not in config:
        raise ValueError(f"config: edm_source: datasets {', '.join(pickles)} use a published EDM pickle, and "
                         "converting it needs the NVlabs/edm source: git clone https://github.com/NVlabs/edm and set "
                         "edm_source: <that folder>")
    no_stats = [d for d, ds in config["datasets"].items() if "fid_reference" not in ds]
    if config["evaluate"].get("fid_statistics") and no_stats:
        raise ValueError(f"config: evaluate.fid_statistics is true but datasets {', '.join(no_stats)} have no "
                         "fid_reference")
    if config["evaluate"].get("crps_estimator", "fair") == "fair" and config["sample"]["num_samples"] < 2:
        raise ValueError("config: sample.num_samples: the fair CRPS estimator needs K >= 2 posterior samples, got "
                         f"{config['sample']['num_samples']} (or set evaluate.crps_estimator: nrg)")


def check_config(config: dict, schema: str | Path = SCHEMA) -> None:
    """Raise one ``ValueError`` (``config: ...``) for the first problem found; see the module docstring.
    ``schema``: the workflow's config/schema.yaml."""
    from .gmm_bench import check_problem
    from .methods import get_method
    from .protocols import apply_protocol
    from .operators import make_operator
    from .rng import generator

    check_schema(config, load_schema(schema))
    apply_protocol(config)  # protocol: eps_paper | dps_daps fills the task parameters and evaluation rules left out
    bad = non_finite(config)
    if bad:
        raise ValueError(f"config: {bad[0]}: must be a finite number (got NaN or infinity)")
    check_method_names(config)
    check_networks(config)
    check_select(config)
    check_published_files(config)
    for name, spec in config["methods"].items():
        try:
            get_method(spec.get("method", name), **spec.get("options", {}))
        except ValueError as err:
            raise ValueError(f"config: methods.{name}.options: {err}") from None
    for dataset, ds in config["datasets"].items():
        if not re.fullmatch(DATASET_NAME, dataset):  # it names folders and a workflow wildcard
            raise ValueError(f"config: dataset name {dataset!r} must match {DATASET_NAME} (letters, digits, _ and -)")
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


__all__ = ["check_config", "check_schema", "load_schema", "schema_error", "check_method_names", "check_networks",
           "check_select", "check_published_files", "non_finite", "embedded_test_count"]
