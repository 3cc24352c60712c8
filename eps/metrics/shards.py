"""Reading the sampling stage's shards and reference image sets, with one clear error per bad input.

A shard is a ``torch.save``d dict (loaded with ``weights_only=True``):
``x0 (N, C, H, W)`` ground truth in [-1, 1]; ``y (N, ...)`` measurements; ``samples (N, K, C, H, W)``
posterior samples; ``nfe`` (forward passes per sample, as the method counts them); ``vjp``; ``seconds``
(wall time of the method for the shard); ``seconds_uncond`` (wall time of the unconditional backbone
sampler at the same NFE on the same N*K images, same process); ``meta`` with at least
``dataset, task, method, nfe, seed, sigma_y``.

A reference set (for FID / MMD) is a ``.pt`` (tensor, or dict with ``x0``), an ``.npz`` (key ``x0`` or
``images``, or its only array) or a ``.zip`` of PNG/JPEG files. Float arrays are images in [-1, 1],
``uint8`` arrays are 8-bit images (mapped by ``x / 127.5 - 1``); ``(N, H, W, C)`` layout with C in {1, 3}
is transposed to ``(N, C, H, W)``. An ``.npz`` with arrays ``mu`` and ``sigma`` is instead a set of Inception
feature statistics (EDM's published FID references): :class:`FeatureStatistics`.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from eps.io import load_torch
from eps.metrics.frechet import FeatureStatistics

Tensor = torch.Tensor

SHARD_KEYS = ("x0", "y", "samples", "nfe", "vjp", "seconds", "seconds_uncond", "meta")
META_KEYS = ("dataset", "task", "method", "nfe", "seed", "sigma_y")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def load_shard(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check one shard; ``ValueError`` naming the file and the problem, ``FileNotFoundError``."""
    path = Path(path)
    shard = load_torch(path, "shard")
    if not isinstance(shard, dict):
        raise ValueError(f"shard {path}: expected a dict, got {type(shard).__name__}")
    missing = [k for k in SHARD_KEYS if k not in shard] + [f"meta.{k}" for k in META_KEYS
                                                            if k not in shard.get("meta", {})]
    if missing:
        raise ValueError(f"shard {path}: missing {', '.join(missing)}")
    x0, samples = shard["x0"], shard["samples"]
    if x0.ndim != 4 or samples.ndim != 5 or samples.shape[0] != x0.shape[0] or samples.shape[2:] != x0.shape[1:]:
        raise ValueError(f"shard {path}: x0 {tuple(x0.shape)} must be (N, C, H, W) and samples "
                         f"{tuple(samples.shape)} (N, K, C, H, W) with the same N, C, H, W")
    if x0.shape[0] < 1 or samples.shape[1] < 1:
        raise ValueError(f"shard {path}: empty (N = {x0.shape[0]}, K = {samples.shape[1]})")
    if not (torch.isfinite(x0).all() and torch.isfinite(samples).all()):
        raise ValueError(f"shard {path}: x0 or samples contain NaN/inf")
    if not shard["seconds"] >= 0 or not shard["seconds_uncond"] > 0:
        raise ValueError(f"shard {path}: seconds {shard['seconds']} must be >= 0 and seconds_uncond "
                         f"{shard['seconds_uncond']} > 0")
    return shard


def _as_images(array: np.ndarray | Tensor, source: Path) -> Tensor:
    """A float32 ``(N, C, H, W)`` tensor in [-1, 1] from float [-1, 1] or uint8 arrays, NCHW or NHWC."""
    x = torch.as_tensor(np.asarray(array))
    if x.ndim != 4:
        raise ValueError(f"reference {source}: expected a 4-d image array, got shape {tuple(x.shape)}")
    if x.shape[1] not in (1, 3) and x.shape[-1] in (1, 3):
        x = x.permute(0, 3, 1, 2)
    x = x.float() / 127.5 - 1 if x.dtype == torch.uint8 else x.float()
    if x.min() < -1.01 or x.max() > 1.01:
        raise ValueError(f"reference {source}: float images must lie in [-1, 1], got [{x.min():.3g}, {x.max():.3g}]")
    return x.contiguous()


def _statistics(mu: np.ndarray, sigma: np.ndarray, source: Path) -> FeatureStatistics:
    try:
        return FeatureStatistics(np.asarray(mu, np.float64), np.asarray(sigma, np.float64))
    except ValueError as err:
        raise ValueError(f"reference {source}: {err}") from err


def load_reference(path: str | os.PathLike) -> Tensor | FeatureStatistics:
    """Reference images ``(N, C, H, W)`` in [-1, 1] from a ``.pt``, ``.npz`` or ``.zip`` file, or the feature
    statistics of an ``.npz`` holding ``mu`` and ``sigma``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"reference {path} does not exist")
    try:
        if path.suffix == ".pt":
            data = torch.load(path, map_location="cpu", weights_only=True)
            array = data["x0"] if isinstance(data, dict) else data
        elif path.suffix == ".npz":
            with np.load(path) as npz:
                if {"mu", "sigma"} <= set(npz.files):
                    return _statistics(npz["mu"], npz["sigma"], path)
                names = [k for k in ("x0", "images") if k in npz.files] or npz.files
                if len(names) != 1:
                    raise ValueError(f"reference {path}: arrays {npz.files}; name the images 'x0' or 'images'")
                array = npz[names[0]]
        elif path.suffix == ".zip":
            from PIL import Image
            with zipfile.ZipFile(path) as archive:
                names = sorted(n for n in archive.namelist() if n.lower().endswith(IMAGE_SUFFIXES))
                array = np.stack([np.asarray(Image.open(io.BytesIO(archive.read(n))).convert("RGB"))
                                  for n in names]) if names else np.zeros((0,))
        else:
            raise ValueError(f"reference {path}: unsupported format {path.suffix!r} (use .pt, .npz or .zip)")
    except ValueError:
        raise
    except Exception as err:
        raise ValueError(f"cannot read reference {path}: {err}") from err
    return _as_images(array, path)
