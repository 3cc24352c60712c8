"""What a conditional network sees of the measurement (EPS and Palette), as images the size of ``x``.

The EPS paper's conditioning (App. B, Architecture; ``observation``, the default of both EPS and Palette): the first
convolution widened from 3 to 6 input channels, fed ``[mu_star, observation image]`` (Palette: ``[x_t, observation
image]``), the new channels zero-initialised, where the observation image is

    inpainting      the masked observation y                       A^T y = m * y (zero where unobserved)
    SR              the nearest-neighbour upsampling of y          y repeated over each f x f block
    deblurring      the blurred observation y                      y itself (it lives on the image grid)

For any operator this is read as: ``A^T y`` for a pixel mask, ``y`` itself for any other operator whose measurement
lives on the image grid (blurs), and otherwise ``y`` resized to the image grid by nearest-neighbour interpolation
(``torch.nn.functional.interpolate(mode="nearest")``; for the paper's 4x average pooling this is its
nearest-upsampling primitive). The widened first convolution is ``cond_conv`` (eps.nn.unet): a zero-initialised 3x3
convolution of the condition added to the first 3x3 convolution of the input, which *is* a 3x3 convolution of the
channel concatenation (convolution is linear in its input channels; ``cond_conv`` carries its own bias, zero at
step 0, which the first convolution's bias could absorb). The condition is not scaled by the EDM ``c_in`` (the paper
does not say; the observation is at data scale already). Step 0 of fine-tuning is the pretrained denoiser at the
pivot, exactly (tests/test_conditioning.py).

The project's own conditionings (options; they let the network recover ``Sigma_star``, and ``pixel`` is close to
the paper's ablation (c) ``[mu, Sigma, t]`` of D.1, which also drops y):

    measurement image   x_y = V diag(s / (s^2 + sigma_y^2)) U^T y       (Tikhonov pseudo-inverse; = A^+ y at sigma_y = 0)
    certainty map       c   = -log(max(diag(Sigma_star) / sigma^2, r_min)) / -log(r_min),   r_min = 1e-6
    certainty response  r   = Gamma delta,   Gamma = I - Sigma_star / sigma^2 = V diag(gamma) V^T,
                              gamma_i = sigma^2 s_i^2 / (sigma_y^2 + sigma^2 s_i^2)  in [0, 1]

``x_y`` is bounded by ``1 / (2 sigma_y)`` per singular direction, so blur operators with tiny singular values do
not blow the noise up as the plain ``A^+ y`` would. ``c`` is 0 where a pixel keeps the full prior noise ``sigma^2``
and 1 where the measurement pins it down (variance ratio <= 1e-6). ``r`` is the column of the certainty operator
``Gamma`` at the centre pixel ``delta`` (in every channel): how much of each direction the pivot takes from ``y``
(``gamma_i = 0``: prior noise only; ``1``: measured exactly). ``Sigma_star = sigma^2 (I - Gamma)`` and the network
knows ``sigma``, so it needs ``Gamma``; per task (tests/test_conditioning.py reconstructs it from ``[c, r]``):

    inpaint_random, inpaint_box   Gamma is diagonal (V = I): its diagonal is ``c``; ``r`` adds nothing
    deblur_motion (random kernel) Gamma is circulant (periodic blur, Fourier-diagonal): Gamma = circ(r)
    fixed operators (sr4, deblur_gauss: no random parameter)   Sigma_star is a function of (task, sigma) alone,
                                  and ``r`` identifies the task

A certainty map alone (``diag(Sigma_star)``) is a constant image for every circulant blur: it cannot say which
frequencies a random kernel measured. ``r`` is one spectral round trip per image (the cost of one pivot).

EPS conditionings (``CONDITIONINGS``): ``observation`` = the observation image (C channels, the paper's),
``operator`` = ``[x_y, c, r]`` (3C channels), ``pixel`` = ``[x_y, c]`` (2C channels), and the paper's D.1 input
ablations without y: ``none`` = ``[mu_star]`` alone ((b) ``[mu, t]``: the backbone fine-tuned with L_EPS, no added
channels) and ``certainty`` = ``[c]`` ((c) ``[mu, Sigma, t]``; the paper does not say how Sigma_star enters: its
per-pixel certainty map here, C channels). A network saves its
conditioning in its config (``UNetConfig.conditioning``); files written before that follow from the channel count
(:func:`conditioning_of`: ``operator`` or ``pixel``, the two conditionings that existed then).

Palette conditionings (``PALETTE_CONDITIONINGS``): ``observation`` (the EPS paper's Palette, "the EPS pipeline with
x_t in place of mu_star", D.1 (a), Table 12) and ``degraded``: Palette as Saharia et al. 2022 condition it (files
without a saved conditioning are ``degraded``, the only Palette of earlier versions), the *degraded image* itself, as
its release does
(``Janspiry/Palette-Image-to-Image-Diffusion-Models`` at commit 136b29f58d0af6e5db9f3655d2891f5a855fcdaa,
``models/network.py``: the network input is ``cat([cond_image, y_t])``; ``data/dataset.py``, InpaintDataset:
``cond_image = img * (1 - mask) + mask * randn``):

    degraded image   y           where the measurement lives on the image grid (inpainting, blur)
                     A^+ y       otherwise (super-resolution: the low-resolution image at full size)
                     with the pixels an inpainting mask leaves unobserved replaced by fresh N(0, 1) draws
"""
from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from ..operators import LinearOperator
from ..operators.base import _per_sample
from ..operators.inpainting import Inpainting
from ..posterior import Pivot

