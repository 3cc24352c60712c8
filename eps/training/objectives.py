"""What a training step feeds the network: ``(x_in, sigma, cond, target)`` for a batch of clean images ``x0``.

All three objectives are the EDM denoising loss (Karras et al. 2022, eq. 2 with Table 1 "EDM" column)

    L = E[ w(sigma) || D_theta(x_in; sigma, cond) - x0 ||^2 ],   ln sigma ~ N(P_mean, P_std^2),
    w(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2,   P_mean = -1.2, P_std = 1.2, sigma_data = 0.5

for every kind by default (``sigma_draw: lognormal``: the EPS paper's App. B, "the EDM optimizer stack unchanged",
log-normal sigma and loss weight for EPS and Palette). The option ``sigma_draw: wide`` (this project's earlier
choice) draws half of each batch of a conditional kind (eps, palette) from ``ln sigma ~ U[ln 0.002, ln 80]``
instead: the sampler queries them over the whole EDM range, and EPS's one-NFE posterior mean is read at sigma_max
= 80, which the log-normal (mean -1.2, std 1.2 in ln sigma) practically never visits.

and differ only in the network input (docs/method.md §3):

    prior     x_in = x0 + sigma n                                        cond = none
    eps       x_in = mu_star (training_pivot, the joint draw below)      cond = eps_condition(pivot)     (L_EPS)
    palette   x_in = x0 + sigma n                                        cond = palette_condition(A, y)  (Palette)

(the conditionings of eps.nn.conditioning; the paper's: the observation image of ``y`` for both)

with one operator task per step drawn uniformly from ``tasks`` (task -> operator parameters, e.g. kernel
size) and ``B`` random operator instances of it (masks, kernels from ``make_operator(task, ..., generator=g,
**params)``) and ``y = A x0 + sigma_y n'``.

An ``anisotropic`` EPS network (eps.nn.anisotropic) reads its output with per-direction ``c_skip, c_out``; its
loss is the same EDM loss on the target ``x0_iso`` in place of ``x0``.

L_EPS draws ``x~ = x0 + sigma eps`` and ``y`` *jointly* (from the same ``x0``) and builds the pivot from both
with :func:`eps.posterior.make_pivot`, the function the sampler calls (docs/method.md §3): the noise of ``mu_star``
in measured directions is then (mostly) the noise ``n'`` of the ``y`` the network is conditioned on, exactly as at
sampling. Drawing ``mu_star = x0 + Sigma_star^(1/2) xi`` with fresh ``xi`` has the same marginal law but makes the
two looks at the measured directions independent, and the network learns to count the measurement twice.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch

from ..nn.anisotropic import anisotropic_target, check_precond
from ..nn.conditioning import eps_condition, palette_condition
from ..operators import make_operator
from ..posterior import Pivot, make_pivot
from ..rng import randn_like

Tensor = torch.Tensor
KINDS = ("prior", "eps", "palette")
SIGMA_DRAWS = ("lognormal", "wide")  # EDM's log-normal (the EPS paper, App. B); half log-uniform (this project's option)
P_MEAN, P_STD, SIGMA_DATA = -1.2, 1.2, 0.5  # Karras et al. 2022, Table 1
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0  # the EDM sampler's range (Karras et al. 2022, Table 1)


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"unknown training kind {kind!r}; valid: {', '.join(KINDS)}")
    return kind


def sample_sigma(n: int, generator: torch.Generator, dtype=torch.float32, wide: bool = False) -> Tensor:
    """``sigma = exp(P_mean + P_std z)``, ``z ~ N(0, 1)``, shape ``(n,)``; with ``wide``, the odd entries are
    log-uniform on ``[SIGMA_MIN, SIGMA_MAX]`` instead (the range of the EDM sampler)."""
    log_sigma = P_MEAN + P_STD * torch.randn(n, generator=generator, dtype=dtype)
    if wide:
        u = torch.rand(n, generator=generator, dtype=dtype)
        uniform = math.log(SIGMA_MIN) + u * (math.log(SIGMA_MAX) - math.log(SIGMA_MIN))
        log_sigma = torch.where(torch.arange(n) % 2 == 1, uniform, log_sigma)
    return torch.exp(log_sigma)


def check_sigma_draw(sigma_draw: str) -> str:
    if sigma_draw not in SIGMA_DRAWS:
        raise ValueError(f"unknown sigma draw {sigma_draw!r}; valid: {', '.join(SIGMA_DRAWS)}")
    return sigma_draw


def edm_weight(sigma: Tensor) -> Tensor:
    """``w(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2``."""
    return (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2


def draw_measurement(x0: Tensor, tasks: Mapping[str, dict], sigma_y: float, generator: torch.Generator):
    """A task drawn uniformly from ``tasks`` (task -> operator parameters), ``B`` random operator instances
    of it from the task's training distribution (``split="train"``: EPS paper App. B, "Operator randomization
    during training": random rectangles for the box, the training mask density, ...) and ``y = A x0 + sigma_y n``."""
    task = list(tasks)[int(torch.randint(len(tasks), (1,), generator=generator))]
    op = make_operator(task, tuple(x0.shape[1:]), x0.shape[0], generator, split="train",
                       **tasks[task]).to(dtype=x0.dtype)
    return op, op.measure(x0, sigma_y, generator)


def training_pivot(x0: Tensor, sigma: Tensor, generator: torch.Generator, sigma_y: float,
                   tasks: Mapping[str, dict]) -> Pivot:
    """The L_EPS pivot: operators and ``y = A x0 + sigma_y n'`` (:func:`draw_measurement`), ``x~ = x0 + sigma eps``,
    then ``mu_star, Sigma_star = make_pivot(A, x~, y, sigma, sigma_y)`` — the joint draw of the sampler."""
    op, y = draw_measurement(x0, tasks, sigma_y, generator)
    x_tilde = x0 + sigma[:, None, None, None] * randn_like(x0, generator)
    return make_pivot(op, x_tilde, y, sigma, sigma_y)


def network_inputs(kind: str, x0: Tensor, generator: torch.Generator, sigma_y: float = 0.05,
                   tasks: Mapping[str, dict] = {}, conditioning: str = "observation", precond: str = "edm",
                   sigma_draw: str = "lognormal"):
    """``(x_in, sigma, cond, target)`` for clean images ``x0``; every random draw comes from ``generator``.
    ``target`` is ``x0``, except for an ``anisotropic`` EPS network: ``x0_iso`` (eps.nn.anisotropic)."""
    wide = check_sigma_draw(sigma_draw) == "wide" and check_kind(kind) != "prior"
    sigma = sample_sigma(x0.shape[0], generator, x0.dtype, wide=wide)
    if kind == "prior":
        return x0 + sigma[:, None, None, None] * randn_like(x0, generator), sigma, None, x0
    if kind == "eps":
        pivot = training_pivot(x0, sigma, generator, sigma_y, tasks)
        target = anisotropic_target(pivot, x0) if check_precond(precond) == "anisotropic" else x0
        return pivot.mu_star, sigma, eps_condition(pivot, conditioning), target
    op, y = draw_measurement(x0, tasks, sigma_y, generator)
    x_tilde = x0 + sigma[:, None, None, None] * randn_like(x0, generator)
    return x_tilde, sigma, palette_condition(op, y, conditioning, generator), x0


def denoising_loss(net, target: Tensor, x_in: Tensor, sigma: Tensor, cond: Tensor | None,
                   class_labels: Tensor | None = None) -> Tensor:
    """``mean_b w(sigma_b) mean_pixels (D(x_in_b) - target_b)^2`` (``target``: ``x0``, or ``x0_iso`` for an
    anisotropic EPS network; ``class_labels``: one-hot, class-conditional nets)."""
    D = net(x_in, sigma, cond, class_labels=class_labels)
    return (edm_weight(sigma) * ((D - target) ** 2).flatten(1).mean(1)).mean()


__all__ = ["KINDS", "SIGMA_DRAWS", "check_kind", "check_sigma_draw", "sample_sigma", "edm_weight", "draw_measurement", "training_pivot", "network_inputs",
           "denoising_loss"]
