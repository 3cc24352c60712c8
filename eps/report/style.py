"""One look for every figure and table of the report: a colour, a marker and a display name per method, the
paper's task order, metric labels with units and direction, and the setup line every caption carries.

A method label is a registry name (``eps``, ``dps``, ...) or a variant of one: a methods entry of the config
(``eps_dpmpp2m``, ``eps_ft1000``) or a frontier curve (``eps`` with solver ``dpmpp2m`` is labelled
``eps_dpmpp2m`` too, :func:`solver_label`). A variant keeps its method's hue in a darker or lighter shade and
its own line style, so ``pigdm`` is the same green in every figure and ``eps_dpmpp2m`` reads as EPS.
Imports no torch (the notebook and ``--help`` stay light).
"""
from __future__ import annotations

import zlib

from matplotlib.colors import to_hex, to_rgb

# The paper's task order (paper_protocol.md, Table 1 / Table 12): inpainting, super-resolution, deblurring.
TASK_ORDER = ("inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion")

# The exact posterior, registry methods in the paper's table order, reference curves; colours of the tab10 family.
METHODS = {
    # name: (display name, colour, marker)
    "exact": ("exact posterior", "#000000", "*"),  # samples of the closed-form posterior (analytic priors)
    "eps": ("EPS", "#1f77b4", "o"),
    "eps_zeroshot": ("EPS zero-shot", "#17becf", "o"),
    "eps_trained": ("EPS trained experts", "#393b79", "o"),
    "dps": ("DPS", "#d62728", "s"),
    "pigdm": ("ΠGDM", "#2ca02c", "^"),
    "ddrm": ("DDRM", "#9467bd", "D"),
    "ddnm": ("DDNM", "#8c564b", "P"),
    "daps": ("DAPS", "#ff7f0e", "X"),
    "mpgd": ("MPGD", "#7f7f7f", "v"),
    "palette": ("Palette", "#e377c2", "*"),
    "unconditional": ("unconditional", "#525252", "."),
}
UNKNOWN = ("#bcbd22", "h")  # a method not listed above (a new baseline): olive hexagons until it is added here

# Backbone solvers (eps.samplers): display name and line style of a solver variant.
SOLVERS = {"heun": ("Heun", "-"), "dpmpp2m": ("DPM++2M", "--"), "ddim": ("DDIM", "-."), "euler": ("Euler", ":"),
           "churn": ("Heun + churn", (0, (3, 1, 1, 1)))}
DEFAULT_SOLVER = "heun"

# Metric column -> axis / header label (unit, and the arrow pointing to better).
METRIC_LABELS = {
    "psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "lpips": "LPIPS ↓", "fid": "FID ↓",
    "mmd_pix": "MMD pixel ↓", "mmd_inception": "MMD Inception ↓",
    "crps_pix": "CRPS pixel ([0, 255]) ↓", "crps_inception": "CRPS Inception ↓",
    "sec_per_image": "s / image ↓", "cost_ratio": "cost / uncond. ↓",
    "ratio": "SW / SW floor ↓ (1 = exact)", "sec_per_sample": "s / sample ↓",
}


def split(label: str) -> tuple[str, str]:
    """``(method, variant)``: the longest listed method the label starts with (``eps_dpmpp2m`` -> ``eps``,
    ``dpmpp2m``; ``eps_zeroshot`` -> itself), else the label itself (an unlisted method, no variant)."""
    label = label.lower()
    if label in METHODS:
        return label, ""
    for name in sorted(METHODS, key=len, reverse=True):
        if label.startswith(name + "_"):
            return name, label[len(name) + 1:]
    return label, ""


def solver_label(method: str, solver: str | None) -> str:
    """The label of ``method`` run with backbone ``solver``: the method itself for the default solver."""
    return method if not solver or solver == DEFAULT_SOLVER else f"{method}_{solver}"


def _shade(colour: str, variant: str) -> str:
    """``colour`` darkened or lightened by a fixed amount per variant name (the same variant, the same shade)."""
    t = (zlib.crc32(variant.encode()) % 5 - 2) * 0.17 or 0.34  # one of -0.34, -0.17, 0.17, 0.34
    rgb = to_rgb(colour)
    return to_hex([c + (1 - c) * t if t > 0 else c * (1 + t) for c in rgb])


def color(label: str) -> str:
    method, variant = split(label)
    base = METHODS[method][1] if method in METHODS else UNKNOWN[0]
    return _shade(base, variant) if variant else base


def marker(label: str) -> str:
    method, _ = split(label)
    return METHODS[method][2] if method in METHODS else UNKNOWN[1]


def linestyle(label: str):
    _, variant = split(label)
    return SOLVERS[variant][1] if variant in SOLVERS else ("-" if not variant else (0, (5, 2)))


def display(label: str) -> str:
    """``ΠGDM``, ``EPS · DPM++2M``, ``EPS · ft1000``; an unlisted method keeps its name."""
    method, variant = split(label)
    name = METHODS[method][0] if method in METHODS else label
    return f"{name} · {SOLVERS[variant][0] if variant in SOLVERS else variant}" if variant else name


def method_order(labels) -> list[str]:
    """Distinct labels, listed methods in the table order above (variants after their method), others last."""
    names = list(METHODS)
    unique = list(dict.fromkeys(labels))
    return sorted(unique, key=lambda label: (names.index(split(label)[0]) if split(label)[0] in METHODS else len(names),
                                             split(label)[1] != "", unique.index(label)))


def task_order(tasks) -> list[str]:
    """Distinct tasks in the paper's order; tasks it does not list (new families) after, as given."""
    unique = list(dict.fromkeys(tasks))
    return sorted(unique, key=lambda t: (TASK_ORDER.index(t) if t in TASK_ORDER else len(TASK_ORDER), unique.index(t)))


def palette(labels) -> dict[str, str]:
    """``{label: colour}`` for seaborn's ``palette=``."""
    return {label: color(label) for label in labels}


def plot_kwargs(label: str) -> dict:
    """Matplotlib ``plot`` keywords of a label's line: colour, marker, line style and display name."""
    return dict(color=color(label), marker=marker(label), linestyle=linestyle(label), label=display(label))


def metric_label(column: str) -> str:
    return METRIC_LABELS.get(column, column)


def setup(shape: str | None = None, seeds=None, samples=None, nfe=None, hardware: str | None = None) -> str:
    """The caption's setup line, e.g. ``shape 3x16x16 · seeds 0 · K = 4 samples · NFE budget 1/20/100 · timed on
    cpu``; lists are shown as their distinct sorted values; parts left None are left out."""
    def distinct(values) -> str:
        return "/".join(str(v) for v in sorted(set(values)))

    parts = [f"shape {shape}" if shape else None,
             f"seeds {distinct(seeds)}" if seeds is not None else None,
             f"K = {distinct(samples)} samples" if samples is not None else None,
             f"NFE budget {distinct(nfe)}" if nfe is not None else None,
             f"timed on {hardware}" if hardware else None]
    return " · ".join(p for p in parts if p)
