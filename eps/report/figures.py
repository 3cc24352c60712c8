"""Figures of the report: NFE convergence, cost, the exact-posterior benchmark, the frontier, qualitative grids
and the learning curve of the trained networks.

Every function takes a tidy frame (or shard dicts), a path and a ``caption`` (the setup line of
:func:`eps.report.style.setup`: shape, seeds, samples, NFE, hardware where timed), draws with the styles of
:mod:`eps.report.style` (one colour, marker and name per method, the paper's task order) and writes the image
atomically.
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter  # noqa: E402

from ..io import atomic_path  # noqa: E402
from . import style  # noqa: E402


def save(fig, path, caption: str = "") -> None:
    """Write ``fig`` with ``caption`` (the setup line) under it, atomically (:func:`eps.io.atomic_path`)."""
    try:
        if caption:
            fig.text(0.5, 0.0, caption, ha="center", va="top", fontsize=8, color="0.25", wrap=True)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def _log_ticks(ax, values) -> None:
    """A log x axis labelled at the given values only (plain numbers, no 10^k, no minor ticks)."""
    ticks = sorted({float(v) for v in values if v > 0})
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())


def _legend(fig, axes, title: str = "method") -> None:
    """One legend for the figure, outside the panels on the right, from the labels of every panel."""
    entries = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(list(entries.values()), list(entries), title=title, loc="upper left", bbox_to_anchor=(1.0, 0.95),
                   fontsize="small", frameon=False)


def _lines(ax, frame: pd.DataFrame, x: str, y: str, label: str = "method", err: str | None = None) -> None:
    """One line per label in the style's order and look (optional error bars from column ``err``)."""
    for name in style.method_order(frame[label]):
        points = frame[frame[label] == name].sort_values(x)
        kwargs = style.plot_kwargs(name)
        if err is None:
            ax.plot(points[x], points[y], ms=5, **kwargs)
        else:
            ax.errorbar(points[x], points[y], yerr=points[err], ms=5, capsize=2, **kwargs)


def nfe_convergence(table: pd.DataFrame, path, caption: str = "", metrics=("crps_pix", "psnr")) -> None:
    """Each metric against the NFE budget (log axis, ticks at the budgets run), one panel per task (columns, the
    paper's order) and metric (rows, labelled with unit and direction), one line per method. Datasets get their
    own panel rows when the table holds more than one. Methods run at one budget are single markers."""
    metrics = [m for m in metrics if table[m].notna().any()]
    tasks = style.task_order(table["task"])
    rows = [(d, m) for d in dict.fromkeys(table["dataset"]) for m in metrics]
    several = table["dataset"].nunique() > 1
    fig, axes = plt.subplots(len(rows), len(tasks), figsize=(2.7 * len(tasks), 2.4 * len(rows)), squeeze=False,
                             sharex=True, sharey="row", layout="constrained")
    for (dataset, metric), row in zip(rows, axes):
        for ax, task in zip(row, tasks):
            _lines(ax, table[(table["dataset"] == dataset) & (table["task"] == task)].dropna(subset=[metric]),
                   "nfe", metric)
            _log_ticks(ax, table["nfe"])
            ax.grid(alpha=0.3)
        row[0].set_ylabel(style.metric_label(metric) + (f"\n{dataset}" if several else ""))
    for ax, task in zip(axes[0], tasks):
        ax.set_title(task)
    for ax in axes[-1]:
        ax.set_xlabel("NFE budget")
    _legend(fig, axes)
    save(fig, path, caption)


