"""The exact posterior score (docs/method.md §2): denoising at the pivot ``mu_star`` under ``Sigma_star``.

With ``x_t = alpha_t x0 + beta_t eps`` and ``y = A x0 + sigma_y n``, write ``x~ = x_t / alpha_t`` and
``sigma = beta_t / alpha_t`` (so ``x~ = x0 + sigma eps``). Combining both Gaussian observations of x0:

    Sigma_star = (I / sigma^2 + A^T A / sigma_y^2)^(-1)
    mu_star    = Sigma_star (x~ / sigma^2 + A^T y / sigma_y^2),     mu_star = x0 + N(0, Sigma_star)

and ``grad log p(x_t | y) = (alpha_t D_{Sigma_star}(mu_star) - x_t) / beta_t^2``. In the operator's SVD
basis (``A = U S V^T``, coefficients ``x̄ = V^T x~``, ``ȳ = U^T y``) both are diagonal:

    var_i  = sigma^2 sigma_y^2 / (sigma_y^2 + sigma^2 s_i^2)
    mū_i   = (sigma_y^2 x̄_i + sigma^2 s_i ȳ_i) / (sigma_y^2 + sigma^2 s_i^2)

written so that ``sigma_y -> 0`` is the exact limit (measured directions: ``var = 0``, ``mū = ȳ / s``),
never a division by zero; only ``sigma_y = s_i = 0`` needs the explicit branch ``var = sigma^2, mū = x̄``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from .interpolants import Interpolant
from .operators.base import LinearOperator, _per_sample

Tensor = torch.Tensor


@dataclass
class Pivot:
    """Everything a pivot denoiser may use: ``mu_star = x0 + N(0, Sigma_star)``.

    ``var`` holds the eigenvalues of ``Sigma_star`` in the operator's spectral layout; ``sigma`` is the
    prior noise level ``beta_t / alpha_t`` (the variance of unmeasured directions is ``sigma^2``), of shape
    ``(B,)`` or ``(1,)`` when shared by the batch — ``var`` then has batch 1 unless the operator has more.
    """

    mu_star: Tensor
    var: Tensor
    sigma: Tensor
    operator: LinearOperator
    y: Tensor
    sigma_y: float

    def pixel_variance(self) -> Tensor:
        """Per-pixel variance ``diag(Sigma_star)`` as an image: the certainty map of the pivot."""
        return self.operator.pixel_variance(self.var)


def _per_sample_sigma(sigma, like: Tensor) -> Tensor:
    """Noise levels as a ``(B,)`` or, when shared by the batch, ``(1,)`` tensor (keeps ``Sigma_star`` shared)."""
    return torch.as_tensor(sigma, dtype=like.dtype, device=like.device).reshape(-1)


def sigma_star_spectrum(operator: LinearOperator, sigma: Tensor, sigma_y: float) -> Tensor:
    """Eigenvalues ``var_i`` of ``Sigma_star`` in the spectral layout for per-sample noise levels ``sigma``."""
    s = operator.s.to(sigma.dtype)
    sig2 = _per_sample(sigma, s) ** 2
    denom = sigma_y**2 + sig2 * s**2
    return torch.where(denom > 0, sig2 * sigma_y**2 / torch.where(denom > 0, denom, 1.0), sig2.expand_as(denom))


def make_pivot(operator: LinearOperator, x_tilde: Tensor, y: Tensor, sigma: Tensor, sigma_y: float) -> Pivot:
    """``mu_star`` and ``Sigma_star`` from the scaled state ``x~ = x_t / alpha_t`` at noise level ``sigma``."""
    sigma = _per_sample_sigma(sigma, x_tilde)
    s = operator.s.to(x_tilde.dtype)
    sig2 = _per_sample(sigma, x_tilde) ** 2
    x_bar, y_bar = operator.V_T(x_tilde), operator.U_T(y.to(x_tilde.dtype))
    denom = sigma_y**2 + sig2 * s**2
    mu_bar = torch.where(denom > 0, (sigma_y**2 * x_bar + sig2 * s * y_bar) / torch.where(denom > 0, denom, 1.0), x_bar)
    return Pivot(operator.V(mu_bar), sigma_star_spectrum(operator, sigma, sigma_y), sigma, operator, y, sigma_y)


def draw_pivot(operator: LinearOperator, x0: Tensor, y: Tensor | None, sigma: Tensor, sigma_y: float,
               generator: torch.Generator | None = None) -> Pivot:
    """Draw ``mu_star = x0 + Sigma_star^(1/2) xi`` directly, with fresh noise ``xi``.

    The *marginal* law of ``mu_star`` given ``x0`` agrees with :func:`make_pivot` applied to ``x~ = x0 + sigma eps``
    and ``y = A x0 + sigma_y n`` (tested), but ``xi`` is independent of the noise of ``y``: use it only for
    denoisers that never read ``y`` (the analytic and Gaussian-expert denoisers, ``y=None``). A network conditioned
    on ``y`` must be trained on the joint draw (:func:`eps.training.objectives.training_pivot`, docs/method.md §3).
    """
    sigma = _per_sample_sigma(sigma, x0)
    var = sigma_star_spectrum(operator, sigma, sigma_y)
    xi = torch.randn(x0.shape, generator=generator, dtype=x0.dtype, device=x0.device)
    mu = x0 + operator.V(var.sqrt() * operator.V_T(xi))
    return Pivot(mu, var, sigma, operator, y, sigma_y)


PivotDenoiser = Callable[[Pivot], Tensor]


def eps_denoiser(pivot_denoiser: PivotDenoiser, operator: LinearOperator, y: Tensor, sigma_y: float,
                 interpolant: Interpolant) -> Callable[[Tensor, Tensor], Tensor]:
    """The EPS drop-in for a backbone sampler: ``(x_t, t) -> D_{Sigma_star}(mu_star(x_t, y, t))``."""

    def denoise(x_t: Tensor, t: Tensor) -> Tensor:
        alpha, beta = interpolant.alpha(t), interpolant.beta(t)
        return pivot_denoiser(make_pivot(operator, x_t / alpha, y, beta / alpha, sigma_y))

    return denoise


def posterior_score(denoised: Tensor, x_t: Tensor, alpha: Tensor, beta: Tensor) -> Tensor:
    """Tweedie: ``grad_{x_t} log p(x_t | y) = (alpha_t D_{Sigma_star}(mu_star) - x_t) / beta_t^2``."""
    return (alpha * denoised - x_t) / beta**2
