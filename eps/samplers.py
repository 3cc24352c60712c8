"""Backbone samplers over a denoiser callable ``denoise(x_t, t) -> E[x0 | x_t]``.

They know nothing about tasks, operators or methods (EPS replaces ``denoise`` and nothing else). The
time grid is the EDM schedule in sigma (Karras et al. 2022, eq. 5, ``rho = 7``) mapped to the
interpolant's own time. With ``D = denoise(x, t)`` and ``eps_hat = (x - alpha_t D) / beta_t``:

    probability-flow ODE   dx/dt = alpha'_t D + beta'_t eps_hat                 (solver "euler" / "heun")
    DDIM-style update      x_next = alpha_n D + beta_n (sqrt(1 - c^2) eps_hat + c z),
                           c = eta sqrt(1 - sigma_n^2 / sigma_c^2)              (solver "ddim", eta in [0, 1])

The last step to ``sigma = 0`` is ``x_0 = D(x, t_{N-1})`` for every solver (identical to Euler for EDM),
so a single step returns ``D(x_T, t_0)``. NFE: Heun with N steps costs ``2N - 1``, Euler/DDIM ``N``.
"""
from __future__ import annotations

from typing import Callable

import torch

from .interpolants import Interpolant, edm_sigmas

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, Tensor], Tensor]
SOLVERS = ("heun", "euler", "ddim")


def steps_for_nfe(nfe: int, solver: str) -> int:
    """Largest number of steps whose NFE does not exceed ``nfe``."""
    check_solver(solver)
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    return (nfe + 1) // 2 if solver == "heun" else nfe


def nfe_of_steps(num_steps: int, solver: str) -> int:
    return 2 * num_steps - 1 if solver == "heun" else num_steps


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    return solver


def time_steps(interpolant: Interpolant, num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
               rho: float = 7.0) -> Tensor:
    """The interpolant times ``t_0 > ... > t_{N-1} > t_N = 0`` of the EDM sigma schedule (float64)."""
    return interpolant.t_of_sigma(edm_sigmas(num_steps, sigma_min, sigma_max, rho))


def sample(denoise: Denoiser, noise: Tensor, interpolant: Interpolant, num_steps: int, solver: str = "heun",
           eta: float = 0.0, generator: torch.Generator | None = None, sigma_min: float = 0.002,
           sigma_max: float = 80.0, rho: float = 7.0) -> Tensor:
    """Integrate from ``x_{t_0} = beta_{t_0} * noise`` to ``t = 0`` and return ``x_0``."""
    check_solver(solver)
    ts = time_steps(interpolant, num_steps, sigma_min, sigma_max, rho).to(noise.device)
    alpha, beta = interpolant.alpha(ts), interpolant.beta(ts)
    x = (beta[0] * noise.double()).to(noise.dtype)

    def velocity(x, i, D):
        eps_hat = (x - alpha[i].to(x.dtype) * D) / beta[i].to(x.dtype)
        return interpolant.d_alpha(ts[i]).to(x.dtype) * D + interpolant.d_beta(ts[i]).to(x.dtype) * eps_hat

    for i in range(num_steps):
        t_cur, t_next = ts[i], ts[i + 1]
        D = denoise(x, t_cur.to(x.dtype))
        if t_next == 0:
            x = D
        elif solver == "ddim":
            eps_hat = (x - alpha[i].to(x.dtype) * D) / beta[i].to(x.dtype)
            c = eta * torch.sqrt(1 - (interpolant.sigma(t_next) / interpolant.sigma(t_cur)) ** 2).to(x.dtype)
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            x = alpha[i + 1].to(x.dtype) * D + beta[i + 1].to(x.dtype) * (torch.sqrt(1 - c**2) * eps_hat + c * z)
        else:
            h = (t_next - t_cur).to(x.dtype)
            d_cur = velocity(x, i, D)
            x_next = x + h * d_cur
            if solver == "heun":
                d_next = velocity(x_next, i + 1, denoise(x_next, t_next.to(x.dtype)))
                x_next = x + h * 0.5 * (d_cur + d_next)
            x = x_next
    return x
