"""``eps report``: the summary table (CSV, Markdown, LaTeX), the figures and the exact-posterior table.

    eps report --summaries results/x/metrics/*/*/*.summary.csv --gmm results/x/gmm/*.csv \\
               --shards <one shard per table cell, for the grids> --out results/x/report

Writes into ``--out``: ``summary.csv`` (the published table's columns plus ``num_samples`` (K),
``crps_estimator``, ``nfe_measured``, ``sec_per_image, cost_ratio``), ``summary.md`` / ``summary.tex`` (task x
method per dataset in the paper's task order, K per row, headers with units and ↑/↓, best in bold, published value
in parentheses where the dataset matches; columns empty in every row left out, the notes say why (the evaluation's
provenance records), and state K, the CRPS estimator and the task parameters), ``comparison.csv`` (each metric next to ``<metric>_paper``), ``tasks.csv`` (the
task parameters, operator seed stream, sigma_y and K read from the shards; its provenance record
``tasks.csv.provenance.json`` repeats them), ``methods.csv`` (every setting of every method cell with its value
and source, from the shards: eps.protocols), ``paper_comparison.csv`` / ``.md`` (each metric beside the published
one and the difference), ``nfe_convergence.png``,
``cost.png``, ``qualitative/<dataset>-<task>.png``, with ``--gmm`` ``gmm.csv`` and ``gmm.png``, and with
``--networks LABEL=SERIES:STEPS ...`` (the trained networks of a learning curve) ``learning_curve.csv`` and
``learning_curve.png``: every metric against training steps per series, methods without a network as lines, and with
``--ablation-reference`` (the paper's ``paper_ablation_*.csv``) ``ablations.csv``: the run's rows beside the
published ablation rows they correspond to (:mod:`eps.report.ablations`).
Every figure is drawn in the style of :mod:`eps.report.style` and states its setup (shape, seeds, K, NFE budgets,
hardware where timed) under it.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..fingerprint import all_sources
from ..io import check_writable, read_csv, write_text
from ..parsers import build
from ..metrics.shards import load_shard
from ..provenance import write_provenance
from . import figures
from . import style
from .ablations import ablation_table, published_ablations
from .tables import (COST, KEYS, METRICS, latex, learning_curve_table, load_reference, markdown, method_settings_table,
                     paper_comparison, paper_comparison_markdown, parse_networks, sampling_note, summary_table,
                     table_notes, task_note, with_reference)

# Columns of an ``eps gmm-bench`` table the report reads.
GMM_COLUMNS = ("method", "task", "seed", "nfe", "sw", "sw_floor", "ratio")

# Shard meta keys that are not task parameters (the backbone solver belongs to the method; the protocol and the
# method settings go to tasks.csv's protocol column and methods.csv).
RUN_KEYS = {"dataset", "task", "method", "nfe", "seed", "num_samples", "start", "count", "solver", "protocol", "settings"}


def task_parameters(shards: list[dict]) -> pd.DataFrame:
    """One row per (dataset, task): sigma_y, K (``num_samples``, posterior samples per measurement) and the
    operator parameters recorded in the shards' meta."""
    rows = {}
    for s in shards:
        meta = s["meta"]
        params = ", ".join(f"{k}={v}" for k, v in meta.items() if k not in RUN_KEYS | {"sigma_y"})
        rows[meta["dataset"], meta["task"]] = {"dataset": meta["dataset"], "task": meta["task"],
                                               "protocol": meta.get("protocol", ""), "sigma_y": meta["sigma_y"],
                                               "num_samples": int(s["samples"].shape[1]), "parameters": params}
    return pd.DataFrame(list(rows.values()))


def missing_reasons(summaries: list[str]) -> dict[str, str]:
    """``{metric: reason}`` of the metrics the evaluation reported as NaN (each summary's provenance record,
    field ``missing``; a summary without a record adds nothing)."""
    reasons: dict[str, str] = {}
    for f in summaries:
        record = Path(f"{f}.provenance.json")
        if record.is_file():
            reasons.update(json.loads(record.read_text()).get("missing") or {})
    return reasons


