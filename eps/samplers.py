"""Backbone samplers over a denoiser callable ``denoise(x_t, t) -> E[x0 | x_t]``.

They know nothing about tasks, operators or methods (EPS replaces ``denoise`` and nothing else). The
time grid is the EDM schedule in sigma (Karras et al. 2022, eq. 5, ``rho = 7``) mapped to the
interpolant's own time; ``sigma_t = beta_t / alpha_t``. With ``D = denoise(x, t)`` and
``eps_hat = (x - alpha_t D) / beta_t`` the probability-flow ODE is ``dx/dt = alpha'_t D + beta'_t eps_hat``.

    solver     update per step i (one function each below)                       NFE for N steps
    euler      x_{i+1} = x_i + (t_{i+1} - t_i) v_i                                N
    heun       Euler predictor, trapezoidal corrector (EDM Alg. 1)                2N - 1
    churn      heun after raising sigma_i to sigma_hat = (1 + gamma) sigma_i
               with fresh noise (EDM Alg. 2, stochastic)                          2N - 1
    ddim       x_{i+1} = alpha_{i+1} D + beta_{i+1} (sqrt(1 - c^2) eps_hat + c z)   N
    dpmpp2m    DPM-Solver++(2M): exponential integrator in lambda = -log sigma,
               second order from the previous step's D (Lu et al. 2022, Alg. 2)   N

The last step to ``sigma = 0`` is ``x_0 = D(x, t_{N-1})`` for every solver (the limit of each update),
so a single step returns ``D(x_T, t_0)``: one NFE at the highest noise level.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from .interpolants import Interpolant, edm_sigmas
from .names import SOLVERS

Tensor = torch.Tensor
Denoiser = Callable[[Tensor, Tensor], Tensor]
SECOND_ORDER_IN_NFE = ("heun", "churn")  # two denoiser calls per step except the last


def steps_for_nfe(nfe: int, solver: str) -> int:
    """Largest number of steps whose NFE does not exceed ``nfe``."""
    check_solver(solver)
    if nfe < 1:
        raise ValueError(f"nfe must be >= 1, got {nfe}")
    return (nfe + 1) // 2 if solver in SECOND_ORDER_IN_NFE else nfe


def nfe_of_steps(num_steps: int, solver: str) -> int:
    return 2 * num_steps - 1 if solver in SECOND_ORDER_IN_NFE else num_steps


def check_solver(solver: str) -> str:
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; valid: {', '.join(SOLVERS)}")
    return solver


def time_steps(interpolant: Interpolant, num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0,
               rho: float = 7.0) -> Tensor:
    """The interpolant times ``t_0 > ... > t_{N-1} > t_N = 0`` of the EDM sigma schedule (float64)."""
    return interpolant.t_of_sigma(edm_sigmas(num_steps, sigma_min, sigma_max, rho))


class _Path:
    """``alpha, beta, alpha', beta'`` of the interpolant at float64 times, cast to the state's dtype."""

    def __init__(self, denoise: Denoiser, interpolant: Interpolant, like: Tensor):
        self.denoise, self.interpolant, self.dtype = denoise, interpolant, like.dtype

    def __call__(self, fn, t: Tensor) -> Tensor:
        return fn(t).to(self.dtype)

    def D(self, x: Tensor, t: Tensor) -> Tensor:
        return self.denoise(x, t.to(x.dtype))

    def velocity(self, x: Tensor, t: Tensor, D: Tensor) -> Tensor:
        """``dx/dt = alpha'_t D + beta'_t (x - alpha_t D) / beta_t``."""
        i = self.interpolant
        eps_hat = (x - self(i.alpha, t) * D) / self(i.beta, t)
        return self(i.d_alpha, t) * D + self(i.d_beta, t) * eps_hat


def heun(path: _Path, x: Tensor, ts: Tensor, generator=None, second_order: bool = True, s_churn: float = 0.0,
         s_tmin: float = 0.0, s_tmax: float = math.inf, s_noise: float = 1.0) -> Tensor:
    """EDM Alg. 2 in the interpolant's time (Alg. 1 when ``s_churn = 0``; Euler without the corrector):

        gamma_i = min(S_churn / N, sqrt(2) - 1) if S_tmin <= sigma_i <= S_tmax else 0
        sigma_hat = (1 + gamma_i) sigma_i
        x_hat = (alpha_hat / alpha_i) x_i + alpha_hat sqrt(sigma_hat^2 - sigma_i^2) S_noise z
        x_{i+1} = x_hat + (t_{i+1} - t_hat) v(x_hat, t_hat)                                      (Euler)
        x_{i+1} = x_hat + (t_{i+1} - t_hat) (v(x_hat, t_hat) + v(x_{i+1}, t_{i+1})) / 2           (Heun)

    A fresh ``z ~ N(0, I)`` is drawn on every step when ``s_churn > 0`` (as EDM's reference sampler does).
    """
    ip, N = path.interpolant, len(ts) - 1
    for i in range(N):
        t_cur, t_next = ts[i], ts[i + 1]
        if s_churn > 0:
            z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
            sigma_cur = ip.sigma(t_cur)
            gamma = min(s_churn / N, math.sqrt(2) - 1) if s_tmin <= sigma_cur <= s_tmax else 0.0
            sigma_hat = sigma_cur * (1 + gamma)
            t_hat = ip.t_of_sigma(sigma_hat)
            alpha_hat = path(ip.alpha, t_hat)
            spread = (sigma_hat**2 - sigma_cur**2).sqrt().to(x.dtype)
            x = alpha_hat / path(ip.alpha, t_cur) * x + alpha_hat * spread * s_noise * z
            t_cur = t_hat
        D = path.D(x, t_cur)
        if t_next == 0:
            return D
        d_cur = path.velocity(x, t_cur, D)
        x_next = x + (t_next - t_cur).to(x.dtype) * d_cur
        if second_order:
            d_next = path.velocity(x_next, t_next, path.D(x_next, t_next))
            x_next = x + (t_next - t_cur).to(x.dtype) * 0.5 * (d_cur + d_next)
        x = x_next
    return x


