"""What a conditional network sees of the measurement (EPS and Palette), as images the size of ``x``.

    measurement image   x_y = V diag(s / (s^2 + sigma_y^2)) U^T y       (Tikhonov pseudo-inverse; = A^+ y at sigma_y = 0)
    certainty map       c   = -log(max(diag(Sigma_star) / sigma^2, r_min)) / -log(r_min),   r_min = 1e-6

``x_y`` is bounded by ``1 / (2 sigma_y)`` per singular direction, so blur operators with tiny singular values do
not blow the noise up as the plain ``A^+ y`` would. ``c`` is 0 where a pixel keeps the full prior noise ``sigma^2``
and 1 where the measurement pins it down (variance ratio <= 1e-6). EPS conditions on ``[x_y, c]`` (2C channels).

Palette (Saharia et al. 2022) conditions on the *degraded image* itself, as its release does
(``Janspiry/Palette-Image-to-Image-Diffusion-Models`` at commit 136b29f58d0af6e5db9f3655d2891f5a855fcdaa,
``models/network.py``: the network input is ``cat([cond_image, y_t])``; ``data/dataset.py``, InpaintDataset:
``cond_image = img * (1 - mask) + mask * randn``):

    degraded image   y           where the measurement lives on the image grid (inpainting, blur)
                     A^+ y       otherwise (super-resolution: the low-resolution image at full size)
                     with the pixels an inpainting mask leaves unobserved replaced by fresh N(0, 1) draws
"""
from __future__ import annotations

import math

import torch

from ..operators import LinearOperator
from ..operators.inpainting import Inpainting
from ..posterior import Pivot

Tensor = torch.Tensor
R_MIN = 1e-6


def measurement_image(operator: LinearOperator, y: Tensor, sigma_y: float) -> Tensor:
    """``V diag(s / (s^2 + sigma_y^2)) U^T y`` with ``0`` where ``s = 0``."""
    if sigma_y == 0:
        return operator.pinv(y)
    return operator.spectral_pullback(y, lambda s: s / (s**2 + sigma_y**2))


def certainty_map(pivot: Pivot) -> Tensor:
    """Per-pixel certainty in [0, 1] of the pivot, from ``diag(Sigma_star) / sigma^2``."""
    mu = pivot.mu_star
    sig2 = pivot.sigma.to(mu.dtype).reshape(-1, 1, 1, 1) ** 2
    ratio = (pivot.pixel_variance().to(mu.dtype) / sig2).clamp(R_MIN, 1.0)
    return (-torch.log(ratio) / -math.log(R_MIN)).expand_as(mu)


def eps_condition(pivot: Pivot) -> Tensor:
    """``[x_y, c]``: the EPS network's conditioning channels, ``(B, 2C, H, W)``."""
    mu = pivot.mu_star
    x_y = measurement_image(pivot.operator, pivot.y, pivot.sigma_y).to(mu.dtype).expand_as(mu)
    return torch.cat([x_y, certainty_map(pivot)], dim=1)


def degraded_image(operator: LinearOperator, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Palette's conditioning channels ``(B, C, H, W)``: the degraded image on the image grid (module doc)."""
    image = y if tuple(y.shape[1:]) == tuple(operator.image_shape) else operator.pinv(y)
    if isinstance(operator, Inpainting):
        fill = torch.randn(image.shape, generator=generator, dtype=image.dtype, device=image.device)
        image = torch.where(operator.mask.to(torch.bool), image, fill)
    return image


__all__ = ["measurement_image", "certainty_map", "eps_condition", "degraded_image"]
