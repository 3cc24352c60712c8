"""Blur kernels: an isotropic Gaussian, and a seeded random camera-shake (motion) kernel.

Both return ``(B, k, k)`` tensors that sum to one per sample.
"""
from __future__ import annotations

import math

import torch

Tensor = torch.Tensor


def gaussian_kernel(size: int, std: float, batch_size: int = 1) -> Tensor:
    """``k(i, j) ∝ exp(-((i-c)^2 + (j-c)^2) / (2 std^2))`` on a ``size x size`` grid, ``c = size // 2``."""
    if size < 1 or std <= 0:
        raise ValueError(f"deblur_gauss: need kernel_size >= 1 and std > 0, got {size}, {std}")
    r = torch.arange(size, dtype=torch.float64) - size // 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * std**2))
    return (g / g.sum()).float().expand(batch_size, size, size).clone()


def motion_kernel(size: int, intensity: float, batch_size: int, generator: torch.Generator | None,
                  steps: int = 96) -> Tensor:
    """Random camera-shake kernels.

    The camera path is a planar curve of length ``0.8 * size`` whose heading performs a random walk with
    per-step standard deviation ``intensity * pi / 4`` (``intensity = 0``: a straight line; 1: strongly
    curved shake). The path is centred, shrunk to fit inside the support, rasterised by bilinear
    splatting, smoothed with a 3x3 binomial filter (sensor integration) and normalised to sum one.
    """
    if size < 3 or not 0.0 <= intensity <= 1.0:
        raise ValueError(f"deblur_motion: need kernel_size >= 3 and intensity in [0, 1], got {size}, {intensity}")
    theta0 = 2 * math.pi * torch.rand(batch_size, 1, generator=generator, dtype=torch.float64)
    turns = intensity * (math.pi / 4) * torch.randn(batch_size, steps, generator=generator, dtype=torch.float64)
    theta = theta0 + torch.cumsum(turns, dim=1)
    step = 0.8 * size / steps
    path = torch.cumsum(torch.stack([torch.cos(theta), torch.sin(theta)], dim=-1) * step, dim=1)
    path = path - path.mean(dim=1, keepdim=True)
    radius = (size - 1) / 2 - 1.0
    extent = path.abs().amax(dim=(1, 2), keepdim=True).clamp_min(1e-12)
    path = path * torch.clamp(radius / extent, max=1.0) + (size - 1) / 2

    kernel = torch.zeros(batch_size, size * size, dtype=torch.float64)
    base = torch.floor(path).long()
    frac = path - base
    for di in (0, 1):
        for dj in (0, 1):
            w = (frac[..., 0] if di else 1 - frac[..., 0]) * (frac[..., 1] if dj else 1 - frac[..., 1])
            idx = ((base[..., 1] + dj).clamp(0, size - 1) * size + (base[..., 0] + di).clamp(0, size - 1))
            kernel.scatter_add_(1, idx, w)
    kernel = kernel.reshape(batch_size, 1, size, size)
    binomial = torch.tensor([1.0, 2.0, 1.0], dtype=torch.float64)
    smooth = (binomial[:, None] * binomial[None, :] / 16).reshape(1, 1, 3, 3)
    kernel = torch.nn.functional.conv2d(kernel, smooth, padding=1)[:, 0]
    return (kernel / kernel.sum(dim=(1, 2), keepdim=True)).float()
