"""Distances between a set of samples and the exact posterior (docs/method.md §4).

    SW_2(P, Q)^2 = E_theta[ W_2^2(theta^T P, theta^T Q) ],  theta ~ Unif(S^{d-1})

estimated with ``L`` random directions; for equal sample sizes the 1-D W_2 is the RMS difference of the
sorted projections. The noise floor of the estimate is the same distance between two independent exact
sample sets of the same size.
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor


def sliced_wasserstein(a: Tensor, b: Tensor, num_projections: int = 500,
                       generator: torch.Generator | None = None) -> float:
    """Sliced 2-Wasserstein distance between two equal-size sample sets ``(n, ...)``."""
    a, b = a.reshape(a.shape[0], -1).double(), b.reshape(b.shape[0], -1).double()
    if a.shape != b.shape:
        raise ValueError(f"sliced_wasserstein needs equal-size sets, got {tuple(a.shape)} and {tuple(b.shape)}")
    theta = torch.randn(a.shape[1], num_projections, generator=generator, dtype=torch.float64)
    theta = theta / theta.norm(dim=0, keepdim=True)
    pa, pb = (a @ theta).sort(dim=0).values, (b @ theta).sort(dim=0).values
    return float(((pa - pb) ** 2).mean().sqrt())


def mean_error(x: Tensor, mean: Tensor) -> float:
    """``||mean(x) - E[x0 | y]||_2 / sqrt(d)``: RMS error of the sample mean against the exact mean."""
    x = x.reshape(x.shape[0], -1).double()
    return float((x.mean(0) - mean.reshape(-1).double()).norm() / x.shape[1] ** 0.5)


def covariance_error(x: Tensor, cov: Tensor) -> float:
    """``||Cov(x) - Cov[x0 | y]||_F / ||Cov[x0 | y]||_F``: relative error of the sample covariance."""
    x = x.reshape(x.shape[0], -1).double()
    return float((torch.cov(x.T) - cov).norm() / cov.norm())
