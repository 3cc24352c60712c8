"""Continuous ranked probability score of K posterior samples, energy form (Gneiting & Raftery 2007):

    CRPS(P, x) = E|X - x| - 1/2 E|X - X'|,   X, X' ~ P independent.

Two estimators from the K samples X_1..X_K of one measurement (names as in the ``scoringrules`` library,
``crps_ensemble(..., estimator=...)`` / ``es_ensemble``):

- ``nrg`` (the EPS paper's, App. F: the CRPS of the predictive CDF F taken as the empirical CDF of the K
  samples; D.6 reports it for K = 1, where only this form exists; the ``eps_paper`` protocol's default):
      1/K sum_i |X_i - x|  -  1/(2 K^2) sum_{i, j} |X_i - X_j|,
  biased upwards as an estimate of P's CRPS by E|X - X'| / (2K) (+5% of the spread term at K = 10), which
  rewards under-dispersed samplers; K = 1 gives the absolute error;
- ``fair`` (Ferro 2014, Zamo & Naveau 2018; the ``dps_daps`` protocol's default): the unbiased estimator of
  the CRPS of P itself,
      1/K sum_i |X_i - x|  -  1/(2 K (K-1)) sum_{i != j} |X_i - X_j|      (needs K >= 2).
Both are columns of every table (``crps_pix_fair``, ``crps_pix_nrg``, ...).

Lower is better; for a point mass at the truth both are 0.

- ``crps_pix``: |.| is the absolute value of one pixel, computed per pixel and averaged over channels and
  pixels; pixel values in [0, 255] (``(x + 1) * 127.5``), the scale of the published ``crps_pix`` column.
- ``crps_inception``: |.| is the Euclidean norm of Inception pool-feature vectors (the energy score).
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor

PIXEL_SCALE = 127.5  # [-1, 1] -> [0, 255] is (x + 1) * 127.5; differences scale by 127.5
ESTIMATORS = ("fair", "nrg")


def estimator_defined(k: int, estimator: str) -> bool:
    """Whether ``estimator`` is defined for K samples per measurement (the fair one needs K >= 2)."""
    return k >= 2 or estimator != "fair"


def spread_normaliser(k: int, estimator: str) -> float:
    """The divisor of ``sum_{i, j} |X_i - X_j|`` in the spread term: ``2 K (K-1)`` (fair) or ``2 K^2`` (nrg)."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown CRPS estimator {estimator!r}; valid: {', '.join(ESTIMATORS)}")
    if not estimator_defined(k, estimator):
        raise ValueError(f"the fair CRPS estimator needs K >= 2 samples per measurement, got K = {k}")
    return 2.0 * k * (k - 1 if estimator == "fair" else k)


def energy_score(samples: Tensor, target: Tensor, estimator: str = "fair") -> Tensor:
    """``E||X - x|| - 1/2 E||X - X'||`` for ``samples (..., K, D)`` and ``target (..., D)``; shape ``(...)``.
    The diagonal ``i = j`` of the spread sum is zero, so one pairwise sum serves both estimators."""
    samples, target = samples.double(), target.double()
    k = samples.shape[-2]
    error = (samples - target.unsqueeze(-2)).norm(dim=-1).mean(-1)
    spread = torch.cdist(samples, samples).sum((-2, -1))
    return error - spread / spread_normaliser(k, estimator)


def crps_pixel(samples: Tensor, x0: Tensor, estimator: str = "fair") -> Tensor:
    """Per-measurement pixel CRPS in [0, 255] units: ``samples (N, K, C, H, W)``, ``x0 (N, C, H, W)`` in
    [-1, 1] -> ``(N,)`` (CRPS per pixel, averaged over pixels and channels).

    In one dimension the spread needs no K x K matrix: with the samples sorted, X_(1) <= ... <= X_(K),
    ``sum_{i, j} |X_i - X_j| = 2 sum_i (2i - K - 1) X_(i)``; it equals ``energy_score`` with ``D = 1`` in
    O(K log K) memory per pixel.
    """
    n, k = samples.shape[:2]
    samples, x0 = samples.reshape(n, k, -1).double(), x0.reshape(n, 1, -1).double()
    error = (samples - x0).abs().mean(1)
    rank_weight = 2 * torch.arange(1, k + 1, dtype=torch.float64) - k - 1
    spread = 2 * (rank_weight[:, None] * samples.sort(dim=1).values).sum(1)
    return PIXEL_SCALE * (error - spread / spread_normaliser(k, estimator)).mean(-1)
