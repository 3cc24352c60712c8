"""Names, paths and command-line pieces shared by the rules. No math lives here."""
import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

from eps.config_check import TRAINED, WORKFLOW_OPTIONS, budget_steps, network_options, per_task
from eps.methods import available_methods
from eps.metrics.weights import WEIGHTS as METRIC_WEIGHTS
from eps.operators import TASKS
from eps.provenance import config_hash

OUT = config["out"]
DATA = config["data_dir"]
WEIGHTS_DIR = config["weights_dir"]
SAMPLE = config["sample"]
NOTEBOOK = f"{OUT}/report/explore_results.ipynb"
# The config files of this run (Snakefile: config/default.yaml unless --configfile is given); their digests
# join the provenance of the report, so a committed report is stale once its config changes.
CONFIG_FILES = [str(f) for f in workflow.config_settings.configfiles] or ["config/default.yaml"]


# Every job: the commands of this environment, and the configured number of torch threads.
shell.prefix(f"export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH "
             f"OMP_NUM_THREADS={config['threads']} MKL_NUM_THREADS={config['threads']}; ")

def registered(label: str) -> str:
    """The registered method a ``methods`` entry runs (its ``method`` key, else its own name)."""
    return config["methods"][label].get("method", label)


def network_stem(label: str) -> str | None:
    """The network a ``methods`` entry samples with (None: no trained network): its training kind's shared network
    (``eps``, ``palette``), or its own, named by the entry, when it sets ``train`` or ``continues``."""
    kind = TRAINED.get(registered(label))
    spec = config["methods"][label]
    return None if kind is None else label if ("train" in spec or "continues" in spec) else kind


# Every trained network but the prior: stem -> (kind, training options of the kind overridden by the entry's
# `train`, the stem whose training state it continues or None). A per-task network (EPS and Palette as the EPS
# paper trains them, App. B; eps.config_check.per_task) trains <stem>_<task>; an amortized one, <stem> on every task.
NETWORKS = {network_stem(m): (TRAINED[registered(m)], network_options(config, m),
                              network_stem(config["methods"][m]["continues"]) if "continues" in config["methods"][m]
                              else None)
            for m in config["methods"] if network_stem(m)}
PER_TASK = {stem for stem, (_, options, _) in NETWORKS.items() if per_task(options)}
MODELS = {f"{stem}_{task}" if stem in PER_TASK else stem: stem
          for stem in NETWORKS for task in (config["tasks"] if stem in PER_TASK else [None])}


_unknown = ({registered(m) for m in config["methods"]} | {m.split("@")[0] for m in config["gmm"]["methods"]}
            | set(config.get("frontier", {}).get("methods", []))) - set(available_methods())
if _unknown:
    raise ValueError(f"config: unknown method(s) {sorted(_unknown)}; "
                     f"registered methods: {', '.join(available_methods())}")

wildcard_constraints:
    dataset="[A-Za-z0-9_-]+",
    task="|".join(TASKS),
    method="[a-z][a-z0-9_]*",
    nfe=r"\d+",
    seed=r"\d+",
    shard=r"\d+",
    model="|".join(re.escape(m) for m in sorted(MODELS, key=len, reverse=True)) or "(?!)",


def as_json(value) -> str:
    """A config value as one shell-quoted JSON argument."""
    return shlex.quote(json.dumps(value, sort_keys=True))


def num_shards(dataset: str) -> int:
    return math.ceil(config["datasets"][dataset]["num_test"] / SAMPLE["shard_size"])


def shard_range(dataset: str, shard: int) -> tuple[int, int]:
    """``(start, count)`` of test images in shard ``shard``."""
    start = int(shard) * SAMPLE["shard_size"]
    return start, min(SAMPLE["shard_size"], config["datasets"][dataset]["num_test"] - start)


def runs():
    """Every (dataset, task, method, nfe) cell of the results table."""
    return [(d, t, m, n) for d in config["datasets"] for t in config["tasks"]
            for m, spec in config["methods"].items() for n in spec["nfe"]]


