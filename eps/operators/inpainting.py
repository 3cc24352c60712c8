"""Inpainting: ``A = diag(m)`` for a binary pixel mask ``m`` shared by the colour channels.

The SVD is trivial: ``U = V = I`` and the singular values are the mask itself (1 observed, 0 missing).
The measurement lives on the image grid; ``A^T y = m * y`` zeroes the missing pixels.
"""
from __future__ import annotations

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


def box_mask(image_shape, batch_size: int, box_fraction: float, position: str, generator) -> Tensor:
    """A square hole of side ``round(box_fraction * min(H, W))``, centred or at a uniform random position."""
    if not 0.0 < box_fraction < 1.0:
        raise ValueError(f"inpaint_box: box_fraction must be in (0, 1), got {box_fraction}")
    _, H, W = image_shape
    side = max(1, round(box_fraction * min(H, W)))
    mask = torch.ones(batch_size, 1, H, W)
    for b in range(batch_size):
        if position == "center":
            top, left = (H - side) // 2, (W - side) // 2
        elif position == "random":
            top = int(torch.randint(0, H - side + 1, (1,), generator=generator))
            left = int(torch.randint(0, W - side + 1, (1,), generator=generator))
        else:
            raise ValueError(f"inpaint_box: position must be 'center' or 'random', got {position!r}")
        mask[b, :, top : top + side, left : left + side] = 0.0
    return mask
