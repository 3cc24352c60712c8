"""Palette (Saharia et al., SIGGRAPH 2022): a conditional diffusion model with the degraded image as input.

Trained with the EDM loss on ``(x~ = x0 + sigma n, sigma, x_y)`` (``eps train --kind palette``), where
``x_y = V diag(s / (s^2 + sigma_y^2)) U^T y`` is the measurement as an image (:mod:`eps.nn.conditioning`).
Sampling is the backbone's own sampler (EDM Heun by default) with the denoiser

    D(x_t, t) = D_theta(x_t / alpha_t; sigma_t, x_y)

and nothing else: no likelihood gradients, one network call per NFE. The prior must provide
``denoise_palette(x~, sigma, condition)`` (:class:`eps.nn.NetworkPrior` built with ``palette_ckpt``).
"""
from __future__ import annotations

from eps.eps_sampler import BackboneSampler
from eps.methods import Problem, Prior, register_method
from eps.nn.conditioning import palette_condition


@register_method("palette")
class Palette(BackboneSampler):
    def denoiser(self, problem: Problem, prior: Prior):
        if not hasattr(getattr(prior, "prior", prior), "denoise_palette"):  # look behind the counting wrapper
            raise ValueError("palette needs a prior with a trained Palette network (load_prior(..., palette_ckpt=...))")
        interpolant = prior.interpolant
        condition = palette_condition(problem.operator, problem.y, problem.sigma_y)

        def denoise(x_t, t):
            alpha, beta = interpolant.alpha(t), interpolant.beta(t)
            return prior.denoise_palette(x_t / alpha, beta / alpha, condition)

        return denoise
