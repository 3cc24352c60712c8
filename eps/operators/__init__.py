"""The five measurement operators of the benchmark, built by name from a config.

    make_operator("inpaint_random", (3, 64, 64), batch_size=8, generator=g, split="train")

Defaults (:data:`DEFAULTS`): the EPS paper's task families (App. B, Sec. 3.2, Sec. 4.1;
``docs/protocol.md``), stated for the 16x16 embedded benchmark; geometry is given as fractions of the image side
(or, for motion lengths, in pixels of a ``reference_size`` image), so the same parameters serve the 8x8 GMM
benchmark and the 64-px paper run. ``eps.protocols`` holds the alternative DPS/DAPS release families
(:data:`RELEASED`). ``split="eval"`` draws the evaluation operators, ``split="train"`` the App. B training
randomisation (identical where the paper uses one fixed operator).

    task            parameters (paper family)                           at 64 / 16 / 8 px
    inpaint_random  missing=0.7, train_missing=0.7                      70% missing i.i.d. at every size; training
                                                                        density: App. B says both U(50%, 70%) and
                                                                        "default 70%"; D.9 "trained at 70%": 70%,
                                                                        [0.5, 0.7] is the option
    inpaint_box     box_fraction=0.5, margin_fraction=0.0625,           eval: centred 32 / 8 / 4 px square (size
                    position=center, train_box=rectangle,               not stated by the paper: ours, see below);
                    train_sides=[0.25, 0.5]                             train: rectangle, sides 16-32 / 4-8 / 2-4
                                                                        px, margin 4 / 1 / 1 px
    sr4             factor=4, filter=box                                4x4 block mean (nearest-upsample adjoint)
    deblur_gauss    kernel_size=11, std=0.75, boundary=periodic         the paper's pixel values at every size (a
                                                                        16/64-scaled 0.19-px std is the identity)
    deblur_motion   kernel=line, lengths=[7, 9, 11, 13, 15],            straight line, length uniform on the list
                    reference_size=64, boundary=periodic                x H / 64 px (7-15 / 1.75-3.75 /
                                                                        0.875-1.875 px), angle U[0, 180) degrees

The evaluation box is a centred square of half the side: the largest box of the training range (App. B: sides
H/4 to H/2), so evaluation stays inside the training distribution, and the DPS/DAPS convention (128 of 256 px)
that the paper's baselines were tuned with. Option values (the paper's first): ``position: center|random``,
``train_box: rectangle|eval``, ``filter: box|bicubic``, ``boundary: periodic|reflect`` (deblur_gauss),
``kernel: line|motionblur`` (deblur_motion; ``motionblur`` takes ``kernel_size`` and ``intensity`` instead of
``lengths`` and ``reference_size``). Random draws (mask, box, kernel) come from the ``generator`` passed in, in
that order per sample; ``eps sample`` passes the measurement stream ``rng.stream_seed(seed, 0, image)``.
"""
from __future__ import annotations

import math

from pathlib import Path

import torch

from ..io import load_torch
from ..names import TASKS
from .base import LinearOperator
from .blur import BOUNDARIES, GaussianBlur, MotionBlur, ReflectGaussianBlur, reflect_blur
from .inpainting import BoxInpainting, RandomInpainting, box_mask, random_mask, rectangle_mask
from .kernels import gaussian_kernel, gaussian_kernel_1d, line_motion_kernels, motion_kernel
from .superres import FILTERS, BicubicSuperResolution, SuperResolution, bicubic_superresolution

SPLITS = ("eval", "train")

DEFAULTS: dict[str, dict] = {
    "inpaint_random": {"missing": 0.7, "train_missing": 0.7},
    "inpaint_box": {"box_fraction": 0.5, "margin_fraction": 0.0625, "position": "center", "train_box": "rectangle",
                    "train_sides": [0.25, 0.5]},
    "sr4": {"factor": 4, "filter": "box"},
    "deblur_gauss": {"kernel_size": 11, "std": 0.75, "boundary": "periodic"},
    "deblur_motion": {"kernel": "line", "lengths": [7, 9, 11, 13, 15], "reference_size": 64, "boundary": "periodic"},
}

# The DPS/DAPS release families at 16 px (docs/method.md §6; each module's docstring cites file and commit):
# DPS 128/256 box at a random position, antialiased bicubic resizer, reflect Gaussian of std 1 px (DPS's
# 3.0/256 scaled would be the identity; support 9 = scipy's 4-std truncation), motionblur-library kernels of 9.
RELEASED: dict[str, dict] = {
    "inpaint_random": {"missing": 0.7, "train_missing": 0.7},
    "inpaint_box": {"box_fraction": 0.5, "margin_fraction": 0.0625, "position": "random", "train_box": "eval",
                    "train_sides": [0.25, 0.5]},
    "sr4": {"factor": 4, "filter": "bicubic"},
    "deblur_gauss": {"kernel_size": 9, "std": 1.0, "boundary": "reflect"},
    "deblur_motion": {"kernel": "motionblur", "kernel_size": 9, "intensity": 0.5, "boundary": "periodic"},
}

# Parameters of one kernel family of deblur_motion only: family -> its parameters' defaults.
MOTION_FAMILIES: dict[str, dict] = {
    "line": {"lengths": [7, 9, 11, 13, 15], "reference_size": 64},
    "motionblur": {"kernel_size": 9, "intensity": 0.5},
}

# Closed choices of the string parameters (the paper's first).
CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("inpaint_box", "position"): ("center", "random"),
    ("inpaint_box", "train_box"): ("rectangle", "eval"),
    ("sr4", "filter"): tuple(reversed(FILTERS)),
    ("deblur_gauss", "boundary"): tuple(reversed(BOUNDARIES)),
    ("deblur_motion", "kernel"): tuple(MOTION_FAMILIES),
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
    """The defaults of ``task`` updated with ``overrides``; an unknown parameter is an error.

    ``deblur_motion`` takes the parameters of its ``kernel`` family (:data:`MOTION_FAMILIES`)."""
    params = dict(DEFAULTS[check_task(task)])
    if task == "deblur_motion":
        family = overrides.get("kernel", params["kernel"])
        if family not in MOTION_FAMILIES:
            raise ValueError(f"{task}: kernel must be one of {', '.join(MOTION_FAMILIES)}, got {family!r}")
        params = {k: v for k, v in params.items() if k not in MOTION_FAMILIES[params["kernel"]]}
        params.update(MOTION_FAMILIES[family])
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
                  split: str = "eval", **overrides) -> LinearOperator:
    """Draw ``batch_size`` operator instances of ``task`` (masks/kernels reproducible from ``generator``):
    ``split="eval"`` the evaluation operators, ``split="train"`` the training randomisation (module doc)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    p = task_params(task, **overrides)
    train = split == "train"
    if task == "inpaint_random":
        missing = p["train_missing"] if train else p["missing"]
        return RandomInpainting(image_shape, random_mask(image_shape, batch_size, missing, generator))
    if task == "inpaint_box":
        if train and p["train_box"] == "rectangle":
            mask = rectangle_mask(image_shape, batch_size, p["train_sides"], p["margin_fraction"], generator)
        else:
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
    if p["kernel"] == "line":
        scale = min(image_shape[1:]) / float(p["reference_size"])
        return MotionBlur(image_shape, line_motion_kernels(p["lengths"], batch_size, generator, scale)[0])
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


__all__ = ["LinearOperator", "TASKS", "SPLITS", "DEFAULTS", "RELEASED", "MOTION_FAMILIES", "CHOICES", "make_operator", "task_params", "check_task",
           "save_operator", "load_operator"]