def cost(table: pd.DataFrame, runtime_reference: pd.DataFrame, path, caption: str = "",
         published: str = "") -> None:
    """Three panels, each on its own axis: this run's seconds per image, this run's cost ratio to the
    unconditional sampler at the same NFE, and the published ratios (``paper_runtime_imagenet64.csv``).
    Seconds of different machines, resolutions and NFE never share an axis; ratios are comparable in kind but
    the panels still keep this run and the publication apart (their setups are in the panel titles)."""
    ours = table.groupby(["method", "nfe"], as_index=False, sort=False)[["sec_per_image", "cost_ratio"]].mean()
    ours = ours.assign(cell=[f"{style.display(m)} @{n}" for m, n in zip(ours["method"], ours["nfe"])])
    ours = ours.set_index("method").loc[style.method_order(ours["method"])].reset_index()
    paper = runtime_reference.assign(method=runtime_reference["method"].str.lower()
                                     .replace({"edm-unconditional": "unconditional"}))
    paper = paper.set_index("method").loc[style.method_order(paper["method"])].reset_index()
    paper = paper.assign(cell=[f"{style.display(m)} @{n}" for m, n in zip(paper["method"], paper["nfe"])])
    height = 0.26 * max(len(ours), len(paper)) + 1.4
    fig, axes = plt.subplots(1, 3, figsize=(13, height), layout="constrained")
    panels = [(axes[0], ours, "sec_per_image", "this run: seconds per image"),
              (axes[1], ours, "cost_ratio", "this run: cost / unconditional (same NFE)"),
              (axes[2], paper, "ratio_to_unconditional_edm", f"published: cost / unconditional\n{published}")]
    for ax, frame, column, title in panels:
        y = np.arange(len(frame))
        ax.barh(y, frame[column], color=[style.color(m) for m in frame["method"]])
        ax.set_yticks(y, frame["cell"])
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(style.metric_label("cost_ratio" if column != "sec_per_image" else "sec_per_image"))
        if column != "sec_per_image":
            ax.axvline(1.0, color="k", lw=0.8)
        ax.grid(axis="x", alpha=0.3)
    save(fig, path, caption)


def gmm_ratio(gmm: pd.DataFrame, path, caption: str = "") -> None:
    """Sliced Wasserstein distance to exact posterior samples over its noise floor (1 = exact) per task and
    method@NFE budget: the mean over seeds, error bars one standard deviation over seeds (none with one seed);
    a method's smaller budgets are hatched."""
    gmm = gmm.assign(sw_over_floor=gmm["sw"] / gmm["sw_floor"])
    stats = gmm.groupby(["task", "method", "nfe"], as_index=False)["sw_over_floor"].agg(["mean", "std", "count"])
    tasks = style.task_order(stats["task"])
    budgets = {m: sorted(stats.loc[stats["method"] == m, "nfe"].unique()) for m in style.method_order(stats["method"])}
    cells = [(m, n) for m, ns in budgets.items() for n in ns]
    width = 0.8 / len(cells)
    fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 2, 3.6), layout="constrained")
    for k, (m, n) in enumerate(cells):
        rows = stats[(stats["method"] == m) & (stats["nfe"] == n)].set_index("task").reindex(tasks)
        x = np.arange(len(tasks)) - 0.4 + width * (k + 0.5)
        ax.bar(x, rows["mean"], width, yerr=rows["std"].fillna(0).where(rows["count"] > 1), capsize=2,
               color=style.color(m), label=f"{style.display(m)} @{n}", edgecolor="white", lw=0.3,
               hatch="///" if n != budgets[m][-1] else None)  # a method's smaller budgets hatched
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xticks(np.arange(len(tasks)), tasks)
    ax.set(yscale="log", ylabel=style.metric_label("ratio"))
    ax.legend(title="method @NFE budget", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    save(fig, path, caption)


def _to_image(x, size) -> np.ndarray:
    """A (C, h, w) tensor in [-1, 1] as an (H, W, C) array in [0, 1] (nearest up-sampling to ``size``)."""
    import torch.nn.functional as F

    x = F.interpolate(x[None].float(), size=size, mode="nearest")[0] if x.shape[-2:] != size else x.float()
    return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def qualitative(shards: list[dict], path, num_images: int = 4, caption: str = "") -> None:
    """Rows: test images. Columns: ground truth, the measurement next to it, then the first posterior sample of
    each shard (methods in the style's order; a shard whose ``meta["nfe"]`` is None, e.g. exact posterior
    samples, is titled without NFE), each tile with its PSNR (dB) against the ground truth."""
    from ..metrics.pixel import psnr

    first = shards[0]
    n, size = min(num_images, first["x0"].shape[0]), tuple(first["x0"].shape[-2:])
    order = style.method_order([s["meta"]["method"] for s in shards])
    shards = sorted(shards, key=lambda s: (order.index(s["meta"]["method"]), s["meta"]["nfe"] or 0))
    columns = [("ground truth", first["x0"], False), ("measurement y", first["y"], False)]
    columns += [(style.display(s["meta"]["method"]) + (f"\n@{s['meta']['nfe']} NFE" if s["meta"]["nfe"] else ""),
                 s["samples"][:, 0], True) for s in shards]
    fig, axes = plt.subplots(n, len(columns), figsize=(1.25 * len(columns), 1.35 * n + 0.6), squeeze=False)
    for j, (title, images, scored) in enumerate(columns):
        scores = psnr(images[:n].float().clamp(-1, 1), first["x0"][:n].float()) if scored else None
        axes[0, j].set_title(title, fontsize=7)
        for i in range(n):
            axes[i, j].imshow(_to_image(images[i], size))
            axes[i, j].set_xticks([])
            axes[i, j].set_yticks([])
            if scored:
                axes[i, j].set_xlabel(f"{float(scores[i]):.1f} dB", fontsize=7, labelpad=1)
    for ax in axes[:, 1]:
        for spine in ax.spines.values():
            spine.set(color="0.4", lw=1.5)
    fig.suptitle(f"{first['meta']['dataset']} · {first['meta']['task']} · first posterior sample per method, "
                 "PSNR against the ground truth under each tile", fontsize=8)
    save(fig, path, caption)


def frontier(table: pd.DataFrame, path, caption: str = "") -> None:
    """The NFE-accuracy frontier (``eps frontier``): ``sw / sw_floor`` against the measured NFE, one panel per task
    (paper order) and a last panel of seconds per sample, in a grid; one line per method and backbone solver
    (log-log, 1 = exact, ticks at the NFE budgets), one legend for all."""
    table = table.assign(label=[style.solver_label(m, s) for m, s in zip(table["method"], table["solver"].fillna(""))])
    tasks = style.task_order(table["task"])
    cols = min(3, len(tasks) + 1)
    rows = math.ceil((len(tasks) + 1) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.8 * rows), squeeze=False, layout="constrained")
    flat = list(axes.flat)
    x = "nfe_measured" if "nfe_measured" in table else "nfe"
    for ax, task in zip(flat, tasks):
        _lines(ax, table[table["task"] == task], x, "ratio", "label")
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set(yscale="log", title=task, ylabel=style.metric_label("ratio"), xlabel="NFE (measured)")
        _log_ticks(ax, table["nfe"])
    wall = flat[len(tasks)]
    per_sample = table.groupby(["label", x], as_index=False)["sec_per_sample"].mean()
    _lines(wall, per_sample, x, "sec_per_sample", "label")
    wall.set(yscale="log", title="wall time (mean over tasks)", ylabel=style.metric_label("sec_per_sample"),
             xlabel="NFE (measured)")
    _log_ticks(wall, table["nfe"])
    for ax in flat[len(tasks) + 1:]:
        ax.axis("off")
    for ax in flat[:len(tasks) + 1]:
        ax.grid(alpha=0.3)
    _legend(fig, flat[:len(tasks)], title="method · solver")
    save(fig, path, caption)


