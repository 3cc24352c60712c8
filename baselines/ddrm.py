"""DDRM — Denoising Diffusion Restoration Models (Kawar, Elad, Ermon, Song, NeurIPS 2022, eq. 7-8).

DDRM is written in the variance-exploding form, i.e. already on ``x~ = x0 + sigma eps`` (the VP chain is
``x_t = sqrt(alpha_bar_t) x~``, the paper's §4.3), so no step-size conversion is needed. In the spectral
basis of ``A = U S V^T`` (``x_bar = V^T x~``, ``x0_bar = V^T D(x~)``), the measurement gives
``y_bar_i = (U^T y)_i / s_i = x0_bar_i + nu_i n`` with ``nu_i = sigma_y / s_i``, and each step
``sigma -> sigma_next`` draws, per direction ``i`` (``z ~ N(0, I)``):

    unmeasured (s_i = 0):      x0_bar + sigma_next (sqrt(1 - eta^2) (x_bar - x0_bar) / sigma       + eta z)
    sigma_next <  nu_i:        x0_bar + sigma_next (sqrt(1 - eta^2) (y_bar - x0_bar) / nu_i        + eta z)
    sigma_next >= nu_i:        (1 - eta_b) x0_bar + eta_b y_bar + sqrt(sigma_next^2 - eta_b^2 nu_i^2) z

Published: ``eta = 0.85, eta_b = 1`` with 20 steps (paper §5); the initial state is pure noise as in the
released code. ``sigma_y`` is in the [-1, 1] units of the images, as in the paper's experiments.
One denoiser call per step, no gradients.
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, spectral_measurement


@register_method("ddrm")
class DDRM(AncestralSampler):
    eta = 0.85
    eta_b = 1.0

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        op = problem.operator
        y_bar, nu, measured = spectral_measurement(problem)
        x0_bar = op.V_T(prior.denoise(x, sigma))
        x_bar, z_bar = op.V_T(x), op.V_T(noise())
        keep = (1 - self.eta**2) ** 0.5
        unmeasured = x0_bar + sigma_next * (keep * (x_bar - x0_bar) / sigma + self.eta * z_bar)
        nu_safe = torch.where(sigma_next < nu, nu, 1.0)  # only read where sigma_next < nu (> 0)
        less_noisy = x0_bar + sigma_next * (keep * (y_bar - x0_bar) / nu_safe + self.eta * z_bar)
        nu_b = torch.where(measured, self.eta_b * nu, 0.0)
        noisier = (1 - self.eta_b) * x0_bar + self.eta_b * y_bar + (sigma_next**2 - nu_b**2).clamp_min(0).sqrt() * z_bar
        x_bar_next = torch.where(measured, torch.where(sigma_next < nu, less_noisy, noisier), unmeasured)
        return op.V(x_bar_next)
