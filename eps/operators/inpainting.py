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


def random_mask(image_shape, batch_size: int, missing, generator: torch.Generator | None) -> Tensor:
    """Each pixel is missing independently with probability ``missing``: a number, or a range ``[low, high]``
    from which each sample draws its own probability uniformly (the EPS paper's App. B training density
    ``U(50%, 70%)``), drawn before that sample's pixels."""
    low, high = (missing, missing) if isinstance(missing, (int, float)) else tuple(missing)
    if not 0.0 <= low <= high < 1.0:
        raise ValueError(f"inpaint_random: missing fraction must be in [0, 1) (a range low <= high), got {missing}")
    _, H, W = image_shape
    if low == high:
        return (torch.rand(batch_size, 1, H, W, generator=generator) >= low).float()
    masks = []
    for _ in range(batch_size):
        p = low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))
        masks.append((torch.rand(1, 1, H, W, generator=generator) >= p).float())
    return torch.cat(masks)


def rectangle_mask(image_shape, batch_size: int, sides, margin_fraction: float, generator) -> Tensor:
    """EPS paper App. B training boxes: a rectangle per sample, height uniform on the integers of
    ``[sides[0] H, sides[1] H]`` and width on those of ``[sides[0] W, sides[1] W]`` (``H/4 .. H/2``: 16 to 32 px at
    64), placed uniformly with a margin of ``round(margin_fraction H)`` rows and ``round(margin_fraction W)`` columns
    on every edge (``H/16``: 4 px at 64). Draws per sample: height, width, top, left."""
    low, high = (float(v) for v in sides)
    _, H, W = image_shape
    ranges = []
    for n in (H, W):
        margin = math.floor(margin_fraction * n + 0.5)
        smallest, largest = max(1, math.ceil(low * n - 1e-9)), math.floor(high * n + 1e-9)
        if not 0.0 < low <= high < 1.0 or smallest > largest or largest > n - 2 * margin:
            raise ValueError(f"inpaint_box: training sides {list(sides)} with margin {margin} do not fit a "
                             f"{H}x{W} image (need 0 < low <= high < 1 and room for the margins)")
        ranges.append((smallest, largest, margin))
    mask = torch.ones(batch_size, 1, H, W)
    for b in range(batch_size):
        (h0, h1, mh), (w0, w1, mw) = ranges
        h = int(torch.randint(h0, h1 + 1, (), generator=generator))
        w = int(torch.randint(w0, w1 + 1, (), generator=generator))
        top = int(torch.randint(mh, H - mh - h + 1, (), generator=generator))
        left = int(torch.randint(mw, W - mw - w + 1, (), generator=generator))
        mask[b, :, top : top + h, left : left + w] = 0.0
    return mask


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
