"""EPS (METHOD.md §3): the backbone's own sampler with the denoiser call replaced by the pivot denoiser.

    D(x_t, t)  ->  D_theta(mu_star(x_t, y, t), Sigma_star(t))

No likelihood gradients, no projections. One NFE at the highest noise level returns ``E[x0 | y]``.
``eps_zeroshot`` (ablation) feeds ``mu_star`` to the *unconditional* denoiser with the scalar noise level
``sigma_t``, ignoring that measured directions are nearly noise-free.
"""
from __future__ import annotations

import torch

from .methods import Method, Problem, Prior, register_method
from .posterior import Pivot, eps_denoiser
from .samplers import sample, steps_for_nfe


class _PivotSampler(Method):
    solver = "heun"
    eta = 0.0
    sigma_min = 0.002
    sigma_max = 80.0
    rho = 7.0

    def pivot_denoiser(self, prior: Prior):
        raise NotImplementedError

    def sample(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None):
        denoise = eps_denoiser(self.pivot_denoiser(prior), problem.operator, problem.y, problem.sigma_y,
                               prior.interpolant)
        noise = torch.randn(problem.batch_size, *prior.image_shape, generator=generator,
                            dtype=problem.y.dtype, device=problem.y.device)
        return sample(denoise, noise, prior.interpolant, steps_for_nfe(nfe, self.solver), self.solver, self.eta,
                      generator, self.sigma_min, self.sigma_max, self.rho)


@register_method("eps")
class EPS(_PivotSampler):
    """Exact posterior score sampling with the prior's pivot denoiser ``D_{Sigma_star}``."""

    def pivot_denoiser(self, prior):
        return prior.denoise_pivot


@register_method("eps_zeroshot")
class EPSZeroShot(_PivotSampler):
    """Pivot-only ablation: the unconditional denoiser at ``mu_star`` with scalar noise level ``sigma_t``."""

    def pivot_denoiser(self, prior):
        return lambda pivot: prior.denoise(pivot.mu_star, pivot.sigma)


__all__ = ["EPS", "EPSZeroShot", "Pivot"]
