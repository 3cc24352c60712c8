"""Analytic priors with exact denoisers and exact posteriors."""
from .gmm import GaussianMixture, dense_spectral, dense_V, random_gmm

__all__ = ["GaussianMixture", "random_gmm", "dense_V", "dense_spectral"]
