"""LPIPS (Zhang et al. 2018) through the ``lpips`` package: AlexNet trunk, linear layers v0.1.

The linear-layer weights ship inside the ``lpips`` wheel (``lpips/weights/v0.1/alex.pth``). The AlexNet
trunk is torchvision's ImageNet checkpoint ``alexnet-owt-7be5be79.pth``, looked up offline by
:func:`eps.metrics.weights.find_weights` (never downloaded here): the package is built with a random
trunk (``pnet_rand=True``, which skips torchvision's download) and the ``features.*`` tensors of the
checkpoint are then loaded into its five slices. Inputs are images in [-1, 1] (the range LPIPS expects);
one-channel images are repeated to three channels.
"""
from __future__ import annotations

import os
import warnings

import lpips
import torch

from eps.io import load_torch
from eps.metrics.weights import find_weights

Tensor = torch.Tensor

# AlexNet's 11x11/4 conv and the two 3x3/2 max-pools before conv3 leave no pixel below 31 px:
# 31 -> 7 -> 3 -> 3 -> 1. Smaller images have no LPIPS-Alex.
LPIPS_MIN_SIZE = 31


def load_lpips(weights_dir: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> lpips.LPIPS:
    """LPIPS-Alex v0.1 in eval mode on ``device``; ``WeightsMissing`` if the AlexNet checkpoint is absent,
    ``ValueError`` if it is unreadable or lacks a trunk tensor."""
    path, data = find_weights("alexnet", weights_dir)
    state = load_torch(path, "AlexNet weights", data)  # the verified bytes, not the file opened again
    with warnings.catch_warnings():  # torchvision's deprecation notice for the `pretrained` argument
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True, verbose=False)
    # lpips keeps torchvision's module indices inside its slices: features.<i>.* -> slice<s>.<i>.*
    trunk = {}
    for slice_name, block in model.net.named_children():
        for index, layer in block.named_children():
            for param_name, _ in layer.named_parameters(recurse=False):
                key = f"features.{index}.{param_name}"
                if key not in state:
                    raise ValueError(f"AlexNet weights {path} lack {key!r}")
                trunk[f"{slice_name}.{index}.{param_name}"] = state[key]
    try:
        model.net.load_state_dict(trunk)
    except RuntimeError as err:
        raise ValueError(f"AlexNet weights {path} do not fit torchvision's AlexNet: {err}") from err
    return model.eval().to(device)


@torch.no_grad()
def lpips_distance(model: lpips.LPIPS, x: Tensor, y: Tensor) -> Tensor:
    """Per-image LPIPS between ``(B, C, H, W)`` batches in [-1, 1] -> ``(B,)``; H, W >= ``LPIPS_MIN_SIZE``."""
    if min(x.shape[-2:]) < LPIPS_MIN_SIZE:
        raise ValueError(f"LPIPS-Alex needs images of at least {LPIPS_MIN_SIZE} px, got {tuple(x.shape[-2:])}")
    if x.shape[1] == 1:
        x, y = x.expand(-1, 3, -1, -1), y.expand(-1, 3, -1, -1)
    device = next(model.parameters()).device
    return model(x.float().clamp(-1, 1).to(device), y.float().clamp(-1, 1).to(device)).flatten().cpu()
