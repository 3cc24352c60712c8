"""``eps gmm-bench``: every method against the exact posterior of an analytic Gaussian-mixture prior.

For each seed: a new random GMM prior and one ground truth ``x0``; for each task a new operator instance
and measurement ``y = A x0 + sigma_y n``; the exact posterior ``p(x0 | y)`` in closed form. Each method
draws ``--num-samples`` posterior samples for that ``y``, scored against exact samples by the sliced
Wasserstein-2 distance ``sw`` next to the noise floor ``sw_floor`` (two independent exact sets of the same
size), plus the errors of the sample mean and covariance against their closed forms.

    eps gmm-bench --methods eps,dps --tasks all --seeds 0,1,2 --nfe 20,100 --num-samples 2000 \\
                  --shape 3,8,8 --sigma-y 0.05 --out results/gmm.csv

A method may carry its own budget: ``--methods eps@20,dps@100``.
"""
from __future__ import annotations

import argparse
import math
import os

import pandas as pd
import torch

from .args import int_list, nonnegative_float, nonnegative_int, positive_int
from .io import check_writable, write_text

from .distances import covariance_error, mean_error, sliced_wasserstein
from .interpolants import make_interpolant
from .methods import Problem, available_methods, get_method
from .operators import TASKS, check_task, make_operator
from .priors import mixture_moments, random_gmm
from .rng import generator, stream_seed

COLUMNS = ["method", "task", "seed", "nfe", "nfe_budget", "vjp", "sw", "sw_floor", "ratio", "mean_err", "cov_err",
           "seconds", "shape", "sigma_y", "interpolant", "num_samples"]


def _stream(seed: int, *names: str) -> torch.Generator:
    """An independent, reproducible generator for ``(seed, names...)``, whatever else runs before it."""
    return generator(stream_seed(seed, *names))


def parse_methods(spec: str, default_nfe: list[int]) -> list[tuple[str, list[int]]]:
    """``"eps@20,dps"`` -> ``[("eps", [20]), ("dps", default_nfe)]``; names are checked against the registry."""
    valid = available_methods()
    runs = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        name, _, nfe = item.partition("@")
        if name not in valid:
            raise ValueError(f"unknown method {name!r}; registered methods: {', '.join(valid)}")
        runs.append((name, [int(nfe)] if nfe else default_nfe))
    return runs


