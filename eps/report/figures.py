"""Figures of the report: NFE convergence, cost, the exact-posterior benchmark, qualitative grids and the
learning curve of the trained networks.

Every function takes a tidy frame (or shard dicts) and a path, draws with seaborn/matplotlib, and writes
the image atomically.
"""
from __future__ import annotations


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from ..io import atomic_path  # noqa: E402


def save(fig, path) -> None:
    """Write ``fig`` atomically (:func:`eps.io.atomic_path`), then close it."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)


def nfe_convergence(table: pd.DataFrame, path, metrics=("crps_pix", "psnr")) -> None:
    """Each metric against the NFE budget, one panel per task (columns) and metric (rows), one line per method.

    The x axis is symmetric-log (linear below 1), so a method that makes no denoiser call (NFE 0) is shown too.
    Datasets get their own line style only when the table holds more than one."""
    tidy = table.melt(id_vars=["dataset", "task", "method", "nfe"], value_vars=list(metrics), var_name="metric")
    several = tidy["dataset"].nunique() > 1
    grid = sns.relplot(tidy.dropna(subset=["value"]), x="nfe", y="value", hue="method",
                       style="dataset" if several else None, row="metric", col="task", kind="line", marker="o",
                       height=2.6, aspect=1.15, facet_kws={"sharey": "row", "margin_titles": True})
    grid.set(xscale="symlog")
    for ax in grid.axes.flat:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(left=-0.2)
    grid.set_titles(col_template="{col_name}", row_template="{row_name}")
    grid.set_axis_labels("NFE budget", "")
    save(grid.figure, path)


def cost(table: pd.DataFrame, runtime_reference: pd.DataFrame, path, device: str = "this machine") -> None:
    """Left: seconds per generated image of this run. Right: the ratio to the unconditional sampler at the
    same NFE, this run next to the published ratios (``paper_runtime_imagenet64.csv``): ratios compare
    across machines, seconds do not, so the published seconds stay in the table, not on this axis."""
    ours = table.assign(cell=table["method"] + "@" + table["nfe"].astype(str), source=f"this run ({device})")
    paper = runtime_reference.rename(columns={"ratio_to_unconditional_edm": "cost_ratio"})
    paper = paper.assign(cell=paper["method"].str.lower() + "@" + paper["nfe"].astype(str),
                         source=f"published ({', '.join(paper['gpu'].unique())})")
    ratios = pd.concat([ours, paper], ignore_index=True)
    height = 0.28 * max(ours["cell"].nunique(), ratios["cell"].nunique()) + 1.6
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, height), layout="constrained")
    seconds = ours.groupby("cell", sort=False)["sec_per_image"].mean().reset_index()
    sns.barplot(seconds, y="cell", x="sec_per_image", ax=left, color="C0", errorbar=None)
    left.set(xlabel=f"seconds per image ({device})", ylabel="method@NFE budget", title="time (this run)")
    sns.barplot(ratios, y="cell", x="cost_ratio", hue="source", ax=right, errorbar=None)
    right.axvline(1.0, color="k", lw=0.8)
    right.set(xlabel="cost / unconditional sampler at the same NFE", ylabel="", title="cost ratio")
    right.legend(loc="lower right", fontsize="small")
    save(fig, path)


def gmm_ratio(gmm: pd.DataFrame, path) -> None:
    """Sliced Wasserstein distance to exact posterior samples over its noise floor (1 = exact), per task."""
    gmm = gmm.assign(sw_over_floor=gmm["sw"] / gmm["sw_floor"], cell=gmm["method"] + "@" + gmm["nfe_budget"].astype(str))
    fig, ax = plt.subplots(figsize=(10, 4), layout="constrained")
    sns.barplot(gmm, x="task", y="sw_over_floor", hue="cell", ax=ax)
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set(yscale="log", ylabel="sw / sw_floor (1 = exact)", xlabel="")
    ax.legend(title="method@NFE budget", loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    save(fig, path)


def _to_image(x: torch.Tensor, size) -> torch.Tensor:
    """A (C, h, w) tensor in [-1, 1] as an (H, W, C) array in [0, 1] (nearest up-sampling to ``size``)."""
    x = F.interpolate(x[None].float(), size=size, mode="nearest")[0] if x.shape[-2:] != size else x.float()
    return ((x.clamp(-1, 1) + 1) / 2).permute(1, 2, 0)


def qualitative(shards: list[dict], path, num_images: int = 4) -> None:
    """Rows: test images. Columns: the measurement, the first posterior sample of each shard, ground truth."""
    first = shards[0]
    n, size = min(num_images, first["x0"].shape[0]), tuple(first["x0"].shape[-2:])
    columns = [("measurement", first["y"])]
    columns += [(f"{s['meta']['method']}@{s['meta']['nfe']}", s["samples"][:, 0]) for s in shards]
    columns += [("ground truth", first["x0"])]
    fig, axes = plt.subplots(n, len(columns), figsize=(1.3 * len(columns), 1.3 * n + 0.4), squeeze=False)
    for j, (title, images) in enumerate(columns):
        axes[0, j].set_title(title, fontsize=7)
        for i in range(n):
            axes[i, j].imshow(_to_image(images[i], size).numpy())
            axes[i, j].axis("off")
    fig.suptitle(f"{first['meta']['dataset']} · {first['meta']['task']}", fontsize=9)
    save(fig, path)


def frontier(table: pd.DataFrame, path) -> None:
    """The NFE-accuracy frontier (``eps frontier``): ``sw / sw_floor`` against measured NFE, one panel per task
    and one line per method and solver (log-log, 1 = exact), and seconds per sample against NFE."""
    solver = table["solver"].fillna("") + ("/" + table["grid"].fillna("") if "grid" in table else "")
    table = table.assign(label=table["method"] + solver.map(lambda s: f" ({s})" if s.strip("/") else ""))
    tasks = list(dict.fromkeys(table["task"]))
    fig, axes = plt.subplots(1, len(tasks) + 1, figsize=(3.2 * (len(tasks) + 1), 3.2))
    for ax, task in zip(axes, tasks):
        sns.lineplot(table[table["task"] == task], x="nfe", y="ratio", hue="label", marker="o", ax=ax,
                     legend=ax is axes[0])
        ax.axhline(1.0, color="k", lw=0.8)
        ax.set(xscale="log", yscale="log", title=task, ylabel="sw / sw_floor")
    per_sample = table.groupby(["label", "nfe"], as_index=False)["sec_per_sample"].mean()
    sns.lineplot(per_sample, x="nfe", y="sec_per_sample", hue="label", marker="o", ax=axes[-1], legend=False)
    axes[-1].set(xscale="log", yscale="log", title="wall time", ylabel="seconds per sample")
    if axes[0].get_legend() is not None:
        sns.move_legend(axes[0], "upper left", bbox_to_anchor=(0, -0.2), ncol=4, fontsize="small")
    save(fig, path)


def learning_curve(table: pd.DataFrame, path, metrics=("psnr", "crps_pix")) -> None:
    """Each metric against the training steps of the networks (``learning_curve_table``): one line per series of
    networks (one fine-tune and its continuations), one panel per task (columns) and metric (rows); methods
    without a trained network are horizontal lines (their value does not depend on these steps)."""
    tasks = list(dict.fromkeys(table["task"]))
    trained, fixed = table[table["steps"].notna()], table[table["steps"].isna()]
    series, lines = list(dict.fromkeys(trained["series"])), list(dict.fromkeys(fixed["method"] + "@" + fixed["nfe"].astype(str)))
    colors = dict(zip(series + lines, sns.color_palette("tab10", len(series) + len(lines))))
    steps = sorted(trained["steps"].unique())
    fig, axes = plt.subplots(len(metrics), len(tasks), figsize=(3.0 * len(tasks), 2.8 * len(metrics)),
                             squeeze=False, sharex=True)
    for row, metric in zip(axes, metrics):
        for ax, task in zip(row, tasks):
            for name in series:
                points = trained[(trained["task"] == task) & (trained["series"] == name)].sort_values("steps")
                ax.plot(points["steps"], points[metric], marker="o", color=colors[name], label=name)
            for r in fixed[fixed["task"] == task].itertuples():
                ax.axhline(getattr(r, metric), ls="--", lw=0.9, color=colors[f"{r.method}@{r.nfe}"],
                           label=f"{r.method}@{r.nfe}")
            ax.set_xscale("log")
            ax.set_xticks(steps, [str(int(s)) for s in steps])
            ax.minorticks_off()
            ax.set(title=task if metric == metrics[0] else "", ylabel=metric,
                   xlabel="fine-tuning steps" if metric == metrics[-1] else "")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.0, 0.95), fontsize="small")
    fig.tight_layout()
    save(fig, path)
