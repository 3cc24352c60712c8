"""PiGDM — Pseudoinverse-Guided Diffusion Models (Song, Vahdat, Mardani, Kautz, ICLR 2023, eq. 7-8, Alg. 1).

The likelihood ``p(y | x_t)`` is approximated by ``N(A x0_hat, r_t^2 A A^T + sigma_y^2 I)`` with
``x0_hat = D(x_t)``, whose score is a vector-Jacobian product through the denoiser:

    g = ( (y - A x0_hat)^T (r_t^2 A A^T + sigma_y^2 I)^(-1) A  d x0_hat / d x_t )^T

``r_t^2 = sigma_t^2 / (1 + sigma_t^2)`` (the paper's choice for unit-variance data; ``1 - alpha_bar_t`` on
the VP chain). ``A^T (r_t^2 A A^T + sigma_y^2 I)^(-1) v`` is exact through the operator's SVD:
``V diag(s / (r_t^2 s^2 + sigma_y^2)) U^T v`` (``op.spectral_pullback``; zero on unmeasured directions, so
``sigma_y = 0`` is the pseudo-inverse limit, never a division by zero). Published: 100 DDIM steps with
``eta = 1`` (paper §5); images in [-1, 1] as here.

Mapping to ``x~`` (see :mod:`baselines._loop`): ``g`` is added to the prior score,
``grad log p(x~ | y) ≈ (x0_hat - x~) / sigma^2 + g~`` with ``g~ = J~^T v`` (``J~ = d x0_hat / d x~``), and the
DDIM step is taken with the denoiser this score implies (Tweedie), ``x0|y = x0_hat + sigma^2 g~``. For
``eta = 1`` the guidance then enters ``x~_next`` as ``(sigma^2 - sigma_next^2) g~``, the reverse-SDE step of
the paper's VE form. One forward and one vector-Jacobian product per step.
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_fraction, ddim_step, denoise_vjp, residual


@register_method("pigdm")
class PiGDM(AncestralSampler):
    eta = 1.0

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        r2 = sigma**2 / (1 + sigma**2)
        sigma_y2 = problem.sigma_y**2

        def guidance_vector(x0):  # A^T (r^2 A A^T + sigma_y^2 I)^(-1) (y - A x0_hat)
            gain = lambda s: torch.where(s > 0, s / (r2 * s**2 + sigma_y2), 0.0)  # noqa: E731
            return problem.operator.spectral_pullback(residual(problem, x0), gain)

        x0_hat, guidance = denoise_vjp(prior, x, sigma, guidance_vector)
        x0 = x0_hat + sigma**2 * guidance
        return ddim_step(x0, (x - x0) / sigma, sigma_next, ddim_fraction(sigma, sigma_next, self.eta), noise())
