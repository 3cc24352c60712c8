"""Posterior samplers behind one interface, and the registry that finds them.

A method is a class with a ``name`` and ``sample(problem, prior, nfe, generator) -> Samples``: given the
measurement, the operator, a prior (denoisers) and an NFE budget it returns one posterior sample per row
of ``problem.y``. Draw K samples per measurement by repeating the rows (:meth:`Problem.repeat`).

Registration is one decorator::

    @register_method("my_method")
    class MyMethod(Method):
        def sample(self, problem, prior, nfe, generator): ...

Methods living outside ``eps`` (the ``baselines`` package, or a user's package) are found through the
``eps.methods`` entry-point group of their distribution, so ``eps`` never imports them by name.
The harness wraps the prior in :class:`CountingPrior`, so every method's NFE and vector-Jacobian-product
counts are measured, not declared.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Protocol

import torch

from .interpolants import Interpolant
from .operators import LinearOperator
from .posterior import Pivot

Tensor = torch.Tensor


@dataclass
class Problem:
    """``y = A x0 + sigma_y n`` for a batch: ``operator`` has batch 1 (shared) or ``len(y)``."""

    operator: LinearOperator
    y: Tensor
    sigma_y: float

    def repeat(self, k: int) -> "Problem":
        """Each measurement repeated ``k`` times in a row (K posterior samples per measurement)."""
        return Problem(self.operator.repeat(k), self.y.repeat_interleave(k, dim=0), self.sigma_y)

    @property
    def batch_size(self) -> int:
        return self.y.shape[0]


class Prior(Protocol):
    """Denoisers of a prior in EDM scaling: inputs are ``x~ = x0 + sigma eps`` with images in [-1, 1].

    ``denoise(x~, sigma)`` is the unconditional MMSE denoiser; ``denoise_pivot(pivot)`` is the EPS
    denoiser ``D_{Sigma_star}(mu_star)`` (exact for analytic priors, learned for networks). ``interpolant``
    is the backbone's own schedule, used by every sampler built on it.
    """

    image_shape: tuple[int, int, int]
    interpolant: Interpolant

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor: ...

    def denoise_pivot(self, pivot: Pivot) -> Tensor: ...


@dataclass
class CountingPrior:
    """Wraps a prior and counts network forward passes and vector-Jacobian products per sample row."""

    prior: Prior
    forward: int = 0
    vjp: int = 0
    _rows: int = field(default=0, repr=False)

    @property
    def image_shape(self):
        return self.prior.image_shape

    @property
    def interpolant(self):
        return self.prior.interpolant

    def _count(self, out: Tensor) -> Tensor:
        self.forward += 1
        if out.requires_grad:
            out.register_hook(self._count_vjp)
        return out

    def _count_vjp(self, grad: Tensor) -> None:
        self.vjp += 1

    def denoise(self, x, sigma):
        return self._count(self.prior.denoise(x, sigma))

    def denoise_pivot(self, pivot):
        return self._count(self.prior.denoise_pivot(pivot))

    def denoise_palette(self, x, sigma, condition):
        return self._count(self.prior.denoise_palette(x, sigma, condition))

    def count(self, out: Tensor) -> Tensor:
        """Count one forward pass of a network the method holds itself (e.g. one it trained)."""
        return self._count(out)

    def __getattr__(self, name):  # anything else passes through uncounted
        return getattr(self.prior, name)


@dataclass
class Samples:
    """Posterior samples with their measured cost: ``nfe`` forward passes and ``vjp`` backward passes."""

    x: Tensor
    nfe: int
    vjp: int
    seconds: float


class Method:
    """Base class of a posterior sampler; subclasses implement :meth:`sample`."""

    name: str = "?"

    def __init__(self, **options):
        unknown = set(options) - set(self.options())
        if unknown:
            raise ValueError(f"{self.name}: unknown option(s) {sorted(unknown)}; valid: {sorted(self.options())}")
        for key, value in options.items():
            default = self.options()[key]
            kind = (int, float) if type(default) is float else type(default)
            if isinstance(value, bool) is not isinstance(default, bool) or not isinstance(value, kind) or (
                    isinstance(value, float) and not math.isfinite(value)):
                raise ValueError(f"{self.name}: option {key} must be a finite {type(default).__name__} "
                                 f"(default {default!r}), got {value!r}")
        self.__dict__.update(options)

    @classmethod
    def options(cls) -> dict:
        """Tunable hyper-parameters with their defaults (class attributes not starting with '_')."""
        return {k: v for c in reversed(cls.__mro__) for k, v in vars(c).items()
                if not k.startswith("_") and k != "name" and isinstance(v, (int, float, str, bool))}

    def sample(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None) -> Tensor:
        raise NotImplementedError

    def run(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None = None) -> Samples:
        """Sample with a counted prior and a wall clock around the call."""
        counted = CountingPrior(prior)
        start = time.perf_counter()
        x = self.sample(problem, counted, nfe, generator).detach()
        return Samples(x, counted.forward, counted.vjp, time.perf_counter() - start)


METHODS: dict[str, type[Method]] = {}


def register_method(name: str):
    """Class decorator: make a :class:`Method` available under ``name``."""

    def decorate(cls):
        if name in METHODS and METHODS[name] is not cls:
            raise ValueError(f"method {name!r} is registered twice ({METHODS[name].__module__}, {cls.__module__})")
        cls.name = name
        METHODS[name] = cls
        return cls

    return decorate


def load_plugins() -> None:
    """Import every module advertised under the ``eps.methods`` entry-point group (idempotent)."""
    from . import eps_sampler  # noqa: F401  (EPS itself)
    from .nn import gmm_trained  # noqa: F401  (eps_trained: L_EPS-trained pivot denoiser on the GMM prior)

    for ep in entry_points(group="eps.methods"):
        ep.load()


def get_method(name: str, **options) -> Method:
    load_plugins()
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; registered methods: {', '.join(sorted(METHODS))}")
    return METHODS[name](**options)


def with_solver(name: str, solver: str | None, grid: str | None = None, **options) -> Method:
    """``get_method(name, **options)``, running backbone ``solver`` on sigma ``grid`` when the method has them
    (``solver`` and ``grid`` options: EPS, its ablations, Palette). Methods with their own update rule (the
    baselines) ignore both."""
    load_plugins()
    if name in METHODS and "solver" in METHODS[name].options():
        options = {**options, **({} if solver is None else {"solver": solver}), **({} if grid is None else {"grid": grid})}
    return get_method(name, **options)


def available_methods() -> list[str]:
    load_plugins()
    return sorted(METHODS)
