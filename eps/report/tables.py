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

import pandas as pd

from ..io import read_csv

KEYS = ["dataset", "task", "method", "nfe"]
METRICS = ["psnr", "ssim", "lpips", "fid", "mmd_pix", "mmd_inception", "crps_pix", "crps_inception"]
COST = ["sec_per_image", "cost_ratio"]
SAMPLING = ["num_samples", "crps_estimator", "sample_set"]
COLUMNS = KEYS + SAMPLING + METRICS + ["nfe_measured"] + COST
HIGHER_IS_BETTER = {"psnr", "ssim"}
FORMATS = {"psnr": "{:.2f}", "ssim": "{:.4f}", "lpips": "{:.4f}", "fid": "{:.2f}", "sec_per_image": "{:.3g}",
           "cost_ratio": "{:.3f}", "num_samples": "{:.0f}"}  # everything else: 3 significant digits


def summary_table(frames: list[pd.DataFrame], order: list[str] | None = None) -> pd.DataFrame:
    """Concatenate per-cell summaries into the table's columns, rows sorted by dataset, task, method, NFE.

    ``order`` fixes the method order (default: alphabetical); metrics a summary lacks are NaN.
    """
    table = pd.concat(frames, ignore_index=True).reindex(columns=COLUMNS)
    methods = order or sorted(table["method"].unique())
    table["method"] = pd.Categorical(table["method"], categories=list(dict.fromkeys(methods)), ordered=True)
    table = table.sort_values(KEYS, kind="stable").reset_index(drop=True)
    table["method"] = table["method"].astype(str)
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


def formatted(table: pd.DataFrame, markup: str) -> pd.DataFrame:
    """Strings for display: the best value of each metric within a (dataset, task) in bold, the published
    value in parentheses where there is one. ``markup`` is ``"md"`` or ``"tex"``."""
    bold = "**{}**" if markup == "md" else "\\textbf{{{}}}"
    out = table[KEYS].astype(str)
    if markup == "tex":
        out = out.apply(lambda col: col.str.replace("_", "\\_"))
    out["K"] = [_fmt("num_samples", k) for k in table["num_samples"]]
    for m in METRICS + COST:
        best = table.groupby(["dataset", "task"])[m].transform("max" if m in HIGHER_IS_BETTER else "min")
        cells = [bold.format(_fmt(m, v)) if m in METRICS and v == b else _fmt(m, v)
                 for v, b in zip(table[m], best)]
        if f"{m}_paper" in table:
            cells = [c if pd.isna(p) else f"{c} ({_fmt(m, p)})" for c, p in zip(cells, table[f"{m}_paper"])]
        out[m] = cells
    return out


def sampling_note(table: pd.DataFrame) -> str:
    """K and the CRPS estimator of the table's rows, as one sentence for the captions."""
    ks = sorted(int(k) for k in table["num_samples"].dropna().unique())
    estimators = sorted(table["crps_estimator"].dropna().unique())
    names = {"fair": "fair (unbiased: spread term / (2K(K-1)))", "nrg": "plug-in (spread term / (2K^2), App. F)"}
    crps = " / ".join(names.get(e, e) for e in estimators) or "unknown"
    sets = set(table["sample_set"].dropna().unique()) if "sample_set" in table else set()
    which = {"all": "averaged over all K samples (PSNR, SSIM, LPIPS) and pooled over all samples (FID, MMD)",
             "first": "from the first sample of each measurement"}
    others = "; ".join(which[s] for s in sorted(sets) if s in which) or "sample set unknown"
    return (f"K = {' / '.join(map(str, ks)) or 'unknown'} posterior samples per measurement (column K): CRPS from "
            f"all K against the paired test image, estimator {crps}; the other metrics {others}. The paper: "
            "100 images x K = 10, per-sample metrics averaged (Table 5 caption).")


def markdown(table: pd.DataFrame, notes: str) -> str:
    """One Markdown table per dataset, followed by ``notes`` (task parameters, sigma_y)."""
    parts = []
    for dataset, rows in formatted(table, "md").groupby("dataset", sort=False):
        parts.append(f"### {dataset}\n\n" + rows.drop(columns="dataset").to_markdown(index=False))
    return "\n\n".join(parts) + f"\n\nBold: best per task. (Published value in parentheses.) {notes}\n"


def latex(table: pd.DataFrame, notes: str) -> str:
    """One ``tabular`` per dataset with the same cells as :func:`markdown`."""
    parts = []
    for dataset, rows in formatted(table, "tex").groupby("dataset", sort=False):
        body = rows.drop(columns="dataset").to_latex(index=False, escape=False)
        parts.append(f"% {dataset}\n{body}")
    return "\n".join(parts) + "% " + notes.replace("_", "\\_") + "\n"


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


SETTING_COLUMNS = ["dataset", "task", "method", "nfe", "protocol", "solver", "setting", "value", "source"]


def method_settings_table(metas: list[dict]) -> pd.DataFrame:
    """``methods.csv``: every setting each (dataset, task, method, NFE) cell ran with, its value and source, read
    from the shards' ``meta["settings"]`` (``eps.protocols``); cells from shards without it are left out."""
    import json

    rows, seen = [], set()
    for meta in metas:
        key = tuple(meta.get(k) for k in KEYS)
        if key in seen or "settings" not in meta:
            continue
        seen.add(key)
        for setting, (value, source) in json.loads(meta["settings"]).items():
            rows.append({**dict(zip(KEYS, key)), "protocol": meta.get("protocol", ""), "solver": meta.get("solver", ""),
                         "setting": setting, "value": value if isinstance(value, str) else json.dumps(value),
                         "source": source})
    return pd.DataFrame(rows, columns=SETTING_COLUMNS)


def paper_comparison(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``paper_comparison.csv``: one row per (dataset, task, method, NFE, metric) that the published table has,
    with ``ours``, ``paper`` and ``difference = ours - paper`` (NaN where we have no number, e.g. offline
    Inception metrics)."""
    ours = table.melt(id_vars=KEYS, value_vars=METRICS, var_name="metric", value_name="ours")
    paper = reference.melt(id_vars=KEYS, value_vars=METRICS, var_name="metric", value_name="paper")
    out = ours.merge(paper.dropna(subset=["paper"]), on=KEYS + ["metric"], how="inner")
    return out.assign(difference=out["ours"] - out["paper"])[KEYS + ["metric", "ours", "paper", "difference"]]


def paper_comparison_markdown(comparison: pd.DataFrame) -> str:
    """The comparison as one Markdown table per dataset: ``ours (paper, difference)`` per metric."""
    if comparison.empty:
        return "No cell of this run is in the published table (datasets ffhq64 / imagenet64 only).\n"
    cells = comparison.assign(cell=[f"{_fmt(m, o)} ({_fmt(m, p)}, {'+' if d >= 0 else ''}{_fmt(m, d)})"
                                    if not pd.isna(d) else f"– ({_fmt(m, p)})"
                                    for m, o, p, d in comparison[["metric", "ours", "paper", "difference"]].itertuples(index=False)])
    wide = cells.pivot_table(index=KEYS, columns="metric", values="cell", aggfunc="first").reset_index()
    wide = wide[KEYS + [m for m in METRICS if m in wide.columns]]
    parts = [f"### {d}\n\n" + rows.drop(columns="dataset").to_markdown(index=False)
             for d, rows in wide.groupby("dataset", sort=False)]
    return "\n\n".join(parts) + "\n\nEach cell: ours (published, ours - published).\n"
