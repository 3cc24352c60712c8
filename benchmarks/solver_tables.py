"""The solver tables of docs/solvers.md from the rows `benchmarks/solver_tables.sh` writes (eps frontier --out).

    python benchmarks/solver_tables.py runs/solvers [--markdown]

Prints (mean sw / sw_floor over the seeds; 1 = indistinguishable from exact):
  1. the grid table: every solver x grid at 10 and 20 NFE, by task, with the worst task;
  2. the NFE-convergence table: each (solver, grid) measured at more budgets, by task and NFE;
  3. the default of each solver the measurements support (the grid with the smaller worst-task ratio, summed over
     the budgets both grids were measured at).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

TASKS = ["inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion"]


LINE = re.compile(r"seed (\d+) (\w+)\s+eps\s+nfe\s+(\d+)\s+sw/floor\s+([\d.]+)")


def from_log(log: Path) -> pd.DataFrame:
    """The rows of a run stopped before it wrote its CSV, from its progress lines (`<solver>_<grid>[_x].log`)."""
    solver, grid = log.stem.split("_")[:2]
    found = [m.groups() for m in map(LINE.search, log.read_text().splitlines()) if m]
    return pd.DataFrame([dict(solver=solver, grid=grid, seed=int(s), task=t, nfe=int(n), ratio=float(r))
                         for s, t, n, r in found])


def load(folder: Path) -> pd.DataFrame:
    frames = [pd.read_csv(f) for f in sorted(folder.glob("*.csv")) if not f.name.endswith("_table.csv")]
    frames = [f.assign(nfe=f["nfe_budget"]) if "nfe_budget" in f else f for f in frames]  # before nfe = budget
    frames += [from_log(log) for log in sorted(folder.glob("*.log")) if not log.with_suffix(".csv").exists()]
    rows = pd.concat(frames, ignore_index=True)
    return rows.groupby(["solver", "grid", "nfe", "task"], as_index=False).agg(ratio=("ratio", "mean"),
                                                                              seeds=("seed", "nunique"))


def wide(means: pd.DataFrame, index: list[str], columns: str) -> pd.DataFrame:
    table = means.pivot_table(index=index, columns=columns, values="ratio")
    return table[[c for c in (TASKS if columns == "task" else sorted(table.columns)) if c in table.columns]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", type=Path)
    p.add_argument("--markdown", action="store_true")
    a = p.parse_args(argv)
    means = load(a.folder)
    show = (lambda t: t.round(2).to_markdown()) if a.markdown else (lambda t: t.round(2).to_string())
    grid = wide(means[means.nfe.isin([10, 20])], ["solver", "grid", "nfe"], "task")
    grid["worst"] = grid.max(axis=1)
    print(f"seeds per cell: {sorted(int(s) for s in means.seeds.unique())} (cells of a stopped run: its finished seeds)\n\n1. grid table (10 and 20 NFE)\n{show(grid)}\n")
    budgets = means.groupby(["solver", "grid"])["nfe"].nunique()
    long = means.set_index(["solver", "grid"]).loc[budgets[budgets > 2].index].reset_index()
    if len(long):
        print(f"2. NFE convergence\n{show(wide(long, ['solver', 'grid', 'task'], 'nfe'))}\n")
    print("3. most accurate grid per solver (sum over 10 and 20 NFE of the worst-task ratio)")
    worst = grid["worst"].groupby(level=["solver", "grid"]).sum()
    for solver, scores in worst.groupby(level="solver"):
        print(f"  {solver:<8} " + "  ".join(f"{g}: {v:.2f}" for (_, g), v in scores.items())
              + f"  -> {scores.idxmin()[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