def learning_curve(table: pd.DataFrame, path, caption: str = "", metrics=("psnr", "crps_pix")) -> None:
    """Each metric against the training steps of the networks (``learning_curve_table``): one line per series of
    networks (one fine-tune and its continuations) and NFE budget (smaller budgets fainter), one panel per task
    (columns) and metric (rows); methods without a trained network are dashed horizontal lines (their value does
    not depend on these steps)."""
    tasks = style.task_order(table["task"])
    trained, fixed = table[table["steps"].notna()], table[table["steps"].isna()]
    steps = sorted(trained["steps"].unique())
    fig, axes = plt.subplots(len(metrics), len(tasks), figsize=(3.0 * len(tasks), 2.6 * len(metrics)),
                             squeeze=False, sharex=True, layout="constrained")
    for row, metric in zip(axes, metrics):
        for ax, task in zip(row, tasks):
            points = trained[trained["task"] == task]
            for name in style.method_order(points["series"]):
                budgets = sorted(points.loc[points["series"] == name, "nfe"].unique())
                for k, nfe in enumerate(budgets):
                    line = points[(points["series"] == name) & (points["nfe"] == nfe)].sort_values("steps")
                    kwargs = style.plot_kwargs(name) | dict(label=f"{style.display(name)} @{nfe}",
                                                            alpha=1.0 if k == len(budgets) - 1 else 0.55)
                    ax.plot(line["steps"], line[metric], ms=5, **kwargs)
            for r in fixed[fixed["task"] == task].itertuples():
                ax.axhline(getattr(r, metric), ls="--", lw=0.9, color=style.color(r.method),
                           label=f"{style.display(r.method)} @{r.nfe}")
            _log_ticks(ax, steps)
            ax.set(title=task if metric == metrics[0] else "")
        row[0].set_ylabel(style.metric_label(metric))
    for ax in axes[-1]:
        ax.set_xlabel("fine-tuning steps")
    _legend(fig, axes, title="network series / method @NFE")
    save(fig, path, caption)
