"""DDNM / DDNM+ — Denoising Diffusion Null-space Model (Wang, Yu, Zhang, ICLR 2023, eq. 13, 17-19 and 51).

Follows the released sampler: wyhuai/DDNM @ 00b58ea, ``functions/svd_ddnm.py`` (``ddnm_diffusion`` for
``sigma_y = 0``, ``ddnm_plus_diffusion`` otherwise) with the spectral factors ``Lambda`` and ``Lambda_noise`` of
``functions/svd_operators.py``; ``eta = 0.85``, ``T_sampling = 100`` steps of the linear-beta 1000-step chain
(``skip = 1000 // N``, time grid ``ddim``), no time travel (``travel_length = travel_repeat = 1``), start
``x_T = z``, no clipping of the denoised estimate.

Written on ``x~ = x0 + sigma eps`` in the spectral basis of ``A = U S V^T`` (``x_bar = V^T x~``); the
release's ``a = sqrt(alpha_bar_{t-1})``, ``sigma_t = sqrt(1 - alpha_bar_{t-1})`` and condition
``sigma_t < a sigma_y / s_i`` become ``sigma_next`` and ``sigma_next < nu_i`` after dividing by ``a``, with
``nu_i = sigma_y / s_i`` the measurement's noise on direction ``i``. With ``x0_hat = D(x~, sigma)``,
``eps_hat = (x~ - x0_hat) / sigma``, ``y_bar_i = (U^T y)_i / s_i`` and fresh ``z ~ N(0, I)``, each step sets

    x0|t_bar   = x0_hat_bar + lambda_i (y_bar - x0_hat_bar)     (eq. 17, Sigma_t = V diag(lambda) V^T)
    x_bar_next = x0|t_bar + d1_i z_bar + d2_i eps_hat_bar        (eq. 51)

    direction                   lambda_i                           d1_i                         d2_i
    unmeasured (s_i = 0)        -                                  eta sigma_next               sqrt(1-eta^2) sigma_next
    sigma_y = 0 (DDNM, eq. 13)  1                                  eta sigma_next               sqrt(1-eta^2) sigma_next
    sigma_next <  nu_i          sigma_next sqrt(1-eta^2) / nu_i    eta sigma_next               0
    sigma_next >= nu_i          1                                  sqrt(sigma_next^2 - nu_i^2)  0

so on measured directions of a noisy measurement the carried measurement noise ``lambda_i nu_i`` and the
fresh noise add up, in variance, to exactly ``sigma_next^2`` and the predicted noise is not mixed back in.
At the last step (``sigma_next = 0``) ``lambda = 0``: the sample is the denoiser's estimate on measured
directions, as released.
Images in [-1, 1] with ``sigma_y`` in those units (the release doubles its ``--sigma_y`` for that).
The release's ``Inpainting.Lambda_noise`` implements the table exactly; its ``SuperResolution`` and
``Deblurring`` versions scale the *pixel* (patch) values of ``z`` and ``eps_hat`` as if they were spectral
coefficients (no ``V^T`` before ``diag(d1), diag(d2)``). For ``z`` that is only a relabelling of an isotropic
draw; for ``eps_hat`` it mixes the predicted noise across the directions of a block. We follow eq. 51
(the table) for every operator; the two agree when ``eta = 1`` (no ``eps_hat`` term), which is what the
super-resolution parity case checks. Its ``Deblurring`` also zeroes 1-D singular values below 3e-2 in
``A^+`` (ours: ``rcond``), an operator detail not reproduced here.
One denoiser call per step, no gradients. Parity: ``tests/test_parity.py`` (fixture ``tests/fixtures/parity/ddnm.npz``).
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_step, spectral_measurement


@register_method("ddnm")
class DDNM(AncestralSampler):
    eta = 0.85
    time_grid = "ddim"

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        op = problem.operator
        y_bar, nu, measured = spectral_measurement(problem)
        x0 = prior.denoise(x, sigma)
        x0_bar, eps_bar, z_bar = op.V_T(x0), op.V_T(x - x0) / sigma, op.V_T(noise())
        if problem.sigma_y == 0:  # DDNM: every direction takes the DDIM step, measured ones from y
            return op.V(ddim_step(torch.where(measured, y_bar, x0_bar), eps_bar, sigma_next, self.eta, z_bar))
        nu = torch.where(measured, nu, 1.0)  # only read on measured directions
        below = sigma_next < nu
        lam = torch.where(below, sigma_next * (1 - self.eta**2) ** 0.5 / nu, 1.0)
        fresh = torch.where(below, self.eta * sigma_next, (sigma_next**2 - nu**2).clamp_min(0).sqrt())
        measured_next = x0_bar + lam * (y_bar - x0_bar) + fresh * z_bar
        return op.V(torch.where(measured, measured_next, ddim_step(x0_bar, eps_bar, sigma_next, self.eta, z_bar)))
