"""Posterior samplers behind one interface, and the registry that finds them.

A method is a class with a ``name`` and ``sample(problem, prior, nfe, generator) -> Samples``: given the
measurement, the operator, a prior (denoisers) and an NFE budget it returns one posterior sample per row
of ``problem.y``. Draw K samples per measurement by repeating the rows (:meth:`Problem.repeat`).

Registration is one decorator::

    @register_method("my_method")
    class MyMethod(Method):
        def sample(self, problem, prior, nfe, generator): ...

Every method, EPS's own included, is found through the ``eps.methods`` entry-point group: the entry point's
name is the method's name and its value the module that registers it (pyproject.toml), so the registry
imports no method by name, and a method module is imported only when it is asked for.
The harness wraps the prior in :class:`~eps.methods.counting.CountingPrior`, so every method's NFE and
vector-Jacobian-product counts are measured, not declared.
"""
from __future__ import annotations

import importlib
import math
import time
from dataclasses import dataclass
from typing import Protocol

import torch

from ..args import unknown as unknown_name
from ..interpolants import Interpolant
from ..names import method_modules
from ..operators import LinearOperator
from ..posterior import Pivot
from .counting import CountingPrior

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
            first = sorted(unknown)[0]
            raise ValueError(f"{self.name}: " + unknown_name("option", first, sorted(self.options())))
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

    def run(self, problem: Problem, prior: Prior, nfe: int, generator: torch.Generator | None = None,
            what: str | None = None) -> Samples:
        """Sample with a counted prior and a wall clock around the call; ``what`` (e.g. the method, task and
        images) makes the first non-finite denoiser output stop the run with an error naming it."""
        counted = CountingPrior(prior, what)
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


def load_plugins(names: list[str] | None = None) -> None:
    """Import the modules advertised under the ``eps.methods`` entry-point group (``names``: only those
    methods'; idempotent). An advertised name its module does not register is an error naming both."""
    modules = method_modules()
    for name in modules if names is None else [n for n in names if n in modules]:
        importlib.import_module(modules[name])
        if name not in METHODS:
            raise ValueError(f"entry point eps.methods:{name} = {modules[name]} registers no method {name!r}")


def get_method(name: str, **options) -> Method:
    load_plugins([name])
    if name not in METHODS:
        raise ValueError(unknown_name("method", name, available_methods(), "registered methods"))
    return METHODS[name](**options)


def with_solver(name: str, solver: str | None, **options) -> Method:
    """``get_method(name, **options)``, running backbone ``solver`` when the method has one (a ``solver`` option:
    EPS, its ablations, Palette). Methods with their own update rule (the baselines) ignore it."""
    load_plugins([name])
    if solver is not None and name in METHODS and "solver" in METHODS[name].options():
        options = {**options, "solver": solver}
    return get_method(name, **options)


def available_methods() -> list[str]:
    """Every advertised method and every one registered in this process (e.g. by a test), without importing
    any method module."""
    return sorted({*method_modules(), *METHODS})
