"""Analytic priors with exact denoisers and exact posteriors."""
from .gmm import GaussianMixture, dense_spectral, dense_V, mixture_denoise, mixture_moments, random_gmm

__all__ = ["GaussianMixture", "random_gmm", "dense_V", "dense_spectral", "mixture_denoise", "mixture_moments"]
