"""The EPS paper's ablation tables next to a run's numbers: the report's ``ablations.csv`` (``eps report
--ablation-reference``; the published values are ``results/reference/paper_ablation_*.csv``, transcribed from the
paper's Tables 2-5, 7, 8 and 10, see docs/training.md).

One row per published ablation row whose ``(task, method, nfe)`` the run has (the methods are the config entries
of ``config/ablation_*.yaml``: ``eps_in_mu``, ``eps_zeroshot``, ``eps_amortized``, ``eps_mean10``, ...): the
published dataset, the published label, each metric of the run (``psnr``, ...) and the paper's (``psnr_paper``, ...),
like the report's ``comparison.csv``. A run on another dataset (the embedded 16-px patches) sits next to both
published datasets: the columns ``dataset`` (the run's) and ``dataset_paper`` say which is which. The extreme-task
and mask-density tables state their operator (``operator``, ``missing``): a run holds one setting per task, and a
published row joins the run only where the operators agree (:func:`ablation_table`), so the default run shows the
main-setting rows and the D.8 / D.9 overlays (``config/ablation_extreme.yaml``, ``ablation_mask_density.yaml``,
their own run folders) theirs.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..names import TASKS

METRICS = {"psnr": "psnr", "ssim": "ssim", "lpips": "lpips", "fid": "fid", "mmd_pix": "mmd_pix",
           "mmd_inc": "mmd_inception", "crps_pix": "crps_pix", "crps_inc": "crps_inception"}  # paper file -> run


def published_ablations(files: list[str | Path] | None = None) -> pd.DataFrame:
    """The published ablation tables (default: every ``results/reference/paper_ablation_*.csv``) as one table
    (column ``ablation``: the file's name without ``paper_ablation_``)."""
    files = [Path(f) for f in files] if files is not None else sorted(Path("results/reference").glob("paper_ablation_*.csv"))
    if not files:
        raise FileNotFoundError("no published ablation table (results/reference/paper_ablation_*.csv)")
    for f in files:
        if not f.name.startswith("paper_ablation_"):
            raise ValueError(f"--ablation-reference: {f} is not a paper_ablation_*.csv table")
    frames = [pd.read_csv(f).assign(ablation=f.stem.removeprefix("paper_ablation_")) for f in files]
    return pd.concat(frames, ignore_index=True).rename(columns=METRICS)


def stated_operator(row: pd.Series) -> dict[str, float]:
    """The operator setting a published row states: its ``operator`` (``"missing=0.95"``, ``"factor=16 (average
    pooling)"``) and ``missing`` columns, as ``{parameter: value}``; ``{}`` for a row at the paper's main setting."""
    setting = {}
    if isinstance(row.get("operator"), str):
        name, value = row["operator"].split("(")[0].split("=")
        setting[name.strip()] = float(value)
    if pd.notna(row.get("missing", float("nan"))):
        setting["missing"] = float(row["missing"])
    return setting


def with_average(summary: pd.DataFrame) -> pd.DataFrame:
    """The run's rows plus, per ``(dataset, method, nfe)`` that has all five tasks, a ``task = "average"`` row: the mean
    of each metric over the five tasks (the paper's "Average" rows)."""
    metrics = [m for m in METRICS.values() if m in summary]
    cells = summary[summary["task"].isin(TASKS)].groupby(["dataset", "method", "nfe"])
    full = cells.filter(lambda cell: set(cell["task"]) == set(TASKS))
    average = full.groupby(["dataset", "method", "nfe"], as_index=False)[metrics].mean().assign(task="average")
    return pd.concat([summary, average], ignore_index=True)


def ablation_table(summary: pd.DataFrame, published: pd.DataFrame, run_tasks: dict[str, dict]) -> pd.DataFrame:
    """Published ablation rows joined with the run's rows (and five-task averages, :func:`with_average`) on
    ``(task, method, nfe)`` (module doc), where the run's operator is the row's: a row that states a parameter (D.8's
    95% inpainting and 16x SR, D.9's densities) pairs with a run whose task has that value, a row that states none
    with a run at the EPS paper's main setting of the parameters the tables vary
    (``eps.protocols.task_presets("eps_paper")``; an average row: on every task). ``run_tasks``: ``{task: operator
    parameters}`` of the run (the shards' meta)."""
    from ..protocols import task_presets

    paper_setting = task_presets("eps_paper")
    paper = published.rename(columns={"dataset": "dataset_paper", **{m: f"{m}_paper" for m in METRICS.values()}})
    stated = paper.apply(stated_operator, axis=1)
    varied = {t: {k for s in stated[paper["task"] == t] for k in s} for t in TASKS}

    def same_operator(i) -> bool:
        task = paper.at[i, "task"]
        settings = {t: {k: float(paper_setting[t][k]) for k in varied[t]} for t in TASKS}
        if task != "average":
            settings = {task: settings[task] | stated[i]}
        return all(k in run_tasks.get(t, {}) and abs(float(run_tasks[t][k]) - v) < 1e-9
                   for t, setting in settings.items() for k, v in setting.items())

    paper = paper[[same_operator(i) for i in paper.index]]
    ours = with_average(summary)
    ours = ours[["dataset", "task", "method", "nfe", *[m for m in METRICS.values() if m in ours]]]
    table = ours.merge(paper, on=["task", "method", "nfe"], how="inner")
    front = ["ablation", "source", "dataset", "dataset_paper", "task", "method", "nfe", "published"]
    front += [c for c in ("missing", "operator") if c in table]
    metrics = [c for m in METRICS.values() for c in (m, f"{m}_paper") if c in table]
    return table[front + metrics + ["notes"]].sort_values(["ablation", "dataset_paper", "task", "method", "nfe"])


__all__ = ["METRICS", "published_ablations", "stated_operator", "with_average", "ablation_table"]
