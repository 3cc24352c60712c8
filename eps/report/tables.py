"""The summary table in the paper's layout (task x method, best in bold), next to the published numbers.

Columns are those of ``results/reference/paper_table_64px.csv`` plus ``num_samples`` (K, posterior samples per
measurement), ``crps_estimator`` (after ``nfe``) and ``nfe_measured``, ``sec_per_image``, ``cost_ratio``. The
Markdown and LaTeX tables show K as a column next to NFE and state the CRPS estimator in their notes. ``nfe``
is the configured budget (the paper's column and the name of every figure's cells, e.g. ``eps@20``),
``nfe_measured`` the denoiser evaluations per sample the harness counted (Heun with N steps uses 2N - 1 of a
budget of 2N).
The published table names methods for display (``DPS``, ``EPS-posterior-mean`` at 1 NFE); they are matched
to the registry names (``dps``, ``eps`` at 1 NFE) on ``(dataset, task, method, nfe)``.
"""
from __future__ import annotations

import re

import pandas as pd

from ..io import read_csv
from .style import method_order, metric_label, task_order

KEYS = ["dataset", "task", "method", "nfe"]
METRICS = ["psnr", "ssim", "lpips", "fid", "mmd_pix", "mmd_inception", "crps_pix", "crps_inception"]
COST = ["sec_per_image", "cost_ratio"]
SAMPLING = ["num_samples", "crps_estimator"]
COLUMNS = KEYS + SAMPLING + METRICS + ["nfe_measured"] + COST
HIGHER_IS_BETTER = {"psnr", "ssim"}
FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "lpips": "{:.4f}", "fid": "{:.2f}", "sec_per_image": "{:.3g}",
           "cost_ratio": "{:.3f}", "num_samples": "{:.0f}"}  # everything else: 3 significant digits


def summary_table(frames: list[pd.DataFrame], order: list[str] | None = None) -> pd.DataFrame:
    """Concatenate per-cell summaries into the table's columns, rows sorted by dataset, task (the paper's order,
    :data:`eps.report.style.TASK_ORDER`), method, NFE.

    ``order`` fixes the method order (default: the style's, :func:`eps.report.style.method_order`); metrics a
    summary lacks are NaN.
    """
    table = pd.concat(frames, ignore_index=True).reindex(columns=COLUMNS)
    methods = order or method_order(table["method"])
    table["method"] = pd.Categorical(table["method"], categories=list(dict.fromkeys(methods)), ordered=True)
    table["task"] = pd.Categorical(table["task"], categories=task_order(table["task"]), ordered=True)
    table = table.sort_values(KEYS, kind="stable").reset_index(drop=True)
    table[["method", "task"]] = table[["method", "task"]].astype(str)
    return table


def load_reference(path) -> pd.DataFrame:
    """The published table with registry method names (``EPS-posterior-mean`` is ``eps`` at 1 NFE)."""
    ref = read_csv(path, "published table", KEYS)
    ref["method"] = ref["method"].str.lower().replace({"eps-posterior-mean": "eps"})
    return ref.reindex(columns=KEYS + METRICS)


