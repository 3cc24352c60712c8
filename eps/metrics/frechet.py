"""Fréchet distance between Gaussian fits of two feature sets (FID when the features are Inception pool
features), delegated to torch-fidelity:

    FD = ||mu_1 - mu_2||^2 + tr( C_1 + C_2 - 2 (C_1 C_2)^(1/2) )

with ``mu, C`` the sample mean and (unbiased) sample covariance of each set
(``torch_fidelity.metric_fid.fid_features_to_statistics`` / ``fid_statistics_to_metric``; the trace of the
matrix square root is the sum of square roots of the eigenvalues of ``C_1 C_2``).
"""
from __future__ import annotations

import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

Tensor = torch.Tensor


def frechet_distance(f1: Tensor, f2: Tensor) -> float:
    """Fréchet distance between feature sets ``f1 (m, d)`` and ``f2 (n, d)`` (m, n >= 2), float64."""
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1] or min(f1.shape[0], f2.shape[0]) < 2:
        raise ValueError(f"frechet_distance needs two (n>=2, d) feature sets, got {tuple(f1.shape)} and "
                         f"{tuple(f2.shape)}")
    stats = [fid_features_to_statistics(f.detach().cpu().double()) for f in (f1, f2)]
    return float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])