def shard_path(dataset, task, method, nfe, seed, shard) -> str:
    return f"{OUT}/samples/{dataset}/{task}/{method}/nfe{nfe}/seed{seed}/shard{shard}.pt"


def shards_of(dataset, task, method, nfe) -> list[str]:
    return [shard_path(dataset, task, method, nfe, seed, k) for seed in SAMPLE["seeds"]
            for k in range(num_shards(dataset))]


def summary_path(dataset, task) -> str:
    """One evaluation job per (dataset, task): a row per (method, NFE) cell (one process, one metric-network load)."""
    return f"{OUT}/metrics/{dataset}/{task}.summary.csv"


def task_cells(dataset, task) -> list[tuple]:
    return [cell for cell in runs() if cell[:2] == (dataset, task)]


def model_file(stem: str, dataset: str, task: str) -> str:
    """The file of network ``stem`` (a key of ``NETWORKS``) that samples ``task``: ``<stem>.pt`` or, for a per-task
    kind, ``<stem>_<task>.pt``."""
    name = f"{stem}_{task}" if stem in PER_TASK else stem
    return f"{OUT}/models/{dataset}/{name}.pt"


def model_tasks(model: str) -> list[str]:
    """The tasks the network file named ``model`` (a key of ``MODELS``) trains on."""
    stem = MODELS[model]
    return [model.removeprefix(f"{stem}_")] if stem in PER_TASK else list(config["tasks"])


def prior_checkpoint(dataset: str) -> str:
    """The backbone: the published checkpoint (converted) when the dataset names one, else the one trained here."""
    published = config["datasets"][dataset].get("checkpoint")
    return f"{WEIGHTS_DIR}/{converted_name(published)}" if published else f"{OUT}/models/{dataset}/prior.pt"


def class_labels(dataset: str) -> str:
    """How class labels enter the dataset's backbone (``eps sample/train --class-labels``)."""
    return config["datasets"][dataset].get("checkpoint", {}).get("class_labels", "none")


def download_name(entry: dict) -> str:
    return entry.get("file") or entry["url"].rstrip("/").rsplit("/", 1)[-1]


def converted_name(entry: dict) -> str:
    """The eps-net-v1 file ``eps convert-edm`` makes of a published EDM pickle: ``<name>.pkl`` -> ``<name>.pt``."""
    return download_name(entry).removesuffix(".pkl") + ".pt"


def downloads() -> dict[str, dict]:
    """File name under weights_dir -> {url, sha256} for every published file the config names (backbones,
    FID reference statistics)."""
    return {download_name(ds[key]): ds[key] for ds in config["datasets"].values()
            for key in ("checkpoint", "fid_reference") if key in ds}


_pickles = {d: download_name(ds["checkpoint"]) for d, ds in config["datasets"].items() if "checkpoint" in ds}
if any(not name.endswith(".pkl") for name in _pickles.values()):
    raise ValueError(f"config: a dataset checkpoint must be a published EDM pickle (*.pkl), got {_pickles}")
if _pickles and "edm_source" not in config:
    raise ValueError(f"config: datasets {sorted(_pickles)} use a published EDM pickle, and converting it needs the "
                     "NVlabs/edm source: git clone https://github.com/NVlabs/edm and set edm_source: <that folder>")
_no_stats = [d for d, ds in config["datasets"].items() if "fid_reference" not in ds]
if config["evaluate"]["fid_statistics"] and _no_stats:
    raise ValueError(f"config: evaluate.fid_statistics is true but datasets {_no_stats} have no fid_reference")
if config["evaluate"]["crps_estimator"] == "fair" and SAMPLE["num_samples"] < 2:
    raise ValueError(f"config: the fair CRPS estimator needs sample.num_samples >= 2 (K), got {SAMPLE['num_samples']}")


def task_tag(task: str) -> str:
    """Task parameters as a compact, human-readable string for logs (the shards carry them in meta)."""
    return ",".join(f"{k}={v}" for k, v in sorted(config["tasks"][task].items()))
