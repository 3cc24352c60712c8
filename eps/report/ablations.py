"""The EPS paper's ablation tables next to a run's numbers (``ablations.csv``; the published values are
``results/reference/paper_ablation_*.csv``, transcribed from the paper's Tables 2-5, 7, 8 and 10, see
docs/training.md).

    python -m eps.report.ablations --summary runs/default/report/summary.csv --out runs/default/report/ablations.csv

One row per published ablation row whose ``(task, method, nfe)`` the run has (the methods are the config entries
of ``config/ablation_*.yaml``: ``eps_in_mu``, ``eps_zeroshot``, ``eps_amortized``, ``eps_mean10``, ...): the
published dataset, the published label, each metric of the run (``psnr``, ...) and the paper's (``psnr_paper``, ...),
like the report's ``comparison.csv``. A run on another dataset (the embedded 16-px patches) sits next to both
published datasets: the columns ``dataset`` (the run's) and ``dataset_paper`` say which is which. The extreme-task
and mask-density tables state their operator (``operator``, ``missing``); a run holds one setting per task, so
read those rows against the run's task parameters (``tasks.csv``).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

METRICS = {"psnr": "psnr", "ssim": "ssim", "lpips": "lpips", "fid": "fid", "mmd_pix": "mmd_pix",
           "mmd_inc": "mmd_inception", "crps_pix": "crps_pix", "crps_inc": "crps_inception"}  # paper file -> run


def published_ablations(folder: str | Path = "results/reference") -> pd.DataFrame:
    """Every ``paper_ablation_*.csv`` in ``folder`` as one table (column ``ablation``: the file's name)."""
    files = sorted(Path(folder).glob("paper_ablation_*.csv"))
    if not files:
        raise FileNotFoundError(f"no paper_ablation_*.csv in {folder}")
    frames = [pd.read_csv(f).assign(ablation=f.stem.removeprefix("paper_ablation_")) for f in files]
    return pd.concat(frames, ignore_index=True).rename(columns=METRICS)


def ablation_table(summary: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Published ablation rows joined with the run's rows on ``(task, method, nfe)`` (module doc)."""
    paper = published[published["task"] != "average"].rename(
        columns={"dataset": "dataset_paper", **{m: f"{m}_paper" for m in METRICS.values()}})
    ours = summary[["dataset", "task", "method", "nfe", *[m for m in METRICS.values() if m in summary]]]
    table = ours.merge(paper, on=["task", "method", "nfe"], how="inner")
    front = ["ablation", "source", "dataset", "dataset_paper", "task", "method", "nfe", "published"]
    front += [c for c in ("missing", "operator") if c in table]
    metrics = [c for m in METRICS.values() for c in (m, f"{m}_paper") if c in table]
    return table[front + metrics + ["notes"]].sort_values(["ablation", "dataset_paper", "task", "method", "nfe"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eps.report.ablations", description=__doc__.split("\n\n")[0])
    p.add_argument("--summary", required=True, help="the report's summary.csv (or comparison.csv) of a run")
    p.add_argument("--reference", default="results/reference", help="folder of paper_ablation_*.csv")
    p.add_argument("--out", required=True, type=Path)
    a = p.parse_args(argv)
    table = ablation_table(pd.read_csv(a.summary), published_ablations(a.reference))
    a.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(a.out, index=False)
    print(f"{len(table)} ablation rows ({table['ablation'].nunique() if len(table) else 0} tables) -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
