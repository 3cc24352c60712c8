"""Fréchet distance between Gaussian fits of two feature sets (FID when the features are Inception pool
features), delegated to torch-fidelity:

    FD = ||mu_1 - mu_2||^2 + tr( C_1 + C_2 - 2 (C_1 C_2)^(1/2) )

with ``mu, C`` the sample mean and (unbiased) sample covariance of each set
(``torch_fidelity.metric_fid.fid_features_to_statistics`` / ``fid_statistics_to_metric``; the trace of the
matrix square root is the sum of square roots of the eigenvalues of ``C_1 C_2``).

The second set may also be given by its statistics alone (:class:`FeatureStatistics`), e.g. EDM's
published FID references (``fid-refs/*.npz``: ``mu`` (2048,), ``sigma`` (2048, 2048) of Inception pool3
features of the whole training set, Karras et al. 2022, NVlabs/edm ``fid.py ref``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

Tensor = torch.Tensor


@dataclass(frozen=True)
class FeatureStatistics:
    """Mean ``mu (d,)`` and covariance ``sigma (d, d)`` (float64) of a feature set."""

    mu: np.ndarray
    sigma: np.ndarray

    def __post_init__(self):
        d = self.mu.shape[0] if self.mu.ndim == 1 else -1
        if d < 1 or self.sigma.shape != (d, d):
            raise ValueError(f"feature statistics need mu (d,) and sigma (d, d), got {self.mu.shape} and "
                             f"{self.sigma.shape}")
        if not (np.isfinite(self.mu).all() and np.isfinite(self.sigma).all()):
            raise ValueError("feature statistics contain NaN/inf")

    @classmethod
    def of(cls, features: Tensor) -> "FeatureStatistics":
        """Sample mean and unbiased covariance of ``features (n, d)``, n >= 2."""
        if features.ndim != 2 or features.shape[0] < 2:
            raise ValueError(f"feature statistics need an (n>=2, d) feature set, got {tuple(features.shape)}")
        stats = fid_features_to_statistics(features.detach().cpu().double())
        return cls(stats["mu"], stats["sigma"])


def frechet_distance(f1: Tensor, f2: Tensor | FeatureStatistics) -> float:
    """Fréchet distance between the feature set ``f1 (m, d)`` and the feature set ``f2 (n, d)`` or its
    statistics (m, n >= 2), float64."""
    s1, s2 = FeatureStatistics.of(f1), f2 if isinstance(f2, FeatureStatistics) else FeatureStatistics.of(f2)
    if s1.mu.shape != s2.mu.shape:
        raise ValueError(f"frechet_distance: features of dimension {s1.mu.shape[0]} against {s2.mu.shape[0]}")
    stats = [{"mu": s.mu.astype(np.float64), "sigma": s.sigma.astype(np.float64)} for s in (s1, s2)]
    return float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])