Tensor = torch.Tensor
R_MIN = 1e-6
# EPS conditioning -> channels per image channel; "none" and "certainty" are the EPS paper's D.1 input ablations
# (b) [mu, t] and (c) [mu, Sigma, t] (no y; how Sigma enters is not stated: here its per-pixel certainty map c)
CONDITIONINGS = {"observation": 1, "operator": 3, "pixel": 2, "certainty": 1, "none": 0}
PALETTE_CONDITIONINGS = ("observation", "degraded")  # Palette: the EPS paper's, Saharia et al. 2022's


def measurement_image(operator: LinearOperator, y: Tensor, sigma_y: float) -> Tensor:
    """``V diag(s / (s^2 + sigma_y^2)) U^T y`` with ``0`` where ``s = 0``."""
    if sigma_y == 0:
        return operator.pinv(y)
    return operator.spectral_pullback(y, lambda s: s / (s**2 + sigma_y**2))


def observation_image(operator: LinearOperator, y: Tensor) -> Tensor:
    """The EPS paper's observation image (module doc): ``A^T y`` for a mask, ``y`` on the image grid, else ``y``
    nearest-upsampled to the image size."""
    if isinstance(operator, Inpainting):
        return operator.A_T(y)
    if tuple(y.shape[1:]) == tuple(operator.image_shape):
        return y
    return F.interpolate(y, size=tuple(operator.image_shape[1:]), mode="nearest")


def certainty_map(pivot: Pivot) -> Tensor:
    """Per-pixel certainty in [0, 1] of the pivot, from ``diag(Sigma_star) / sigma^2``."""
    mu = pivot.mu_star
    sig2 = pivot.sigma.to(mu.dtype).reshape(-1, 1, 1, 1) ** 2
    ratio = (pivot.pixel_variance().to(mu.dtype) / sig2).clamp(R_MIN, 1.0)
    return (-torch.log(ratio) / -math.log(R_MIN)).expand_as(mu)


