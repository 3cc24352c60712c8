"""Evaluation layer: a thin layer over piq (PSNR, SSIM), lpips (LPIPS-Alex) and torch-fidelity
(Inception features, Fréchet distance), plus MMD and CRPS; ``eps evaluate`` and ``eps download-weights``."""
from eps.metrics.crps import crps_pixel, energy_score
from eps.metrics.frechet import frechet_distance
from eps.metrics.mmd import median_bandwidth, mmd_unbiased
from eps.metrics.pixel import psnr, ssim, to_uint8, to_unit
from eps.metrics.weights import WEIGHTS, WeightsMissing, find_weights

__all__ = ["crps_pixel", "energy_score", "frechet_distance", "median_bandwidth", "mmd_unbiased", "psnr", "ssim",
           "to_uint8", "to_unit", "WEIGHTS", "WeightsMissing", "find_weights"]