def run(methods: list[tuple[str, list[int]]], tasks: list[str], seeds: list[int], shape: tuple[int, int, int],
        sigma_y: float, num_samples: int, interpolant: str = "edm", num_projections: int = 500,
        log=print) -> pd.DataFrame:
    """The benchmark loop; returns one row per (seed, task, method, nfe)."""
    instances = {name: get_method(name) for name, _ in methods}  # one instance per method, reused across tasks
    rows = []
    for seed in seeds:
        gmm = random_gmm(shape, generator=_stream(seed, "prior"))
        gmm.interpolant = make_interpolant(interpolant)
        x0 = gmm.sample(1, _stream(seed, "x0"))
        for task in tasks:
            g = _stream(seed, task, "operator")
            op = make_operator(task, shape, 1, g).to(dtype=torch.float64)
            y = op.measure(x0, sigma_y, g)
            posterior = gmm.posterior(op, y, sigma_y)
            exact = posterior.sample(num_samples, _stream(seed, task, "exact"))
            exact_2 = posterior.sample(num_samples, _stream(seed, task, "exact-2"))
            mean, cov = mixture_moments(posterior)
            floor = sliced_wasserstein(exact_2, exact, num_projections, _stream(seed, task, "projections"))
            problem = Problem(op, y.expand(num_samples, *y.shape[1:]).clone(), sigma_y)
            for name, budgets in methods:
                for nfe in budgets:
                    prior = _Recorded(gmm)
                    out = instances[name].run(problem, prior, nfe, _stream(seed, task, name, str(nfe)))
                    if interpolant != "edm" and not prior.read_interpolant:
                        raise ValueError(f"--interpolant {interpolant}: {name} samples on its own EDM schedule and "
                                         f"ignores the backbone interpolant, so its row would not describe what ran; "
                                         f"run {name} with --interpolant edm")
                    if not torch.isfinite(out.x).all():
                        raise FloatingPointError(f"{name} returned non-finite samples on {task} (seed {seed})")
                    sw = sliced_wasserstein(out.x, exact, num_projections, _stream(seed, task, "projections"))
                    rows.append(dict(method=name, task=task, seed=seed, nfe=out.nfe, nfe_budget=nfe, vjp=out.vjp,
                                     sw=sw, sw_floor=floor, ratio=sw / floor, mean_err=mean_error(out.x, mean),
                                     cov_err=covariance_error(out.x, cov), seconds=out.seconds,
                                     shape="x".join(map(str, shape)), sigma_y=sigma_y, interpolant=interpolant,
                                     num_samples=num_samples))
                    log(f"seed {seed} {task:<14} {name:<12} nfe {out.nfe:>4}  sw/floor {sw / floor:6.2f}  "
                        f"{out.seconds:6.1f}s")
    return pd.DataFrame(rows, columns=COLUMNS)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ``sw / sw_floor`` over seeds, method (and NFE) by task."""
    table = df.pivot_table(index=["method", "nfe"], columns="task", values="ratio", aggfunc="mean")
    return table[[t for t in TASKS if t in table.columns]]


def _num_samples(text: str) -> int:
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be >= 2 (the sample covariance needs two samples), got {text!r}")
    return value


def check_problem(shape: tuple[int, ...], tasks: list[str], memory: int | None = None) -> None:
    """Refuse, before any work, a shape whose Gaussian mixture does not fit in memory (about
    ``6 components x 4 (d x d) float64 matrices``, ``d = C H W``) or that a task cannot measure."""
    if len(shape) != 3:
        raise ValueError(f"--shape must be C,H,W, got {','.join(map(str, shape))}")
    d = math.prod(shape)
    if d < 2:
        raise ValueError(f"--shape {','.join(map(str, shape))}: a Gaussian-mixture prior needs at least 2 pixels")
    need = 6 * 4 * d * d * 8
    memory = memory or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > memory / 2:
        raise ValueError(f"--shape {','.join(map(str, shape))}: the exact posterior needs about {need / 2**30:.1f} GiB "
                         f"(d = {d}), more than half of this machine's {memory / 2**30:.1f} GiB")
    for task in tasks:
        try:
            make_operator(task, shape, 1, generator(0))
        except ValueError as err:
            raise ValueError(f"--shape {','.join(map(str, shape))} does not fit task {task}: {err}") from None
    try:  # e.g. 1x1 images: the smoothed random covariances are not positive definite
        random_gmm(shape, generator=generator(0))
    except (RuntimeError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"--shape {','.join(map(str, shape))}: no Gaussian-mixture prior of this shape ({first})") from None


class _Recorded:
    """The prior as a method sees it, recording whether the method read the backbone ``interpolant``."""

    def __init__(self, prior):
        self._prior, self.read_interpolant = prior, False

    @property
    def interpolant(self):
        self.read_interpolant = True
        return self._prior.interpolant

    def __getattr__(self, name):
        return getattr(self._prior, name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eps gmm-bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--methods", default="eps", help="comma-separated registered methods, optionally name@NFE")
    p.add_argument("--tasks", default="all", help=f"'all' or comma-separated from: {', '.join(TASKS)}")
    p.add_argument("--seeds", default="0,1,2", type=int_list(nonnegative_int))
    p.add_argument("--nfe", default="20", type=int_list(positive_int), help="NFE budget(s), comma-separated")
    p.add_argument("--num-samples", default=2000, type=_num_samples)
    p.add_argument("--shape", default="3,8,8", type=int_list(positive_int), help="C,H,W")
    p.add_argument("--sigma-y", default=0.05, type=nonnegative_float)
    p.add_argument("--interpolant", default="edm", choices=("edm", "vp", "flow"),
                   help="backbone interpolant of the EPS samplers (baselines run EDM only: other values refuse them)")
    p.add_argument("--num-projections", default=500, type=positive_int)
    p.add_argument("--threads", default=None, type=positive_int, help="torch intra-op threads (default: torch's)")
    p.add_argument("--out", required=True, help="output CSV")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    tasks = list(TASKS) if a.tasks == "all" else [check_task(t.strip()) for t in a.tasks.split(",")]
    methods = parse_methods(a.methods, a.nfe)
    if not methods or not tasks:
        raise ValueError(f"--methods {a.methods!r} --tasks {a.tasks!r}: name at least one method and one task")
    check_problem(tuple(a.shape), tasks)
    check_writable(a.out, "--out")
    make_interpolant(a.interpolant)
    df = run(methods, tasks, a.seeds, tuple(a.shape), a.sigma_y, a.num_samples,
             a.interpolant, a.num_projections)
    write_text(a.out, df.to_csv(index=False))
    print("\nmean sw / sw_floor over seeds:\n" + summary(df).round(2).to_string())
    return 0
