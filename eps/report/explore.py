"""What ``notebooks/explore_results.ipynb`` does, as tested functions: find a run's results, load its tables,
check the task/method filters against them (one clear error naming the valid values), and shape the tables for
reading (no all-empty columns, the exact-posterior table per NFE budget, the comparison with the paper).

    results = load(find_results(None))               # runs/default if it has a report, else results/default
    tasks = check_names(["sr4"], results.summary["task"], "task")
    view(results.summary, tasks, methods)            # rows of the selected tasks/methods, empty columns dropped
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .style import method_order, task_order
from .tables import METRICS, load_reference

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference" / "paper_table_64px.csv"


def as_list(value) -> list[str] | None:
    """None, a list, or a string as papermill passes it (``'["sr4"]'``, ``'sr4,deblur_gauss'`` or ``'sr4'``)."""
    if value is None or isinstance(value, list):
        return value
    text = str(value).strip()
    if text.lower() in ("", "none", "all"):
        return None
    return json.loads(text) if text.startswith("[") else [v.strip() for v in text.split(",") if v.strip()]


def check_names(values, available, what: str) -> list[str] | None:
    """``values`` (see :func:`as_list`) if each is one of ``available``, else ValueError naming the unknown ones
    and the valid values; None (no filter) stays None."""
    values, valid = as_list(values), list(dict.fromkeys(available))
    if values is None:
        return None
    unknown = [v for v in values if v not in valid]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(map(repr, unknown))}: the results hold {what}s "
                         f"{', '.join(valid)}")
    return values


def find_results(results_dir=None, repo: Path = ROOT) -> Path:
    """A run's ``out`` folder holding ``report/summary.csv``: ``results_dir`` (relative to the working directory
    or to the repository), else ``runs/default``, else the committed ``results/default``."""
    if results_dir:
        path = Path(results_dir)
        candidates = [path] if path.is_absolute() else [path, repo / path]
    else:
        candidates = [repo / "runs" / "default", repo / "results" / "default"]
    for c in candidates:
        if (c / "report" / "summary.csv").is_file():
            return c.resolve()
    raise FileNotFoundError(f"no report/summary.csv under {', '.join(map(str, candidates))}: run "
                            "`snakemake --cores all` (or pass results_dir)")


def normalise_nfe(frame: pd.DataFrame) -> pd.DataFrame:
    """One meaning for ``nfe`` (the budget) and ``nfe_measured`` (the count used) in every table: tables written
    before the rename (``nfe`` measured, ``nfe_budget`` budget) are renamed."""
    if "nfe_budget" in frame:
        return frame.rename(columns={"nfe": "nfe_measured", "nfe_budget": "nfe"})
    return frame


def _read(path: Path) -> pd.DataFrame:
    return normalise_nfe(pd.read_csv(path, keep_default_na=True)) if path.is_file() else pd.DataFrame()


@dataclass
class Results:
    root: Path
    summary: pd.DataFrame
    tasks: pd.DataFrame
    gmm: pd.DataFrame
    frontier: pd.DataFrame
    per_image: pd.DataFrame
    paper: pd.DataFrame
    core: dict[str, pd.DataFrame] = field(default_factory=dict)

    def figure(self, name: str) -> Path | None:
        """A figure of the report (``cost.png``, ``qualitative/embedded-sr4.png``), None if it has none."""
        path = self.root / "report" / name
        return path if path.is_file() else None


def load(root: Path, core: Path = ROOT / "results" / "core") -> Results:
    """Every table of one run's report, the per-image tables of a run folder (the committed copy has none), the
    comparison with the paper (the report's ``paper_comparison.csv`` if it wrote one, else
    :func:`paper_comparison`) and the committed exact-posterior tables of ``results/core``."""
    report = root / "report"
    summary = _read(report / "summary.csv")
    per_image = [pd.read_csv(f) for f in sorted(root.glob("metrics/*/*.per_image.csv"))]
    written = report / "paper_comparison.csv"
    return Results(root=root, summary=summary, tasks=_read(report / "tasks.csv"), gmm=_read(report / "gmm.csv"),
                   frontier=_read(report / "frontier.csv"),
                   per_image=pd.concat(per_image, ignore_index=True) if per_image else pd.DataFrame(),
                   paper=pd.read_csv(written) if written.is_file() else paper_comparison(summary),
                   core={f.stem: _read(f) for f in sorted(core.glob("*.csv"))})


def view(frame: pd.DataFrame, tasks=None, methods=None) -> pd.DataFrame:
    """Rows of the selected tasks and methods (None: all), columns empty in every row dropped."""
    if frame.empty:
        return frame
    mask = pd.Series(True, index=frame.index)
    if tasks is not None and "task" in frame:
        mask &= frame["task"].isin(tasks)
    if methods is not None and "method" in frame:
        mask &= frame["method"].isin(methods)
    return frame[mask].dropna(axis=1, how="all").reset_index(drop=True)


def gmm_table(gmm: pd.DataFrame) -> pd.DataFrame:
    """``sw / sw_floor`` per (method, NFE budget) by task in the paper's order: the mean over seeds and, with
    several seeds, ``± sd`` (strings, ``–`` where a method did not run a task); one row per budget, never
    averaged across budgets."""
    if gmm.empty:
        return gmm
    gmm = normalise_nfe(gmm)
    stats = gmm.groupby(["method", "nfe", "task"])["ratio"].agg(["mean", "std", "count"]).reset_index()
    stats["cell"] = [f"{m:.2f}" + (f" ± {s:.2f}" if n > 1 else "") for m, s, n in
                     zip(stats["mean"], stats["std"], stats["count"])]
    wide = stats.pivot(index=["method", "nfe"], columns="task", values="cell").fillna("–")
    wide = wide[task_order(wide.columns)]
    order = method_order(wide.index.get_level_values("method"))
    return wide.sort_index(key=lambda i: i.map(order.index) if i.name == "method" else i)


def paper_comparison(summary: pd.DataFrame, reference=REFERENCE) -> pd.DataFrame:
    """This run's metrics next to the published ones (``paper_table_64px.csv``), matched on task and method; per
    published dataset the published row of the same NFE budget, else of the nearest budget (``nfe_paper`` says
    which). A run on another dataset (the embedded default) is compared with the paper's 64 px datasets: the
    columns ``dataset`` and ``dataset_paper`` keep them apart. Metrics this run did not compute are left out."""
    if summary.empty:
        return pd.DataFrame()
    paper = load_reference(reference).rename(columns={"dataset": "dataset_paper", "nfe": "nfe_paper",
                                                      **{m: f"{m}_paper" for m in METRICS}})
    metrics = [m for m in METRICS if m in summary and summary[m].notna().any()]
    merged = summary[["dataset", "task", "method", "nfe", *metrics]].merge(paper, on=["task", "method"])
    if merged.empty:
        return merged
    merged["gap"] = [abs(math.log(p / n)) for p, n in zip(merged["nfe_paper"], merged["nfe"])]
    keys = ["dataset", "task", "method", "nfe", "dataset_paper"]
    nearest = merged.loc[merged.groupby(keys)["gap"].idxmin()]
    columns = keys + ["nfe_paper"] + [c for m in metrics for c in (m, f"{m}_paper")]
    nearest = nearest[columns].assign(task=pd.Categorical(nearest["task"], task_order(nearest["task"]), ordered=True))
    return nearest.sort_values(["dataset_paper", "task", "method", "nfe"]).astype({"task": str}).reset_index(drop=True)
