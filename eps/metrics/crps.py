"""Continuous ranked probability score of K posterior samples, energy form (Gneiting & Raftery 2007):

    CRPS(P, x) = E|X - x| - 1/2 E|X - X'|,   X, X' ~ P independent,

estimated with the empirical distribution of the K samples (1/K and 1/K^2 averages, so K = 1 gives the
absolute error). Lower is better; for a point mass at the truth it is 0.

- ``crps_pix``: |.| is the absolute value of one pixel, computed per pixel and averaged over channels and
  pixels; pixel values in [0, 255] (``(x + 1) * 127.5``), the scale of the published ``crps_pix`` column.
- ``crps_inception``: |.| is the Euclidean norm of Inception pool-feature vectors (the energy score).
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor

PIXEL_SCALE = 127.5  # [-1, 1] -> [0, 255] is (x + 1) * 127.5; differences scale by 127.5


def energy_score(samples: Tensor, target: Tensor) -> Tensor:
    """``E||X - x|| - 1/2 E||X - X'||`` for ``samples (..., K, D)`` and ``target (..., D)``; shape ``(...)``."""
    samples, target = samples.double(), target.double()
    error = (samples - target.unsqueeze(-2)).norm(dim=-1).mean(-1)
    spread = torch.cdist(samples, samples).mean((-2, -1))
    return error - 0.5 * spread


def crps_pixel(samples: Tensor, x0: Tensor) -> Tensor:
    """Per-measurement pixel CRPS in [0, 255] units: ``samples (N, K, C, H, W)``, ``x0 (N, C, H, W)`` in
    [-1, 1] -> ``(N,)`` (CRPS per pixel, averaged over pixels and channels).

    In one dimension the spread needs no K x K matrix: with the samples sorted, X_(1) <= ... <= X_(K),
    ``1/K^2 sum_{k,k'} |X_k - X_k'| = 2/K^2 sum_i (2i - K - 1) X_(i)``; it equals ``energy_score`` with
    ``D = 1`` in O(K log K) memory per pixel.
    """
    n, k = samples.shape[:2]
    samples, x0 = samples.reshape(n, k, -1).double(), x0.reshape(n, 1, -1).double()
    error = (samples - x0).abs().mean(1)
    rank_weight = 2 * torch.arange(1, k + 1, dtype=torch.float64) - k - 1
    spread = 2 / k**2 * (rank_weight[:, None] * samples.sort(dim=1).values).sum(1)
    return PIXEL_SCALE * (error - 0.5 * spread).mean(-1)
