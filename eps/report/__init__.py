"""``eps report``: the summary table (CSV, Markdown, LaTeX), the figures and the exact-posterior table.

    eps report --summaries results/x/metrics/*/*/*.summary.csv --gmm results/x/gmm/*.csv \\
               --shards <one shard per table cell, for the grids> --out results/x/report

Writes into ``--out``: ``summary.csv`` (the published table's columns plus ``num_samples`` (K),
``crps_estimator``, ``sec_per_image, cost_ratio``), ``summary.md`` / ``summary.tex`` (task x method per
dataset, K per row, best in bold, published value in parentheses where the dataset matches; the notes state
K and the CRPS estimator), ``comparison.csv`` (each metric next to ``<metric>_paper``), ``tasks.csv`` (the
task parameters, operator seed stream, sigma_y and K read from the shards; its provenance record
``tasks.csv.provenance.json`` repeats them), ``nfe_convergence.png``,
``cost.png``, ``qualitative/<dataset>-<task>.png``, with ``--gmm`` ``gmm.csv`` and ``gmm.png``, and with
``--networks LABEL=SERIES:STEPS ...`` (the trained networks of a learning curve) ``learning_curve.csv`` and
``learning_curve.png``: every metric against training steps per series, methods without a network as lines.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..fingerprint import all_sources
from ..io import check_writable, read_csv, write_text
from ..parsers import build
from ..metrics.shards import load_shard
from ..provenance import write_provenance
from . import figures
from .tables import (COST, KEYS, METRICS, latex, learning_curve_table, load_reference, markdown, parse_networks,
                     sampling_note, summary_table, with_reference)

# Columns of an ``eps gmm-bench`` table the report reads.
GMM_COLUMNS = ("method", "task", "seed", "nfe", "sw", "sw_floor", "ratio")

# Shard meta keys that are not task parameters.
RUN_KEYS = {"dataset", "task", "method", "nfe", "seed", "num_samples", "start", "count"}


def task_parameters(shards: list[dict]) -> pd.DataFrame:
    """One row per (dataset, task): sigma_y, K (``num_samples``, posterior samples per measurement) and the
    operator parameters recorded in the shards' meta."""
    rows = {}
    for s in shards:
        meta = s["meta"]
        params = ", ".join(f"{k}={v}" for k, v in meta.items() if k not in RUN_KEYS | {"sigma_y"})
        rows[meta["dataset"], meta["task"]] = {"dataset": meta["dataset"], "task": meta["task"],
                                               "sigma_y": meta["sigma_y"], "num_samples": int(s["samples"].shape[1]),
                                               "parameters": params}
    return pd.DataFrame(list(rows.values()))


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    write_text(path, frame.to_csv(index=False))


def main(argv: list[str] | None = None) -> int:
    p = build("report")
    a = p.parse_args(argv)
    a.out = Path(a.out)
    networks = parse_networks(a.networks)

    order = [m for m in a.methods.split(",") if m] or None
    check_writable(a.out / "summary.csv", "--out")
    table = summary_table([read_csv(f, "summary", KEYS + METRICS + COST, METRICS + COST) for f in a.summaries], order)
    shards = [load_shard(f) for f in a.shards]  # checked: truncated, foreign or tampered shards are refused
    gmm = [read_csv(f, "gmm table", GMM_COLUMNS, ("sw", "sw_floor", "ratio")) for f in a.gmm]
    runtime = read_csv(a.runtime_reference, "runtime reference")
    tasks = task_parameters(shards)
    notes = "Tasks: " + "; ".join(f"{r.dataset}/{r.task} ({r.parameters}, sigma_y={r.sigma_y})"
                                  for r in tasks.itertuples()) + ". " + sampling_note(table)
    compared = with_reference(table, load_reference(a.reference))

    write_csv(table, a.out / "summary.csv")
    write_csv(compared, a.out / "comparison.csv")
    write_csv(tasks, a.out / "tasks.csv")
    write_text(a.out / "summary.md", markdown(compared, notes))
    write_text(a.out / "summary.tex", latex(compared, notes))
    figures.nfe_convergence(table, a.out / "nfe_convergence.png")
    figures.cost(table, runtime, a.out / "cost.png", a.device_label)
    for (dataset, task), group in pd.DataFrame([s["meta"] for s in shards]).groupby(["dataset", "task"], sort=False):
        figures.qualitative([shards[i] for i in group.index], a.out / "qualitative" / f"{dataset}-{task}.png",
                            a.grid_images)
    if a.gmm:
        gmm = pd.concat(gmm, ignore_index=True)
        write_csv(gmm, a.out / "gmm.csv")
        figures.gmm_ratio(gmm, a.out / "gmm.png")
    if networks:
        curve = learning_curve_table(table, networks)
        write_csv(curve, a.out / "learning_curve.csv")
        figures.learning_curve(curve, a.out / "learning_curve.png")
    sources = [*all_sources(), *a.config_files]  # the whole DAG made these tables: every stage's code
    seeds = sorted({s["meta"]["seed"] for s in shards})
    for name in ("summary.csv", "comparison.csv", "tasks.csv", *(["gmm.csv"] if a.gmm else []),
                 *(["learning_curve.csv"] if networks else [])):
        write_provenance(a.out / name, config={"shards": a.shards}, seeds=seeds, sources=sources,
                         **({"tasks": tasks.to_dict("records")} if name == "tasks.csv" else {}))
    print(f"{a.out}: summary of {len(table)} rows, {len(shards)} shards in the grids, {len(a.gmm)} gmm tables")
    return 0
