"""The one sampling loop every training-free baseline shares, and the algebra several of them reuse.

State and units. Every baseline runs on the scaled state ``x~ = x0 + sigma eps`` that the prior's denoiser
takes (EDM scaling, images in [-1, 1], ``sigma_y`` in the same units), over a decreasing noise grid
``sigma_0 > ... > sigma_{N-1} > sigma_N = 0`` (Karras et al. 2022 eq. 5, the backbone's own schedule:
``sigma_max = 80, sigma_min = 0.002, rho = 7`` unless a method overrides them). One step maps ``x~`` at
``sigma`` to ``x~`` at ``sigma_next``, drawing fresh ``z ~ N(0, I)`` from ``noise()`` (seeded by the
caller's generator); subclasses write :meth:`step`.

Methods published on a VP/DDPM chain (``x_t = alpha_t x0 + beta_t eps``, ``alpha_t^2 + beta_t^2 = 1``)
map through ``x_t = alpha_t x~`` and ``sigma = beta_t / alpha_t``, i.e. ``alpha = 1 / sqrt(1 + sigma^2)``
(:func:`vp_alpha`). Their DDIM update (Song et al. 2021, eq. 12) divided by ``alpha_{t-1}`` reads

    x~_next = x0 + sigma_next (sqrt(1 - c^2) eps_hat + c z),     eps_hat = (x~ - x0_hat) / sigma,

with ``c = eta sqrt(1 - sigma_next^2 / sigma^2)`` for DDIM's ``eta`` (``eta = 1`` is DDPM ancestral
sampling), or ``c = eta`` directly in DDRM/DDNM's convention (:func:`ddim_step`). A step size published
in VP units on ``x_t`` becomes a step on ``x~`` through the two ``alpha`` factors (each method says how).

Dimension caveat. DPS and MPGD step along the gradient of the *unsquared* residual norm, a unit-length
direction whatever the image size, so their published step lengths (tuned on 3x256x256 images) have a
per-pixel effect that grows like ``sqrt(3*256*256 / d)`` on smaller images. They are used as published;
configs may rescale ``zeta`` / ``step_size``.
"""
from __future__ import annotations

from typing import Callable

import torch

from eps.interpolants import edm_sigmas
from eps.methods import Method, Problem, Prior

Tensor = torch.Tensor


def vp_alpha(sigma: Tensor) -> Tensor:
    """VP signal scale ``alpha = 1 / sqrt(1 + sigma^2)`` of the EDM noise level ``sigma`` (``alpha_bar = alpha^2``)."""
    return torch.rsqrt(1 + sigma**2)


def ddim_fraction(sigma: Tensor, sigma_next: Tensor, eta: float) -> Tensor:
    """DDIM's fresh-noise fraction ``c = eta sqrt(1 - sigma_next^2 / sigma^2)`` in ``x~`` units."""
    return eta * torch.sqrt(1 - (sigma_next / sigma) ** 2)


def ddim_step(x0: Tensor, eps_hat: Tensor, sigma_next: Tensor, c: Tensor | float, z: Tensor) -> Tensor:
    """``x~_next = x0 + sigma_next (sqrt(1 - c^2) eps_hat + c z)``."""
    return x0 + sigma_next * ((1 - c**2) ** 0.5 * eps_hat + c * z)


def residual(problem: Problem, x0: Tensor) -> Tensor:
    """``y - A x0`` (measurement space)."""
    return problem.y - problem.operator.A(x0)


def unit_residual_direction(problem: Problem, x0: Tensor) -> Tensor:
    """``A^T (y - A x0) / ||y - A x0||`` per sample: minus the gradient of the unsquared ``||y - A x0||``."""
    r = residual(problem, x0)
    norm = r.flatten(1).norm(dim=1).clamp_min(torch.finfo(r.dtype).tiny)
    return problem.operator.A_T(r / norm.reshape(-1, *([1] * (r.dim() - 1))))


def spectral_measurement(problem: Problem) -> tuple[Tensor, Tensor, Tensor]:
    """The measurement in the spectral layout: ``(y_bar, nu, measured)``.

    ``y_bar_i = (U^T y)_i / s_i`` is an observation of ``(V^T x0)_i`` with noise std ``nu_i = sigma_y / s_i``
    on measured directions (``y_bar = 0, nu = inf`` elsewhere); ``measured`` is the operator's mask.
    """
    op = problem.operator
    measured = op.measured()
    s = torch.where(measured, op.s, 1.0)
    y_bar = torch.where(measured, op.U_T(problem.y) / s, 0.0)
    nu = torch.where(measured, problem.sigma_y / s, torch.inf)
    return y_bar, nu, measured


def denoise_vjp(prior: Prior, x: Tensor, sigma: Tensor, direction: Callable[[Tensor], Tensor]) -> tuple[Tensor, Tensor]:
    """``x0_hat = D(x~, sigma)`` and the vector-Jacobian product ``(d x0_hat / d x~)^T v``, ``v = direction(x0_hat)``.

    One forward and one backward pass through the denoiser (counted by :class:`eps.methods.CountingPrior`).
    """
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        x0 = prior.denoise(x, sigma)
        v = direction(x0.detach())
        (jtv,) = torch.autograd.grad(x0, x, grad_outputs=v)
    return x0.detach(), jtv


class AncestralSampler(Method):
    """Shared loop: ``x~_0 = sigma_0 z``, then ``x~ <- step(x~, sigma, sigma_next, noise)`` down to ``sigma = 0``.

    Hyper-parameters are class attributes; ``task_defaults`` holds a paper's per-task published values.
    An option set explicitly (config) wins over the per-task value, which wins over the class default.
    """

    sigma_min = 0.002
    sigma_max = 80.0
    rho = 7.0
    task_defaults: dict[str, dict[str, float]] = {}

    def setting(self, name: str, problem: Problem):
        """The value of option ``name`` for this problem's task (explicit > published per task > default)."""
        if name in self.__dict__:
            return self.__dict__[name]
        return self.task_defaults.get(problem.operator.task, {}).get(name, getattr(type(self), name))

    def num_steps(self, nfe: int) -> int:
        """Loop steps that fit the NFE budget (one denoiser call per step unless a method says otherwise)."""
        return nfe

    def step(self, x: Tensor, sigma: Tensor, sigma_next: Tensor, noise: Callable[[], Tensor], problem: Problem,
             prior: Prior) -> Tensor:
        raise NotImplementedError

    def sample(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None) -> Tensor:
        if nfe < 1:
            raise ValueError(f"{self.name}: nfe must be >= 1, got {nfe}")
        dtype, device = problem.y.dtype, problem.y.device
        sigmas = edm_sigmas(self.num_steps(nfe), self.sigma_min, self.sigma_max, self.rho).to(device, dtype)
        shape = (problem.batch_size, *prior.image_shape)

        def noise() -> Tensor:
            return torch.randn(shape, generator=generator, dtype=dtype, device=device)

        x = sigmas[0] * noise()
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
            x = self.step(x, sigma, sigma_next, noise, problem, prior)
        return x
