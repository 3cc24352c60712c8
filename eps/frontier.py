"""``eps frontier``: accuracy against cost on the exact-posterior benchmark, every method x backbone solver.

For each NFE budget, every method runs the GMM benchmark (:func:`eps.gmm_bench.run`, same seeds, priors,
measurements and exact samples); a backbone-sampler method (EPS, its ablations) once per solver, a method
with its own update rule (the baselines) once; a budget below a method's smallest step is skipped (logged).
Written: the raw rows (``--out``), the table

    mean sw / sw_floor over seeds per (method, solver, nfe, task), and sec_per_sample

(``--table``: ``sw / sw_floor = 1`` is indistinguishable from exact; ``sec_per_sample`` is the wall time of
one (task, seed) run over its samples), and the figure (``--figure``): ``sw / sw_floor`` against measured
NFE per task, and seconds per sample against NFE.

    eps frontier --methods eps,dps --solvers heun,dpmpp2m --nfe 1,5,10,20,50,100 --seeds 0 \\
                 --num-samples 500 --out f.csv --table f_table.csv --figure f.png
"""
from __future__ import annotations

import pandas as pd
import torch

from . import gmm_bench
from .fingerprint import import_closure
from .io import write_text
from .methods import METHODS, get_method
from .provenance import write_provenance
from .operators import TASKS
from .parsers import build

KEYS = ["method", "solver", "nfe", "task"]


def run(methods: list[str], solvers: list[str], nfe: list[int], tasks: list[str], seeds: list[int],
        shape: tuple[int, int, int], sigma_y: float, num_samples: int, interpolant: str = "edm",
        log=print) -> pd.DataFrame:
    """Rows of :func:`eps.gmm_bench.run` for every method x solver (one solver-less run per baseline)."""
    backbone = [m for m in methods if "solver" in get_method(m).options()]
    own_rule = [m for m in methods if m not in backbone]
    parts = [gmm_bench.run([(m, nfe) for m in backbone], tasks, seeds, shape, sigma_y, num_samples, interpolant,
                           log=log, solver=solver) for solver in (solvers if backbone else [])]
    for m in own_rule:
        for budget in nfe:  # a budget below a method's smallest step (e.g. DAPS: ode_steps NFE) is skipped
            try:
                parts.append(gmm_bench.run([(m, [budget])], tasks, seeds, shape, sigma_y, num_samples, interpolant,
                                           log=log))
            except ValueError as err:
                log(f"{m} at {budget} NFE skipped: {err}")
    return pd.concat(parts, ignore_index=True)


def table(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean ``ratio`` and seconds per sample over seeds, one row per (method, solver, nfe, task)."""
    rows = rows.assign(solver=rows["solver"].fillna(""), sec_per_sample=rows["seconds"] / rows["num_samples"])
    out = rows.groupby(KEYS, as_index=False).agg(ratio=("ratio", "mean"), sec_per_sample=("sec_per_sample", "mean"),
                                                 nfe_measured=("nfe_measured", "first"), seeds=("seed", "nunique"))
    return out.sort_values(KEYS, key=lambda c: c.map(TASKS.index) if c.name == "task" else c, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    p = build("frontier")
    a = p.parse_args(argv)
    if len(a.shape) != 3:
        raise ValueError(f"--shape must be C,H,W, got {a.shape}")
    methods = [m for m in (s.strip() for s in a.methods.split(",")) if m]
    gmm_bench.parse_methods(",".join(methods), a.nfe)  # unknown names: one clear error before any work
    if a.threads:
        torch.set_num_threads(a.threads)
    rows = run(methods, a.solvers, a.nfe, a.tasks, a.seeds, tuple(a.shape), a.sigma_y, a.num_samples, a.interpolant)
    summary = table(rows)
    write_text(a.out, rows.to_csv(index=False))
    write_text(a.table, summary.to_csv(index=False))
    sources = import_closure({__name__, *(METHODS[m].__module__ for m in methods)})
    for path in (a.out, a.table):
        write_provenance(path, config=vars(a), seeds=a.seeds, sources=sources)
    from .report import figures, style

    figures.frontier(summary, a.figure, style.setup(shape="x".join(map(str, a.shape)), seeds=a.seeds,
                                                    samples=[a.num_samples], nfe=a.nfe)
                     + f" · sigma_y {a.sigma_y} · analytic Gaussian-mixture prior")
    wide = summary.pivot_table(index=["method", "solver", "nfe"], columns="task", values="ratio")
    print("\nmean sw / sw_floor over seeds:\n" + wide[[t for t in TASKS if t in wide.columns]].round(2).to_string())
    return 0
