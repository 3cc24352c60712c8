"""The five measurement operators of the benchmark, built by name from a config.

    make_operator("inpaint_random", (3, 64, 64), batch_size=8, generator=g, missing=0.7)

Defaults (METHOD.md §6; override any of them from the config):

    inpaint_random  missing=0.7                          70% of pixels missing, i.i.d.
    inpaint_box     box_fraction=0.5, position="center"  square hole of half the image side
    sr4             factor=4                             4x block-average down-sampling
    deblur_gauss    kernel_size=9, std=1.5               periodic Gaussian blur
    deblur_motion   kernel_size=9, intensity=0.5         periodic seeded camera-shake blur
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..io import load_torch
from .base import LinearOperator
from .blur import GaussianBlur, MotionBlur
from .inpainting import BoxInpainting, RandomInpainting, box_mask, random_mask
from .kernels import gaussian_kernel, motion_kernel
from .superres import SuperResolution

TASKS = ("inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion")

DEFAULTS: dict[str, dict] = {
    "inpaint_random": {"missing": 0.7},
    "inpaint_box": {"box_fraction": 0.5, "position": "center"},
    "sr4": {"factor": 4},
    "deblur_gauss": {"kernel_size": 9, "std": 1.5},
    "deblur_motion": {"kernel_size": 9, "intensity": 0.5},
}

_CLASSES = {
    "inpaint_random": RandomInpainting,
    "inpaint_box": BoxInpainting,
    "sr4": SuperResolution,
    "deblur_gauss": GaussianBlur,
    "deblur_motion": MotionBlur,
}


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
    return params


def make_operator(task: str, image_shape, batch_size: int = 1, generator: torch.Generator | None = None,
                  **overrides) -> LinearOperator:
    """Draw ``batch_size`` operator instances of ``task`` (masks/kernels reproducible from ``generator``)."""
    p = task_params(task, **overrides)
    if task == "inpaint_random":
        return RandomInpainting(image_shape, random_mask(image_shape, batch_size, p["missing"], generator))
    if task == "inpaint_box":
        return BoxInpainting(image_shape, box_mask(image_shape, batch_size, p["box_fraction"], p["position"], generator))
    if task == "sr4":
        return SuperResolution(image_shape, torch.tensor([float(p["factor"])]))
    if task == "deblur_gauss":
        return GaussianBlur(image_shape, gaussian_kernel(int(p["kernel_size"]), float(p["std"]), batch_size))
    return MotionBlur(image_shape, motion_kernel(int(p["kernel_size"]), float(p["intensity"]), batch_size, generator))


def save_operator(op: LinearOperator, path: str | Path) -> None:
    """Save an operator instance (task, image shape and parameter tensors) as a plain dict."""
    torch.save({"task": op.task, "image_shape": list(op.image_shape),
                "params": {k: v.cpu() for k, v in op.params().items()}}, path)


def load_operator(path: str | Path) -> LinearOperator:
    """Load what :func:`save_operator` wrote (``weights_only`` loading: tensors and plain containers only)."""
    state = load_torch(path, "operator file")
    try:
        return _CLASSES[check_task(state["task"])](tuple(state["image_shape"]), **state["params"])
    except Exception as err:  # one clear line naming the file
        raise ValueError(f"cannot load operator from {path}: {err}") from err


__all__ = ["LinearOperator", "TASKS", "DEFAULTS", "make_operator", "task_params", "check_task",
           "save_operator", "load_operator"]
