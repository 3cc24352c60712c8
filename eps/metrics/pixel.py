"""Per-image pixel metrics, a thin layer over ``piq``.

Images live in [-1, 1]; piq expects [0, data_range], so they are mapped by ``x01 = (x + 1) / 2`` and
scored with ``data_range = 1``:

    PSNR = 10 log10( 1 / mean((x01 - y01)^2) )      (mean over channels and pixels; dB)
    SSIM  (Wang et al. 2004): Gaussian window 11x11, sigma 1.5, K1 = 0.01, K2 = 0.03 (piq defaults),
          computed per channel and averaged, no padding ("valid" windows, like scikit-image).

Both are identical to scikit-image's ``peak_signal_noise_ratio(data_range=1)`` and
``structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)``
for images of at most 256 px (piq's automatic downsampling only acts above that).
Inputs are clamped to [-1, 1] first (samplers may overshoot slightly).
"""
from __future__ import annotations

import piq
import torch

Tensor = torch.Tensor


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1] (clamped), float32."""
    return ((x.float() + 1) / 2).clamp(0, 1)


def to_uint8(x: Tensor) -> Tensor:
    """[-1, 1] -> uint8 in [0, 255]: ``round((x + 1) * 127.5)``, the 8-bit image the Inception net sees."""
    return ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def psnr(x: Tensor, y: Tensor) -> Tensor:
    """Per-image PSNR in dB between ``(B, C, H, W)`` batches in [-1, 1] (data_range = 1 after mapping)."""
    return piq.psnr(to_unit(x), to_unit(y), data_range=1.0, reduction="none")


def ssim(x: Tensor, y: Tensor) -> Tensor:
    """Per-image SSIM between ``(B, C, H, W)`` batches in [-1, 1] (data_range = 1 after mapping)."""
    return piq.ssim(to_unit(x), to_unit(y), data_range=1.0, reduction="none")
