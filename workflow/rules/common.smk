"""Names, paths and command-line pieces shared by the rules. No math lives here."""
import glob
import json
import math
import os
import re
import shlex
import sys
from pathlib import Path

from eps import workflow_plan as plan
from eps.config_check import DATASET_NAME
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


# The dry run states the training it plans, when the config gives a throughput figure (an estimate, labelled so).
if (_estimate := plan.training_estimate(config)) is not None:
    print(_estimate, file=sys.stderr)


# Every job: strict mode (a custom prefix replaces Snakemake's own `set -euo pipefail`, so it is restated: a failed
# command anywhere in a pipe fails the job and nothing after it runs), the commands of this environment, and the
# configured number of torch threads.
STRICT = "set -euo pipefail; "
shell.prefix(f"{STRICT}export PATH={shlex.quote(os.path.dirname(sys.executable))}:$PATH "
             f"OMP_NUM_THREADS={config['threads']} MKL_NUM_THREADS={config['threads']}; ")

def registered(label: str) -> str:
    return plan.registered(config, label)


def network_stem(label: str) -> str | None:
    return plan.network_stem(config, label)


NETWORKS = plan.networks(config)  # stem -> Network(kind, options, continues): every trained network but the prior
MODELS = plan.models(config)  # network file stem (<stem>, or <stem>_<task> for a per-task kind) -> network stem


wildcard_constraints:
    dataset=DATASET_NAME,
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
    return plan.cells(config)


def shard_path(dataset, task, method, nfe, seed, shard) -> str:
    return f"{OUT}/samples/{dataset}/{task}/{method}/nfe{nfe}/seed{seed}/shard{shard}.pt"


def shards_of(dataset, task, method, nfe) -> list[str]:
    return [shard_path(dataset, task, method, nfe, seed, k) for seed in SAMPLE["seeds"]
            for k in range(num_shards(dataset))]


def selected_outputs() -> list[str]:
    """The outputs of the target rule ``select`` (Snakefile)."""
    chosen = config.get("select", {})
    cells = [c for c in runs() if all(c[i] in chosen.get(key, [c[i]]) for i, key in enumerate(("datasets", "tasks", "methods")))]
    shards = [s for cell in cells for s in shards_of(*cell)]
    summaries = [] if "methods" in chosen else sorted({summary_path(d, t) for d, t, _, _ in cells})
    return shards + summaries


def summary_path(dataset, task) -> str:
    """One evaluation job per (dataset, task): a row per (method, NFE) cell (one process, one metric-network load)."""
    return f"{OUT}/metrics/{dataset}/{task}.summary.csv"


def task_cells(dataset, task) -> list[tuple]:
    return [cell for cell in runs() if cell[:2] == (dataset, task)]


def model_file(stem: str, dataset: str, task: str) -> str:
    """The file of network ``stem`` (a key of ``NETWORKS``) that samples ``task``."""
    return f"{OUT}/models/{dataset}/{plan.model_name(config, stem, task)}.pt"


def prior_checkpoint(dataset: str) -> str:
    """The backbone: the published checkpoint (converted) when the dataset names one, else the one trained here."""
    published = config["datasets"][dataset].get("checkpoint")
    return f"{WEIGHTS_DIR}/{converted_name(published)}" if published else f"{OUT}/models/{dataset}/prior.pt"


def class_labels(dataset: str) -> str:
    """How class labels enter the dataset's backbone (``eps sample/train --class-labels``)."""
    return config["datasets"][dataset].get("checkpoint", {}).get("class_labels", "none")


download_name = plan.download_name


def converted_name(entry: dict) -> str:
    """The eps-net-v1 file ``eps convert-edm`` makes of a published EDM pickle: ``<name>.pkl`` -> ``<name>.pt``."""
    return download_name(entry).removesuffix(".pkl") + ".pt"


def downloads() -> dict[str, dict]:
    """File name under weights_dir -> {url, sha256} for every published file the config names (backbones,
    FID reference statistics)."""
    return {download_name(ds[key]): ds[key] for ds in config["datasets"].values()
            for key in ("checkpoint", "fid_reference") if key in ds}


def task_tag(task: str) -> str:
    """Task parameters as a compact, human-readable string for logs (the shards carry them in meta)."""
    return ",".join(f"{k}={v}" for k, v in sorted(config["tasks"][task].items()))
