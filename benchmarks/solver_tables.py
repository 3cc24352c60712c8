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
import sys
from pathlib import Path

import pandas as pd

TASKS = ["inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion"]


def load(folder: Path) -> pd.DataFrame:
    rows = pd.concat([pd.read_csv(f) for f in sorted(folder.glob("*.csv")) if not f.name.endswith("_table.csv")],
                     ignore_index=True)
    if "nfe_budget" in rows:  # rows written before nfe became the budget (nfe_measured the count)
        rows = rows.assign(nfe=rows["nfe_budget"])
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
    print(f"seeds per cell: {sorted(int(s) for s in means.seeds.unique())}\n\n1. grid table (10 and 20 NFE)\n{show(grid)}\n")
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
