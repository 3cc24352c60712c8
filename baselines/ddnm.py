"""DDNM / DDNM+ — Denoising Diffusion Null-space Model (Wang, Yu, Zhang, ICLR 2023, eq. 13 and 17-19).

Range-null-space decomposition: keep the denoiser's null-space content and replace its range-space
content by the measurement, ``x0|t = A^+ y + (I - A^+ A) x0_hat``. For noisy ``y`` (DDNM+) the correction
is scaled per singular direction so that the measurement noise it carries into ``x_{t-1}`` does not exceed
the noise the step adds, and the fresh noise is reduced by what the measurement already brings:

    x0|t   = x0_hat - Sigma_t A^+ (A x0_hat - y),    Sigma_t = V diag(lambda_i) V^T
    lambda_i = min(1, sigma_next / nu_i),            nu_i = sigma_y / s_i  (lambda_i = 1 when sigma_y = 0)
    gamma_i  = sqrt(sigma_next^2 - (lambda_i nu_i)^2) on measured directions, sigma_next elsewhere
    x_bar_next = x0|t_bar + gamma (eta z + sqrt(1 - eta^2) eps_hat),   eps_hat = (x~ - x0_hat) / sigma

written on ``x~ = x0 + sigma eps`` in the spectral basis (``x_bar = V^T x``). On the VP chain
``x_t = sqrt(alpha_bar_t) x~``, the paper's condition ``sigma_t >= a_t sigma_y / s_i`` and noise
``sigma_t^2 - (a_t lambda_i sigma_y / s_i)^2`` become the ones above after dividing by ``sqrt(alpha_bar_{t-1})``.
With ``sigma_y = 0`` this is plain DDNM. The step mixes fresh and predicted noise with ``eta`` as in the
released sampler (``eta = 0.85``, 100 steps, no time-travel: ``travel_length = 1``); ``eps_hat`` is the
denoiser's, not recomputed from the corrected ``x0|t``. Images in [-1, 1] as here.
One denoiser call per step, no gradients.
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_step, spectral_measurement


@register_method("ddnm")
class DDNM(AncestralSampler):
    eta = 0.85

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        op = problem.operator
        y_bar, nu, measured = spectral_measurement(problem)
        x0 = prior.denoise(x, sigma)
        x0_bar = op.V_T(x0)
        carried = torch.minimum(nu, sigma_next)  # lambda_i nu_i: measurement noise carried into x_next
        lam = torch.where(nu > 0, carried / torch.where(nu > 0, nu, 1.0), 1.0)
        x0_bar = torch.where(measured, x0_bar + lam * (y_bar - x0_bar), x0_bar)
        gamma = torch.where(measured, (sigma_next**2 - carried**2).clamp_min(0).sqrt(), sigma_next)
        x_next_bar = ddim_step(x0_bar, op.V_T(x - x0) / sigma, gamma, self.eta, op.V_T(noise()))
        return op.V(x_next_bar)