def certainty_response(pivot: Pivot) -> Tensor:
    """``Gamma delta``: the centre column of ``I - Sigma_star / sigma^2``, ``(B, C, H, W)``."""
    mu, op = pivot.mu_star, pivot.operator
    B, C, H, W = mu.shape
    delta = mu.new_zeros(B, C, H, W)
    delta[:, :, H // 2, W // 2] = 1.0
    s = op.s.to(mu.dtype)
    sig2_s2 = _per_sample(pivot.sigma.to(mu.dtype), mu) ** 2 * s**2
    denom = pivot.sigma_y**2 + sig2_s2
    gamma = torch.where(denom > 0, sig2_s2 / torch.where(denom > 0, denom, 1.0), 0.0)
    return op.V(gamma * op.V_T(delta))


def eps_condition(pivot: Pivot, conditioning: str = "observation") -> Tensor | None:
    """The EPS network's conditioning channels: the observation image (``observation``), ``[x_y, c, r]``
    (``operator``), ``[x_y, c]`` (``pixel``), ``[c]`` (``certainty``) or none (``none``)."""
    check_conditioning(conditioning)
    mu = pivot.mu_star
    if conditioning == "observation":
        return observation_image(pivot.operator, pivot.y).to(mu.dtype).expand_as(mu)
    if conditioning in ("none", "certainty"):
        return None if conditioning == "none" else certainty_map(pivot)
    x_y = measurement_image(pivot.operator, pivot.y, pivot.sigma_y).to(mu.dtype).expand_as(mu)
    maps = [x_y, certainty_map(pivot)]
    if conditioning == "operator":
        maps.append(certainty_response(pivot).expand_as(mu))
    return torch.cat(maps, dim=1)


def check_conditioning(conditioning: str) -> str:
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"unknown EPS conditioning {conditioning!r}; valid: {', '.join(CONDITIONINGS)}")
    return conditioning


def condition_for(conditioning: str) -> Callable[[Pivot], Tensor]:
    """``pivot -> eps_condition(pivot, conditioning)``."""
    return partial(eps_condition, conditioning=check_conditioning(conditioning))


def check_palette_conditioning(conditioning: str) -> str:
    if conditioning not in PALETTE_CONDITIONINGS:
        raise ValueError(f"unknown Palette conditioning {conditioning!r}; valid: {', '.join(PALETTE_CONDITIONINGS)}")
    return conditioning


def conditioning_of(config) -> str:
    """The conditioning of a conditional network from its config: the saved one, else (files written before it was
    saved) ``operator`` or ``pixel`` from the channel count (an EPS network) or ``degraded`` (a Palette network:
    ``cond_channels == in_channels``)."""
    if config.conditioning:
        return config.conditioning
    channels, cond_channels = config.in_channels, config.cond_channels
    for name in ("operator", "pixel"):
        if cond_channels == CONDITIONINGS[name] * channels:
            return name
    if cond_channels == channels:
        return "degraded"
    raise ValueError(f"a network on {channels}-channel images with {cond_channels} conditioning channels and no saved "
                     f"conditioning matches no conditioning ({', '.join(f'{k}: {v * channels}' for k, v in CONDITIONINGS.items())})")


def palette_condition(operator: LinearOperator, y: Tensor, conditioning: str = "observation",
                      generator: torch.Generator | None = None) -> Tensor:
    """Palette's conditioning channels: the observation image (the EPS paper's) or the degraded image (Saharia)."""
    if check_palette_conditioning(conditioning) == "observation":
        return observation_image(operator, y)
    return degraded_image(operator, y, generator)


def degraded_image(operator: LinearOperator, y: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Palette's conditioning channels ``(B, C, H, W)``: the degraded image on the image grid (module doc)."""
    image = y if tuple(y.shape[1:]) == tuple(operator.image_shape) else operator.pinv(y)
    if isinstance(operator, Inpainting):
        fill = torch.randn(image.shape, generator=generator, dtype=image.dtype, device=image.device)
        image = torch.where(operator.mask.to(torch.bool), image, fill)
    return image


__all__ = ["CONDITIONINGS", "PALETTE_CONDITIONINGS", "observation_image", "palette_condition",
           "check_palette_conditioning", "measurement_image", "certainty_map", "certainty_response", "eps_condition",
           "check_conditioning", "condition_for", "conditioning_of", "degraded_image"]
