"""Anisotropic EDM preconditioning of the EPS network: ``c_skip`` and ``c_out`` per eigendirection of Sigma_star.

EDM's preconditioning (:mod:`eps.nn.precond`) is the exact denoiser of the Gaussian prior ``N(0, sigma_data^2 I)``
plus a network residual of unit target variance. For the pivot ``mu_star = x0 + N(0, Sigma_star)``,
``Sigma_star = V diag(v) V^T``, the same construction per eigendirection is

    D(mu) = C_skip mu + C_out F,      C_skip = sd^2 (Sigma_star + sd^2 I)^(-1),
                                      C_out  = sd Sigma_star^(1/2) (Sigma_star + sd^2 I)^(-1/2),       sd = sigma_data
    L     = || C_out^(-1) (D - x0) ||^2 = || F - C_out^(-1) (x0 - C_skip mu) ||^2

``C_skip mu`` is the exact ``E[x0 | mu_star]`` of ``N(0, sd^2 I)`` under the anisotropic noise. Where ``v_i = sigma^2``
(directions ``y`` does not measure) the coefficients are EDM's scalars, so ``D`` is the isotropic wrapper's; where
``y`` measures (``v_i ~ sigma_y^2``) ``C_skip -> 1`` and ``C_out -> sigma_y``: the pivot passes through and the
network corrects it at the scale of the measurement noise. With EDM's scalar ``c_skip(sigma) -> 0`` at large
``sigma``, the isotropic network must instead rebuild every measured pixel from its conditioning channels, and
its error there is not scaled down (docs/method.md §3).

The network keeps EDM's scalar input scaling ``c_in(sigma), c_noise(sigma)`` (``sigma`` the pivot's prior noise
level) and its wrapper ``D_iso = c_skip mu + c_out F`` (:class:`eps.nn.EDMPrecond`), so both sides are written
in terms of ``D_iso``, with the scalars ``c_skip, c_out`` at ``sigma``:

    D       = C_skip mu + C_out (D_iso - c_skip mu) / c_out                                   (sampling)
    x0_iso  = c_skip mu + c_out C_out^(-1) (x0 - C_skip mu)                                    (training target)

and ``w(sigma) ||D_iso - x0_iso||^2 = ||F - C_out^(-1) (x0 - C_skip mu)||^2 = L``: the EDM loss of the
wrapper, unchanged, on the target ``x0_iso``. A direction measured exactly (``v_i = 0``, ``sigma_y = 0``) has
``C_out = 0`` and ``D = mu`` there; its target component is ``0`` (``F`` does not enter ``D``).

At fine-tuning step 0 (``F`` the pretrained network's) ``D`` equals the pretrained denoiser in the directions
with ``v_i = sigma^2`` and passes the pivot through (up to ``sigma_y``-scaled corrections) in measured ones.
``PRECONDS``: ``edm`` (the wrapper alone; step 0 is the pretrained denoiser at the pivot) and ``anisotropic``.
"""
from __future__ import annotations

import torch

from ..operators.base import _per_sample
from ..posterior import Pivot
from .precond import EDMPrecond, edm_coefficients

Tensor = torch.Tensor
PRECONDS = ("edm", "anisotropic")
SIGMA_DATA = EDMPrecond.sigma_data


def check_precond(precond: str) -> str:
    if precond not in PRECONDS:
        raise ValueError(f"unknown EPS preconditioning {precond!r}; valid: {', '.join(PRECONDS)}")
    return precond


def direction_coefficients(var: Tensor, sigma_data: float = SIGMA_DATA) -> tuple[Tensor, Tensor]:
    """``(C_skip, C_out)`` eigenvalues for the eigenvalues ``var`` of ``Sigma_star``."""
    sd2 = sigma_data**2
    return sd2 / (var + sd2), sigma_data * var.sqrt() / (var + sd2).sqrt()


def _scalars(pivot: Pivot, like: Tensor) -> tuple[Tensor, Tensor]:
    """EDM's ``(c_skip, c_out)`` at the pivot's ``sigma``, broadcast per sample."""
    c_skip, c_out, _, _ = edm_coefficients(_per_sample(pivot.sigma.to(like.dtype), like))
    return c_skip, c_out


def anisotropic_denoised(pivot: Pivot, D_iso: Tensor) -> Tensor:
    """``D = C_skip mu + C_out (D_iso - c_skip mu) / c_out`` from the isotropic wrapper's output ``D_iso``."""
    op, mu = pivot.operator, pivot.mu_star.to(D_iso.dtype)
    c_skip, c_out = _scalars(pivot, D_iso)
    C_skip, C_out = direction_coefficients(pivot.var.to(D_iso.dtype))
    return op.V(C_skip * op.V_T(mu) + C_out * op.V_T((D_iso - c_skip * mu) / c_out))


def anisotropic_target(pivot: Pivot, x0: Tensor) -> Tensor:
    """``x0_iso = c_skip mu + c_out C_out^(-1) (x0 - C_skip mu)`` (component ``0`` of ``C_out^(-1)`` where ``C_out = 0``)."""
    op, mu = pivot.operator, pivot.mu_star.to(x0.dtype)
    c_skip, c_out = _scalars(pivot, x0)
    C_skip, C_out = direction_coefficients(pivot.var.to(x0.dtype))
    residual = op.V_T(x0) - C_skip * op.V_T(mu)
    scaled = torch.where(C_out > 0, residual / torch.where(C_out > 0, C_out, 1.0), 0.0)
    return c_skip * mu + c_out * op.V(scaled)


__all__ = ["PRECONDS", "check_precond", "direction_coefficients", "anisotropic_denoised", "anisotropic_target"]
