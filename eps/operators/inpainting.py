"""Inpainting: ``A = diag(m)`` for a binary pixel mask ``m`` shared by the colour channels.

The SVD is trivial: ``U = V = I`` and the singular values are the mask itself (1 observed, 0 missing).
The measurement lives on the image grid; ``A^T y = m * y`` zeroes the missing pixels.
"""
from __future__ import annotations

import math

import torch

from .base import LinearOperator, Tensor


class Inpainting(LinearOperator):
    """Pixel-mask operator; ``mask`` has shape ``(B or 1, 1, H, W)`` with values in {0, 1}."""

    task = "inpaint"

    def __init__(self, image_shape, mask: Tensor):
        super().__init__(image_shape)
        _, H, W = self.image_shape
        if mask.dim() != 4 or mask.shape[1] != 1 or tuple(mask.shape[2:]) != (H, W):
            raise ValueError(f"mask must have shape (B, 1, {H}, {W}), got {tuple(mask.shape)}")
        self.mask = mask

    @property
    def s(self) -> Tensor:
        return self.mask

    @property
    def measurement_shape(self):
        return self.image_shape

    def V_T(self, x):
        return x

    def V(self, c):
        return c

    def U_T(self, y):
        return y

    def U(self, c):
        return c

    def pixel_variance(self, var):
        return var

    def params(self):
        return {"mask": self.mask}


class RandomInpainting(Inpainting):
    task = "inpaint_random"


class BoxInpainting(Inpainting):
    task = "inpaint_box"


def random_mask(image_shape, batch_size: int, missing: float, generator: torch.Generator | None) -> Tensor:
    """Each pixel is missing independently with probability ``missing``."""
    if not 0.0 <= missing < 1.0:
        raise ValueError(f"inpaint_random: missing fraction must be in [0, 1), got {missing}")
    _, H, W = image_shape
    return (torch.rand(batch_size, 1, H, W, generator=generator) >= missing).float()


POSITIONS = ("random", "center")


def box_mask(image_shape, batch_size: int, box_fraction: float, margin_fraction: float, position: str,
             generator) -> Tensor:
    """A square hole of side ``h = round(box_fraction * min(H, W))``, at a random position or centred.

    ``position: random`` is DPS's ``random_sq_bbox`` (DPS2022/diffusion-posterior-sampling
    ``util/img_utils.py`` @ effbde7; DAPS ``forward_operator/__init__.py`` @ 098df6b): with margin
    ``m = round(margin_fraction * min(H, W))`` the top row is uniform on ``{m, ..., H - m - h - 1}`` and the
    left column on ``{m, ..., W - m - h - 1}`` (numpy's ``randint(m, H - m - h)`` excludes its upper end), drawn
    top then left from ``generator`` for each sample. Published at 256 px: ``h = 128, m = 16``, i.e.
    ``box_fraction = 0.5, margin_fraction = 0.0625``. Rounding is half up.
    """
    if not 0.0 < box_fraction < 1.0 or not 0.0 <= margin_fraction < 0.5:
        raise ValueError(f"inpaint_box: need box_fraction in (0, 1) and margin_fraction in [0, 0.5), "
                         f"got {box_fraction}, {margin_fraction}")
    if position not in POSITIONS:
        raise ValueError(f"inpaint_box: position must be one of {', '.join(POSITIONS)}, got {position!r}")
    _, H, W = image_shape
    side = max(1, math.floor(box_fraction * min(H, W) + 0.5))
    margin = math.floor(margin_fraction * min(H, W) + 0.5)
    if position == "random" and min(H, W) - margin - side <= margin:
        raise ValueError(f"inpaint_box: a {side}-pixel box with margin {margin} leaves no random position "
                         f"in a {H}x{W} image")
    mask = torch.ones(batch_size, 1, H, W)
    for b in range(batch_size):
        if position == "center":
            top, left = (H - side) // 2, (W - side) // 2
        else:
            top = int(torch.randint(margin, H - margin - side, (), generator=generator))
            left = int(torch.randint(margin, W - margin - side, (), generator=generator))
        mask[b, :, top : top + side, left : left + side] = 0.0
    return mask
