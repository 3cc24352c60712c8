"""The five measurement operators of the benchmark, built by name from a config.

    make_operator("inpaint_random", (3, 64, 64), batch_size=8, generator=g, missing=0.7)

Defaults: the task families of the released DPS/DAPS code (docs/method.md §6; each module's docstring cites the
file and commit), with sizes for the 16x16 embedded benchmark (the GMM benchmark runs them at 8x8;
``config/paper.yaml`` states the 64-px values). Override any of them from the config.

    inpaint_random  missing=0.7                               70% of pixels missing, i.i.d.
    inpaint_box     box_fraction=0.5, margin_fraction=0.0625,  DPS random_sq_bbox: 128x128 box, margin 16 at
                    position=random                            256 px (8x8, margin 1 at 16 px)
    sr4             factor=4, filter=bicubic                   DPS Resizer: antialiased Keys bicubic, reflect
    deblur_gauss    kernel_size=9, std=1.0, boundary=reflect   DPS Blurkernel Gaussian (scipy), reflect padding
    deblur_motion   kernel_size=9, intensity=0.5,              motionblur-library kernel; periodic boundary
                    kernel=motionblur, boundary=periodic       (the only exact-SVD route for a 2-D kernel)

DPS's 256-px blurs (kernel 61, std 3.0) scaled by 16/256 would be a 0.19-px Gaussian, numerically the
identity; the 16-px defaults keep std = 1 px and the kernel size 9 = 2 int(4 std + 0.5) + 1 (scipy's full
truncated support), and the same 9x9 support for the motion kernel. Options (released behaviour first):
``filter: bicubic|box``, ``boundary: reflect|periodic`` (deblur_gauss), ``position: random|center``.
Random draws (mask, box corner, motion path) come from the ``generator`` passed in, in that order per
sample; ``eps sample`` passes the measurement stream ``rng.stream_seed(seed, 0, image)``.
"""
from __future__ import annotations

import math

from pathlib import Path

import torch

from ..io import load_torch
from ..names import TASKS
from .base import LinearOperator
from .blur import BOUNDARIES, GaussianBlur, MotionBlur, ReflectGaussianBlur, reflect_blur
from .inpainting import BoxInpainting, RandomInpainting, box_mask, random_mask
from .kernels import gaussian_kernel, gaussian_kernel_1d, motion_kernel
from .superres import FILTERS, BicubicSuperResolution, SuperResolution, bicubic_superresolution


DEFAULTS: dict[str, dict] = {
    "inpaint_random": {"missing": 0.7},
    "inpaint_box": {"box_fraction": 0.5, "margin_fraction": 0.0625, "position": "random"},
    "sr4": {"factor": 4, "filter": "bicubic"},
    "deblur_gauss": {"kernel_size": 9, "std": 1.0, "boundary": "reflect"},
    "deblur_motion": {"kernel_size": 9, "intensity": 0.5, "kernel": "motionblur", "boundary": "periodic"},
}

# Closed choices of the string parameters (the first is the released behaviour).
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("inpaint_box", "position"): ("random", "center"),
    ("sr4", "filter"): FILTERS,
    ("deblur_gauss", "boundary"): BOUNDARIES,
    ("deblur_motion", "kernel"): ("motionblur",),
    ("deblur_motion", "boundary"): ("periodic",),
}

# Valid values of the numeric parameters (a test and how the error states it): a factor of 0 or a negative width
# would otherwise fail deep inside an operator's constructor.
RANGES: dict[str, tuple] = {
    "missing": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "box_fraction": (lambda v: 0 < v <= 1, "in (0, 1]"),
    "margin_fraction": (lambda v: 0 <= v < 0.5, "in [0, 0.5)"),
    "factor": (lambda v: v >= 1 and float(v).is_integer(), "an integer >= 1"),
    "kernel_size": (lambda v: v >= 1 and float(v).is_integer(), "an integer >= 1"),
    "std": (lambda v: v > 0, "> 0"),
    "intensity": (lambda v: 0 <= v <= 1, "in [0, 1]"),
}

_CLASSES = {cls.__name__: cls for cls in (RandomInpainting, BoxInpainting, BicubicSuperResolution, SuperResolution,
                                          ReflectGaussianBlur, GaussianBlur, MotionBlur)}


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def task_params(task: str, **overrides) -> dict:
    """The defaults of ``task`` updated with ``overrides``; an unknown parameter is an error."""
    params = dict(DEFAULTS[check_task(task)])
    unknown = set(overrides) - set(params)
    if unknown:
        raise ValueError(f"{task}: unknown parameter(s) {sorted(unknown)}; valid: {sorted(params)}")
    params.update(overrides)
    for (t, key), valid in CHOICES.items():
        if t == task and params[key] not in valid:
            raise ValueError(f"{task}: {key} must be one of {', '.join(valid)}, got {params[key]!r}")
    for key, (test, text) in RANGES.items():
        value = params.get(key)
        if key in params and not (isinstance(value, (int, float)) and not isinstance(value, bool)
                                  and math.isfinite(value) and test(value)):
            raise ValueError(f"{task}: {key} must be {text}, got {value!r}")
    return params


def make_operator(task: str, image_shape, batch_size: int = 1, generator: torch.Generator | None = None,
                  **overrides) -> LinearOperator:
    """Draw ``batch_size`` operator instances of ``task`` (masks/kernels reproducible from ``generator``)."""
    p = task_params(task, **overrides)
    if task == "inpaint_random":
        return RandomInpainting(image_shape, random_mask(image_shape, batch_size, p["missing"], generator))
    if task == "inpaint_box":
        mask = box_mask(image_shape, batch_size, p["box_fraction"], p["margin_fraction"], p["position"], generator)
        return BoxInpainting(image_shape, mask)
    if task == "sr4":
        if p["filter"] == "bicubic":
            return bicubic_superresolution(image_shape, int(p["factor"]))
        return SuperResolution(image_shape, torch.tensor([float(p["factor"])]))
    if task == "deblur_gauss":
        if p["boundary"] == "reflect":
            return reflect_blur(image_shape, gaussian_kernel_1d(int(p["kernel_size"]), float(p["std"])))
        return GaussianBlur(image_shape, gaussian_kernel(int(p["kernel_size"]), float(p["std"]), batch_size))
    return MotionBlur(image_shape, motion_kernel(int(p["kernel_size"]), float(p["intensity"]), batch_size, generator))


def save_operator(op: LinearOperator, path: str | Path) -> None:
    """Save an operator instance (task, image shape and parameter tensors) as a plain dict."""
    torch.save({"task": op.task, "operator": type(op).__name__, "image_shape": list(op.image_shape),
                "params": {k: v.cpu() for k, v in op.params().items()}}, path)


def load_operator(path: str | Path) -> LinearOperator:
    """Load what :func:`save_operator` wrote (``weights_only`` loading: tensors and plain containers only)."""
    state = load_torch(path, "operator file")
    try:
        check_task(state["task"])
        return _CLASSES[state["operator"]](tuple(state["image_shape"]), **state["params"])
    except Exception as err:  # one clear line naming the file
        raise ValueError(f"cannot load operator from {path}: {err}") from err


__all__ = ["LinearOperator", "TASKS", "DEFAULTS", "CHOICES", "make_operator", "task_params", "check_task",
           "save_operator", "load_operator"]