def ddim(path: _Path, x: Tensor, ts: Tensor, generator=None, eta: float = 0.0) -> Tensor:
    """Song et al. 2021 (generalised to any interpolant), ``eta = 0`` deterministic, ``eta = 1`` ancestral:

        x_{i+1} = alpha_{i+1} D + beta_{i+1} (sqrt(1 - c^2) eps_hat + c z)
        c = eta sqrt(1 - sigma_{i+1}^2 / sigma_i^2)
    """
    ip = path.interpolant
    for i in range(len(ts) - 1):
        t_cur, t_next = ts[i], ts[i + 1]
        D = path.D(x, t_cur)
        if t_next == 0:
            return D
        eps_hat = (x - path(ip.alpha, t_cur) * D) / path(ip.beta, t_cur)
        c = eta * torch.sqrt(1 - (ip.sigma(t_next) / ip.sigma(t_cur)) ** 2).to(x.dtype)
        z = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x = path(ip.alpha, t_next) * D + path(ip.beta, t_next) * (torch.sqrt(1 - c**2) * eps_hat + c * z)
    return x


def dpmpp2m(path: _Path, x: Tensor, ts: Tensor, generator=None) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) in ``lambda_t = log(alpha_t / beta_t) = -log sigma_t``:

        h_i = lambda_{i+1} - lambda_i,   r_i = h_{i-1} / h_i
        D'_i = (1 + 1 / (2 r_i)) D_i - D_{i-1} / (2 r_i)            (D'_0 = D_0: first step is first order)
        x_{i+1} = (beta_{i+1} / beta_i) x_i - alpha_{i+1} (e^{-h_i} - 1) D'_i

    exact for a denoiser output that is linear in lambda; ``x_N = D_{N-1}`` at ``sigma = 0``.
    """
    ip = path.interpolant
    lam = -torch.log(ip.sigma(ts[:-1]))
    D_prev = None
    for i in range(len(ts) - 1):
        t_cur, t_next = ts[i], ts[i + 1]
        D = path.D(x, t_cur)
        if t_next == 0:
            return D
        h = lam[i + 1] - lam[i]
        D_prime = D
        if D_prev is not None:
            r = ((lam[i] - lam[i - 1]) / h).to(x.dtype)
            D_prime = (1 + 1 / (2 * r)) * D - D_prev / (2 * r)
        x = (path(ip.beta, t_next) / path(ip.beta, t_cur) * x
             - path(ip.alpha, t_next) * torch.expm1(-h).to(x.dtype) * D_prime)
        D_prev = D
    return x


def sample(denoise: Denoiser, noise: Tensor, interpolant: Interpolant, num_steps: int, solver: str = "heun",
           eta: float = 0.0, generator: torch.Generator | None = None, sigma_min: float = 0.002,
           sigma_max: float = 80.0, rho: float = 7.0, *, s_churn: float = 40.0, s_tmin: float = 0.05,
           s_tmax: float = 50.0, s_noise: float = 1.003) -> Tensor:
    """Integrate from ``x_{t_0} = beta_{t_0} * noise`` to ``t = 0`` with ``solver`` and return ``x_0``.

    ``eta`` is DDIM's; ``s_*`` are the churn sampler's (defaults: EDM's ImageNet-64 settings, Karras et al.
    2022 Table 5).
    """
    check_solver(solver)
    ts = time_steps(interpolant, num_steps, sigma_min, sigma_max, rho).to(noise.device)
    x = (interpolant.beta(ts[0]) * noise.double()).to(noise.dtype)
    path = _Path(denoise, interpolant, x)
    if solver == "heun" or solver == "euler":
        return heun(path, x, ts, generator, second_order=solver == "heun")
    if solver == "churn":
        return heun(path, x, ts, generator, True, s_churn, s_tmin, s_tmax, s_noise)
    if solver == "ddim":
        return ddim(path, x, ts, generator, eta)
    return dpmpp2m(path, x, ts, generator)
