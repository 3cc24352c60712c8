"""DDRM — Denoising Diffusion Restoration Models (Kawar, Elad, Ermon, Song, NeurIPS 2022, eq. 7-8).

DDRM is written in the variance-exploding form, i.e. already on ``x~ = x0 + sigma eps`` (the VP chain is
``x_t = sqrt(alpha_bar_t) x~``, the paper's §4.3), so no step-size conversion is needed. In the spectral
basis of ``A = U S V^T`` (``x_bar = V^T x~``, ``x0_bar = V^T D(x~)``), the measurement gives
``y_bar_i = (U^T y)_i / s_i = x0_bar_i + nu_i n`` with ``nu_i = sigma_y / s_i``, and each step
``sigma -> sigma_next`` draws, per direction ``i`` (``z ~ N(0, I)``):

    unmeasured (s_i = 0):      x0_bar + sigma_next (sqrt(1 - eta^2) (x_bar - x0_bar) / sigma       + eta z)
    sigma_next <  nu_i:        x0_bar + sigma_next (sqrt(1 - eta^2) (y_bar - x0_bar) / nu_i        + eta z)
    sigma_next >= nu_i:        (1 - eta_b) x0_bar + eta_b y_bar + sqrt(sigma_next^2 - eta_b^2 nu_i^2) z

The chain starts from ``q(x_T | y)`` (paper eq. 7 at ``t = T``), as the release does: per direction

    nu_i < sigma_0:   x_bar_0 = y_bar + sqrt(sigma_0^2 - nu_i^2) z         otherwise:   x_bar_0 = sigma_0 z

and the release then reads ``V x_bar_0 / sigma_0`` as the VP state ``x_T`` (it divides by ``sigma_T`` where
``sqrt(alpha_bar_T)`` would give exactly ``x~``), i.e. ``x~_0 = sqrt(1 + sigma_0^2) / sigma_0 V x_bar_0``; we keep
that factor (``1 + 2e-5`` at ``T = 1000``) on the released grid and drop it on EDM's grid.

Released code: ``bahjat-kawar/ddrm`` at commit 32b6b3ccfda532ba01c9cc5b6e7456c3a06a6ca2,
``functions/denoising.py::efficient_generalized_steps`` (``etaA = etaC = eta``, ``etaB = eta_b``) driven by
``runners/diffusion.py::sample_image`` (``skip = 1000 // timesteps``, linear betas 1e-4 to 0.02; the
``ddim`` time grid of :mod:`baselines._loop`). Published: ``eta = 0.85, eta_b = 1`` with 20 steps (paper
§5). ``sigma_y`` is in the [-1, 1] units of the images (the release doubles its ``--sigma_0`` for that).
Parity: ``tests/test_parity.py`` replays the release's own run (fixtures ``tests/fixtures/parity/ddrm_*``).
One denoiser call per step, no gradients.
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, spectral_measurement


@register_method("ddrm")
class DDRM(AncestralSampler):
    time_grid = "ddim"
    eta = 0.85
    eta_b = 1.0

    def initial(self, sigma, z, problem):
        op = problem.operator
        y_bar, nu, measured = spectral_measurement(problem)
        informed = measured & (nu < sigma)
        z_bar = op.V_T(z)
        x_bar = torch.where(informed, y_bar + (sigma**2 - torch.where(informed, nu, 0.0) ** 2).sqrt() * z_bar,
                            sigma * z_bar)
        return super().initial(sigma, op.V(x_bar) / sigma, problem)

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