def image_setup(table: pd.DataFrame, shards: list[dict], seeds, device: str | None = None) -> str:
    """The caption of the image benchmark's figures: shape, seeds, K, NFE budgets (and hardware, for timings)."""
    shapes = sorted({"x".join(map(str, s["x0"].shape[-3:])) for s in shards})
    return style.setup(shape="/".join(shapes), seeds=list(seeds), samples=list(table["num_samples"].dropna().astype(int)),
                       nfe=list(table["nfe"]), hardware=device)


def gmm_setup(gmm: pd.DataFrame) -> str:
    """The caption of the exact-posterior figure: the benchmark's shape, seeds, samples and NFE budgets."""
    return (style.setup(shape="/".join(sorted(gmm["shape"].astype(str).unique())), seeds=list(gmm["seed"]),
                        samples=list(gmm["num_samples"]), nfe=list(gmm["nfe"]))
            + "\nanalytic Gaussian-mixture prior, config section gmm (the tables of docs/results.md are results/core/*_1x8x8.csv: "
            "1x8x8, three seeds)")


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
    reference = load_reference(a.reference)
    compared = with_reference(table, reference)
    notes = " ".join([table_notes(compared, missing_reasons(a.summaries)), task_note(tasks), sampling_note(table)])
    seeds = a.seeds or sorted({s["meta"]["seed"] for s in shards})
    settings = method_settings_table([s["meta"] for s in shards])
    against_paper = paper_comparison(table, reference)

    write_csv(table, a.out / "summary.csv")
    write_csv(compared, a.out / "comparison.csv")
    write_csv(tasks, a.out / "tasks.csv")
    write_csv(settings, a.out / "methods.csv")
    write_csv(against_paper, a.out / "paper_comparison.csv")
    write_text(a.out / "paper_comparison.md", paper_comparison_markdown(against_paper))
    write_text(a.out / "summary.md", markdown(compared, notes))
    write_text(a.out / "summary.tex", latex(compared, notes))
    caption = image_setup(table, shards, seeds)
    figures.nfe_convergence(table, a.out / "nfe_convergence.png", caption)
    published = ", ".join(f"{g}, 64 px ImageNet, {n} NFE" for g, n in
                          runtime[["gpu", "nfe"]].drop_duplicates().itertuples(index=False))
    figures.cost(table, runtime, a.out / "cost.png", image_setup(table, shards, seeds, a.device_label), published)
    for (dataset, task), group in pd.DataFrame([s["meta"] for s in shards]).groupby(["dataset", "task"], sort=False):
        grid = [shards[i] for i in group.index]
        figures.qualitative(grid, a.out / "qualitative" / f"{dataset}-{task}.png", a.grid_images,
                            image_setup(table[table["task"] == task], grid, [grid[0]["meta"]["seed"]])
                            + f" · the first {a.grid_images} test images")
    if a.gmm:
        gmm = pd.concat(gmm, ignore_index=True)
        write_csv(gmm, a.out / "gmm.csv")
        figures.gmm_ratio(gmm, a.out / "gmm.png", gmm_setup(gmm))
    if a.ablation_reference:
        run_tasks = {s["meta"]["task"]: s["meta"] for s in shards}
        write_csv(ablation_table(table, published_ablations(a.ablation_reference), run_tasks),
                  a.out / "ablations.csv")
    if networks:
        curve = learning_curve_table(table, networks)
        write_csv(curve, a.out / "learning_curve.csv")
        figures.learning_curve(curve, a.out / "learning_curve.png", caption)
    sources = [*all_sources(), *a.config_files]  # the whole DAG made these tables: every stage's code
    for name in ("summary.csv", "comparison.csv", "tasks.csv", "methods.csv", "paper_comparison.csv",
                 *(["gmm.csv"] if a.gmm else []), *(["ablations.csv"] if a.ablation_reference else []),
                 *(["learning_curve.csv"] if networks else [])):
        write_provenance(a.out / name, config={"shards": a.shards}, seeds=seeds, sources=sources,
                         **({"tasks": tasks.to_dict("records")} if name == "tasks.csv" else {}))
    print(f"{a.out}: summary of {len(table)} rows, {len(shards)} shards in the grids, {len(a.gmm)} gmm tables")
    return 0
