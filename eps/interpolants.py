"""Gaussian interpolants ``x_t = alpha_t x0 + beta_t eps`` (docs/method.md §1).

One interface for EDM (``alpha = 1, beta = t``), variance-preserving (``alpha^2 + beta^2 = 1``, the
linear-beta DDPM schedule of Song et al. 2021) and the linear flow (``alpha = 1 - t, beta = t``). The
noise level a denoiser sees is ``sigma_t = beta_t / alpha_t``; samplers choose their time grid in sigma
and map it back with :meth:`Interpolant.t_of_sigma`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

Tensor = torch.Tensor


class Interpolant:
    """``alpha(t)``, ``beta(t)``, their time derivatives, and the inverse of ``sigma(t) = beta / alpha``."""

    name: str

    def alpha(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def beta(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def d_alpha(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def d_beta(self, t: Tensor) -> Tensor:
        raise NotImplementedError

    def t_of_sigma(self, sigma: Tensor) -> Tensor:
        raise NotImplementedError

    def sigma(self, t: Tensor) -> Tensor:
        return self.beta(t) / self.alpha(t)


class EDM(Interpolant):
    """Karras et al. 2022: ``x_t = x0 + t eps``, ``t = sigma``."""

    name = "edm"

    def alpha(self, t):
        return torch.ones_like(t)

    def beta(self, t):
        return t

    def d_alpha(self, t):
        return torch.zeros_like(t)

    def d_beta(self, t):
        return torch.ones_like(t)

    def t_of_sigma(self, sigma):
        return sigma


@dataclass
class VP(Interpolant):
    """DDPM / VP-SDE with linear ``beta(t) = beta_min + t (beta_max - beta_min)`` on ``t in [0, 1]``.

    ``alpha_t = exp(-t^2 (beta_max - beta_min) / 4 - t beta_min / 2)``, ``beta_t = sqrt(1 - alpha_t^2)``
    (Song et al. 2021, constants 0.1 and 20). ``sigma(1) ≈ 152`` covers the EDM range up to 80.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    name = "vp"

    def _log_alpha(self, t):
        return -0.25 * t**2 * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def alpha(self, t):
        return torch.exp(self._log_alpha(t))

    def beta(self, t):
        return torch.sqrt(-torch.expm1(2 * self._log_alpha(t)))

    def d_alpha(self, t):
        return self.alpha(t) * (-0.5 * t * (self.beta_max - self.beta_min) - 0.5 * self.beta_min)

    def d_beta(self, t):
        a = self.alpha(t)
        return -a * self.d_alpha(t) / self.beta(t)

    def t_of_sigma(self, sigma):
        """Solve ``log(1 + sigma^2) = t^2 (beta_max - beta_min) / 2 + t beta_min`` for ``t``."""
        delta = self.beta_max - self.beta_min
        return (-self.beta_min + torch.sqrt(self.beta_min**2 + 2 * delta * torch.log1p(sigma**2))) / delta


class Flow(Interpolant):
    """Rectified flow / linear interpolant: ``x_t = (1 - t) x0 + t eps``, ``sigma = t / (1 - t)``."""

    name = "flow"

    def alpha(self, t):
        return 1 - t

    def beta(self, t):
        return t

    def d_alpha(self, t):
        return -torch.ones_like(t)

    def d_beta(self, t):
        return torch.ones_like(t)

    def t_of_sigma(self, sigma):
        return sigma / (1 + sigma)


INTERPOLANTS = {"edm": EDM, "vp": VP, "flow": Flow}


def make_interpolant(name: str) -> Interpolant:
    if name not in INTERPOLANTS:
        raise ValueError(f"unknown interpolant {name!r}; valid: {', '.join(INTERPOLANTS)}")
    return INTERPOLANTS[name]()


def edm_sigmas(num_steps: int, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0,
               dtype=torch.float64) -> Tensor:
    """Karras et al. 2022 eq. 5: ``sigma_i = (s_max^(1/rho) + i/(N-1) (s_min^(1/rho) - s_max^(1/rho)))^rho``,
    followed by ``sigma_N = 0``. ``num_steps = 1`` gives ``[sigma_max, 0]``."""
    i = torch.arange(num_steps, dtype=dtype)
    if num_steps == 1:
        sig = torch.tensor([sigma_max], dtype=dtype)
    else:
        sig = (sigma_max ** (1 / rho) + i / (num_steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return torch.cat([sig, torch.zeros(1, dtype=dtype)])


__all__ = ["Interpolant", "EDM", "VP", "Flow", "INTERPOLANTS", "make_interpolant", "edm_sigmas"]
