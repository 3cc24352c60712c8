"""The one sampling loop every training-free baseline shares, and the algebra several of them reuse.

State and units. Every baseline runs on the scaled state ``x~ = x0 + sigma eps`` that the prior's denoiser
takes (EDM scaling, images in [-1, 1], ``sigma_y`` in the same units), over a decreasing noise grid
``sigma_0 > ... > sigma_{N-1} > sigma_N = 0``. One step maps ``x~`` at ``sigma`` to ``x~`` at ``sigma_next``,
drawing fresh ``z ~ N(0, I)`` from ``noise()`` (seeded by the caller's generator, or a recorded stream
passed as ``sample(..., noise=...)`` for parity tests); subclasses write :meth:`step`.

Time grids (option ``time_grid``; :func:`time_grid`):

    edm   Karras et al. 2022 eq. 5, the backbone's own schedule (``sigma_max = 80, sigma_min = 0.002,
          rho = 7`` unless a method overrides them); the chain starts at ``x~ = sigma_0 z``.
    ddim  the released DDIM-style skipping on the 1000-step linear-beta DDPM schedule (``beta`` from 1e-4 to
          0.02, Ho et al. 2020): ``skip = 1000 // N`` and timesteps ``t = (N-1) skip, ..., skip, 0``, then
          ``alpha_bar = 1`` (DDIM ``generalized_steps``, DDRM, DDNM ``get_schedule_jump`` with
          ``travel_length = 1``, RED-diff ``get_timesteps``).
    ddpm  guided-diffusion's ``space_timesteps(1000, [N])`` on the same schedule (DPS's
          ``timestep_respacing``): ``t_k = round(k * 999 / (N - 1))``, ``k = N-1, ..., 0``, then ``alpha_bar = 1``.

A released timestep ``t`` maps onto the EDM backbone by ``sigma_t = sqrt((1 - alpha_bar_t) / alpha_bar_t)``
(the VP state is ``x_t = sqrt(alpha_bar_t) x~``), and a VP chain starts from ``x_T = z``, i.e.
``x~ = z / sqrt(alpha_bar_T) = sqrt(1 + sigma_0^2) z``. The default of each baseline is the grid of its
release.

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


TIME_GRIDS = ("edm", "ddim", "ddpm")
DDPM_TIMESTEPS = 1000  # the released DDPM chain: linear betas from 1e-4 to 0.02 over 1000 steps (Ho et al. 2020)


def linear_alpha_bar(num_timesteps: int = DDPM_TIMESTEPS, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """``alpha_bar_t = prod_{s <= t} (1 - beta_s)`` for linear ``beta``, ``t = 0 .. T-1`` (float64)."""
    return torch.cumprod(1 - torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64), dim=0)


def released_timesteps(grid: str, num_steps: int, num_timesteps: int = DDPM_TIMESTEPS) -> list[int]:
    """The DDPM timesteps a release visits with ``num_steps`` steps, in sampling (decreasing) order."""
    if grid not in TIME_GRIDS[1:]:
        raise ValueError(f"unknown time_grid {grid!r}; valid: {', '.join(TIME_GRIDS)}")
    if not 1 <= num_steps <= num_timesteps:
        raise ValueError(f"time grid {grid!r}: {num_steps} steps do not fit a {num_timesteps}-step DDPM chain")
    if grid == "ddim":
        skip = num_timesteps // num_steps
        return [k * skip for k in reversed(range(num_steps))]
    stride = (num_timesteps - 1) / (num_steps - 1) if num_steps > 1 else 1
    taken, position = [], 0.0
    for _ in range(num_steps):  # space_timesteps accumulates the fractional stride, then rounds
        taken.append(round(position))
        position += stride
    return taken[::-1]


def time_grid(grid: str, num_steps: int, sigma_min: float, sigma_max: float, rho: float) -> Tensor:
    """Decreasing noise levels ``sigma_0 > ... > sigma_{N-1}`` followed by ``0`` (module doc; float64)."""
    if grid == "edm":
        return edm_sigmas(num_steps, sigma_min, sigma_max, rho)
    alpha_bar = linear_alpha_bar()[released_timesteps(grid, num_steps)]
    return torch.cat([((1 - alpha_bar) / alpha_bar).sqrt(), torch.zeros(1, dtype=torch.float64)])


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
    ``time_grid`` names the noise grid (module doc); ``sigma_min, sigma_max, rho`` apply to ``edm`` only.
    """

    time_grid = "edm"
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

    def initial(self, sigma: Tensor, z: Tensor, problem: Problem) -> Tensor:
        """The starting state from ``z ~ N(0, I)``: ``sigma_0 z`` on EDM's grid, ``x_T = z`` on a VP grid."""
        return sigma * z if self.time_grid == "edm" else (1 + sigma**2).sqrt() * z

    def sample(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None,
               noise: Callable[[], Tensor] | None = None) -> Tensor:
        """``noise`` (optional) replaces the draws from ``generator``, e.g. a recorded stream in a parity test."""
        if nfe < 1:
            raise ValueError(f"{self.name}: nfe must be >= 1, got {nfe}")
        dtype, device = problem.y.dtype, problem.y.device
        sigmas = time_grid(self.time_grid, self.num_steps(nfe), self.sigma_min, self.sigma_max, self.rho)
        sigmas = sigmas.to(device, dtype)
        shape = (problem.batch_size, *prior.image_shape)

        def draw() -> Tensor:
            return torch.randn(shape, generator=generator, dtype=dtype, device=device)

        noise = noise or draw
        x = self.initial(sigmas[0], noise(), problem)
        for sigma, sigma_next in zip(sigmas[:-1], sigmas[1:]):
            x = self.step(x, sigma, sigma_next, noise, problem, prior)
        return x


RULES = ("released", "eps_paper")


def check_rule(method: Method) -> None:
    """``rule`` selects a baseline's update: its release's (parity-tested) or the EPS paper's Table 12 reading."""
    if method.rule not in RULES:
        raise ValueError(f"{method.name}: rule must be one of {', '.join(RULES)}, got {method.rule!r}")


def bound(method: Method, **values) -> Method:
    """A copy of ``method`` with ``values`` set (settings resolved once per call, e.g. from the number of steps);
    ``method`` itself is left unchanged."""
    copy = type(method).__new__(type(method))
    copy.__dict__.update(method.__dict__, **values)
    return copy
