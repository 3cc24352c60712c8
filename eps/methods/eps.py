"""EPS (docs/method.md §3): the backbone's own sampler with the denoiser call replaced by the pivot denoiser.

    D(x_t, t)  ->  D_theta(mu_star(x_t, y, t), Sigma_star(t))

No likelihood gradients, no projections. One NFE at the highest noise level returns ``E[x0 | y]``.
Option ``mean_of = J`` (every backbone-sampler method) returns the average of J independent samples, the EPS paper's
D.6 "posterior mean from samples" (J = 10 100-step Euler samples, 1000 NFE per image; the NFE counted is J x nfe).
``eps_zeroshot`` (ablation) feeds ``mu_star`` to the *unconditional* denoiser with the scalar noise level
``sigma_t``, ignoring that measured directions are nearly noise-free.
"""
from __future__ import annotations

from typing import Callable

import torch

from .registry import Method, Problem, Prior, register_method
from ..posterior import PivotDenoiser, eps_denoiser
from ..samplers import check_solver, sample, solver_grid, steps_for_nfe


class BackboneSampler(Method):
    """The backbone's own sampler (EDM schedule; Heun by default) over a method's ``denoiser(problem, prior)``:
    the one sampling loop of every method that only changes the denoiser call (EPS, its ablations, Palette).
    ``solver`` is any of :data:`eps.samplers.SOLVERS`, ``grid`` its sigma grid (:data:`eps.samplers.GRIDS`; ``auto``:
    the solver's default, resolved here so that every record names the grid that ran); ``eta`` is DDIM's, ``s_*``
    the churn sampler's."""

    solver = "heun"
    grid = "auto"
    eta = 0.0
    s_churn = 40.0
    s_tmin = 0.05
    s_tmax = 50.0
    s_noise = 1.003
    sigma_min = 0.002
    sigma_max = 80.0
    rho = 7.0
    mean_of = 1  # J > 1: the mean of J independent samples (D.6 of the EPS paper)

    def __init__(self, **options):
        super().__init__(**options)
        check_solver(self.solver)
        self.grid = solver_grid(self.solver, self.grid)
        if self.mean_of < 1:
            raise ValueError(f"{self.name}: option mean_of must be >= 1, got {self.mean_of}")

    def denoiser(self, problem: Problem, prior: Prior) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        raise NotImplementedError

    def sample(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None):
        denoiser, total = self.denoiser(problem, prior), 0.0
        for _ in range(self.mean_of):  # J = 1: one sample, unchanged
            noise = torch.randn(problem.batch_size, *prior.image_shape, generator=generator,
                                dtype=problem.y.dtype, device=problem.y.device)
            total = total + sample(denoiser, noise, prior.interpolant, steps_for_nfe(nfe, self.solver), self.solver,
                                   self.eta, generator, self.sigma_min, self.sigma_max, self.rho,
                                   s_churn=self.s_churn, s_tmin=self.s_tmin, s_tmax=self.s_tmax,
                                   s_noise=self.s_noise, grid=self.grid)
        return total / self.mean_of if self.mean_of > 1 else total


class Unconditional(BackboneSampler):
    """The bare backbone sampler (prior samples, the measurement unused): the reference of ``cost_ratio``."""

    def denoiser(self, problem, prior):
        interpolant = prior.interpolant
        return lambda x_t, t: prior.denoise(x_t / interpolant.alpha(t), interpolant.sigma(t))

    @classmethod
    def of(cls, method) -> "Unconditional":
        """The bare sampler ``method`` is compared with: its own backbone solver and grid, or the backbone's
        default for a method with its own update rule."""
        return cls(solver=getattr(method, "solver", cls.solver), grid=getattr(method, "grid", "auto"))


class PivotSampler(BackboneSampler):
    """A backbone sampler whose denoiser is ``pivot_denoiser(problem, prior)`` queried at the pivot."""

    def pivot_denoiser(self, problem: Problem, prior: Prior) -> PivotDenoiser:
        raise NotImplementedError

    def denoiser(self, problem, prior):
        return eps_denoiser(self.pivot_denoiser(problem, prior), problem.operator, problem.y, problem.sigma_y,
                            prior.interpolant)


@register_method("eps")
class EPS(PivotSampler):
    """Exact posterior score sampling with the prior's pivot denoiser ``D_{Sigma_star}``."""

    def pivot_denoiser(self, problem, prior):
        return prior.denoise_pivot


@register_method("eps_zeroshot")
class EPSZeroShot(PivotSampler):
    """Pivot-only ablation: the unconditional denoiser at ``mu_star`` with scalar noise level ``sigma_t``."""

    def pivot_denoiser(self, problem, prior):
        return lambda pivot: prior.denoise(pivot.mu_star, pivot.sigma)


__all__ = ["BackboneSampler", "Unconditional", "PivotSampler", "EPS", "EPSZeroShot"]