def with_reference(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``table`` with a ``<metric>_paper`` column per metric (NaN where the published table has no such row)."""
    paper = reference.rename(columns={m: f"{m}_paper" for m in METRICS})
    return table.merge(paper, on=KEYS, how="left")


def _fmt(column: str, value) -> str:
    if pd.isna(value):
        return "–"
    return FORMATS.get(column, "{:.3g}").format(value)


def empty_metrics(table: pd.DataFrame) -> list[str]:
    """Metric and cost columns with no value in any row (dropped from the displayed tables, named in the notes)."""
    return [m for m in METRICS + COST if table[m].isna().all()]


def formatted(table: pd.DataFrame, markup: str) -> pd.DataFrame:
    """Strings for display: the best value of each metric within a (dataset, task) in bold, the published
    value in parentheses where there is one; metric headers carry unit and direction (``PSNR (dB) ↑``); columns
    empty in every row are left out (:func:`empty_metrics`). ``markup`` is ``"md"`` or ``"tex"``."""
    bold = "**{}**" if markup == "md" else "\\textbf{{{}}}"
    out = table[KEYS].astype(str)
    if markup == "tex":
        out = out.apply(lambda col: col.str.replace("_", "\\_"))
    out["K"] = [_fmt("num_samples", k) for k in table["num_samples"]]
    empty = empty_metrics(table)
    for m in METRICS + COST:
        if m in empty:
            continue
        best = table.groupby(["dataset", "task"])[m].transform("max" if m in HIGHER_IS_BETTER else "min")
        cells = [bold.format(_fmt(m, v)) if m in METRICS and v == b else _fmt(m, v)
                 for v, b in zip(table[m], best)]
        if f"{m}_paper" in table:
            cells = [c if pd.isna(p) else f"{c} ({_fmt(m, p)})" for c, p in zip(cells, table[f"{m}_paper"])]
        out[header(m, markup)] = cells
    return out.rename(columns={"nfe": "NFE budget"})


def header(column: str, markup: str = "md") -> str:
    """A metric's column header with unit and direction; LaTeX gets ``$\\uparrow$`` for the arrows."""
    label = metric_label(column)
    return label if markup == "md" else label.replace("↑", "$\\uparrow$").replace("↓", "$\\downarrow$")


def sampling_note(table: pd.DataFrame) -> str:
    """K and the CRPS estimator of the table's rows, as one sentence for the captions."""
    ks = sorted(int(k) for k in table["num_samples"].dropna().unique())
    estimators = sorted(table["crps_estimator"].dropna().unique())
    fair = "fair (unbiased: spread term / (2K(K-1)))" if estimators == ["fair"] else " / ".join(estimators) or "unknown"
    return (f"K = {' / '.join(map(str, ks)) or 'unknown'} posterior samples per measurement (column K): CRPS from "
            "all K against the paired test image, estimator " + fair + "; PSNR, SSIM, LPIPS, FID and MMD from the "
            "first sample. The published table states neither K nor its CRPS estimator.")


def table_notes(table: pd.DataFrame, missing: dict[str, str] | None = None) -> str:
    """The sentences every rendering of ``table`` carries: what bold, arrows and parentheses mean (parentheses
    only where a published value is shown), and why each left-out column is empty (``missing``: metric ->
    reason, from the evaluation's provenance records)."""
    missing = missing or {}
    published = any(table[f"{m}_paper"].notna().any() for m in METRICS if f"{m}_paper" in table)
    notes = ["Bold: best per task; ↑ higher is better, ↓ lower is better. NFE budget: denoiser evaluations "
             "allowed per sample (summary.csv: `nfe`; the count used is `nfe_measured`). s / image: wall-clock "
             "seconds per posterior sample; cost / uncond.: time over the unconditional sampler at the same NFE."]
    notes.append("In parentheses: the published value (paper_table_64px.csv) of the same dataset, task, method and "
                 "NFE." if published else "No published value shown: the paper reports no row of this "
                 "dataset/task/method/NFE (its 64 px FFHQ/ImageNet rows are in results/reference/paper_table_64px.csv).")
    empty = empty_metrics(table)
    if empty:
        by_reason: dict[str, list[str]] = {}
        for m in empty:
            by_reason.setdefault(missing.get(m, "not computed in this run"), []).append(metric_label(m))
        notes.append("Not shown (empty in every row): " + "; ".join(f"{', '.join(ms)}: {reason}"
                                                                   for reason, ms in by_reason.items()) + ".")
    return " ".join(notes)


def task_note(tasks: pd.DataFrame) -> str:
    """The task parameters of ``tasks.csv`` as one sentence (the operator seed stream is stated once, in words)."""
    def shown(parameters: str) -> str:
        return re.sub(r"(, )?operator_stream=.*$", "", parameters)

    return ("Tasks: " + "; ".join(f"{r.dataset}/{r.task} ({shown(r.parameters)}, sigma_y={r.sigma_y})"
                                  for r in tasks.itertuples())
            + ". Each test image's operator draws (mask, kernel) and noise come from its own seeded stream "
            "(tasks.csv, column parameters).")


def markdown(table: pd.DataFrame, notes: str) -> str:
    """One Markdown table per dataset, followed by ``notes`` (:func:`table_notes`, tasks, sampling)."""
    parts = []
    for dataset, rows in formatted(table, "md").groupby("dataset", sort=False):
        parts.append(f"### {dataset}\n\n" + rows.drop(columns="dataset").to_markdown(index=False))
    return "\n\n".join(parts) + f"\n\n{notes}\n"


def latex(table: pd.DataFrame, notes: str) -> str:
    """One ``tabular`` per dataset with the same cells as :func:`markdown`."""
    parts = []
    for dataset, rows in formatted(table, "tex").groupby("dataset", sort=False):
        body = rows.drop(columns="dataset").to_latex(index=False, escape=False)
        parts.append(f"% {dataset}\n{body}")
    return "\n".join(parts) + "% " + notes.replace("_", "\\_").replace("\n", " ") + "\n"


def parse_networks(specs: list[str]) -> dict[str, tuple[str, int]]:
    """``LABEL=SERIES:STEPS`` (the method label of a table row, the fine-tune it belongs to, its training steps)."""
    out = {}
    for spec in specs:
        label, _, rest = spec.partition("=")
        series, _, steps = rest.rpartition(":")
        if not (label and series and steps.isdigit() and int(steps) > 0):
            raise ValueError(f"--networks {spec!r}: expected LABEL=SERIES:STEPS with STEPS a positive integer")
        out[label] = (series, int(steps))
    return out


def learning_curve_table(table: pd.DataFrame, networks: dict[str, tuple[str, int]]) -> pd.DataFrame:
    """The summary rows with the ``series`` and training ``steps`` of each row's network (empty for methods
    without one); every labelled network must have rows."""
    missing = sorted(set(networks) - set(table["method"]))
    if missing:
        raise ValueError(f"--networks names {missing}, which have no rows in the summaries")
    series = table["method"].map(lambda m: networks.get(m, (None, None))[0])
    steps = table["method"].map(lambda m: networks.get(m, (None, None))[1]).astype("Float64")
    return table.assign(series=series, steps=steps)[KEYS + ["series", "steps"] + METRICS]
