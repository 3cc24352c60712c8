"""MPGD — Manifold Preserving Guided Diffusion (He, Murata, Lai, ..., Ermon, ICLR 2024), pixel variant
"MPGD w/o projection".

The guidance is a gradient step on the clean estimate, not on ``x_t``: no backpropagation through the
denoiser, so a step costs one forward pass. Then a DDIM step that keeps the denoiser's own noise estimate:

    x0_hat   = D(x_t),    eps_hat = (x_t - sqrt(alpha_bar_t) x0_hat) / sqrt(1 - alpha_bar_t)
    x0|t     = x0_hat - c / sqrt(alpha_bar_{t-1}) * grad_{x0} || y - A x0 ||  at x0 = x0_hat
    x_{t-1}  = DDIM step with x0|t and eps_hat (eta = 0.5)

(released code KellyYutongHe/mpgd_pytorch, ``linear_inv``: unsquared norm, ``c = 4`` for 100 DDIM
steps — 7.5 for 50 and 17.5 for 20 — and ``eta = 0.5``; images in [-1, 1] as here). The gradient is
analytic, ``grad_{x0} ||y - A x0|| = -A^T (y - A x0) / ||y - A x0||`` per sample.

Mapping to ``x~`` (see :mod:`baselines._loop`): ``x0`` is the same on both chains, and
``1 / sqrt(alpha_bar_{t-1}) = sqrt(1 + sigma_next^2)`` (``= 1`` at the last step).
"""
from __future__ import annotations

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_fraction, ddim_step, unit_residual_direction, vp_alpha


@register_method("mpgd")
class MPGD(AncestralSampler):
    step_size = 4.0
    eta = 0.5

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        x0_hat = prior.denoise(x, sigma)
        x0 = x0_hat + self.step_size / vp_alpha(sigma_next) * unit_residual_direction(problem, x0_hat)
        return ddim_step(x0, (x - x0_hat) / sigma, sigma_next, ddim_fraction(sigma, sigma_next, self.eta), noise())
