"""``eps gmm-bench``: every method against the exact posterior of an analytic Gaussian-mixture prior.

For each seed: a new random GMM prior and one ground truth ``x0``; for each task a new operator instance
and measurement ``y = A x0 + sigma_y n``; the exact posterior ``p(x0 | y)`` in closed form. Each method
draws ``--num-samples`` posterior samples for that ``y``, scored against exact samples by the sliced
Wasserstein-2 distance ``sw`` next to the noise floor ``sw_floor`` (two independent exact sets of the same
size), plus the errors of the sample mean and covariance against their closed forms.

    eps gmm-bench --methods eps,dps --tasks all --seeds 0,1,2 --nfe 20,100 --num-samples 2000 \\
                  --shape 3,8,8 --sigma-y 0.05 --out results/gmm.csv

A method may carry its own budget: ``--methods eps@20,dps@100``. ``--solver dpmpp2m`` runs every
backbone-sampler method (EPS, its ablations) with that solver (:data:`eps.samplers.SOLVERS`), ``--grid`` on
that sigma grid (:data:`eps.samplers.GRIDS`; default: the solver's own); the columns ``solver`` and ``grid``
record them (empty for methods with their own update rule).

``--prior learned`` runs every method with the project's own networks learned on the seed's GMM instead of its
exact denoisers (eps.gmm_learned: the UNet prior trained with the EDM loss on GMM samples, the EPS networks
fine-tuned from it with L_EPS, one per task, and, when ``palette`` is benchmarked, one Palette network per task
with the same budget, all cached under ``--cache``); the exact posterior is the reference as before.
The rows then also carry the training steps and final losses (``eps_steps`` and ``eps_loss`` / ``palette_loss`` on
the rows of the fine-tuned networks), and ``method = unconditional, task = prior`` rows score the learned prior itself: its unconditional samples (at the largest NFE benchmarked) against exact
prior draws, a measure of the prior error every method using it inherits.

``--eps-steps 200,800,3200`` (learned) is the learning curve: the EPS and Palette networks are fine-tuned (and
scored) once per budget, from the same prior and training set; the baselines, which use only the prior, run once.

``--hybrid-bands LO:HI[,LO:HI...]`` (learned) attributes the learned EPS network's error to noise levels: per band,
``eps_learned_in[LO,HI]`` runs EPS with the learned pivot denoiser inside the band and the exact one elsewhere, and
``eps_exact_in[LO,HI]`` the reverse (eps.gmm_learned.BandHybrid), at every NFE of ``eps``.

    eps gmm-bench --prior learned --methods eps,palette,pigdm,ddrm,ddnm --nfe 100 --shape 1,8,8 --seeds 0 \
                  --eps-steps 200,800,3200 --hybrid-bands 0.1:2 --num-samples 256 --threads 1 --out runs/gmm_learned.csv
"""
from __future__ import annotations

import math
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from .fingerprint import import_closure
from .io import check_writable, write_text
from .parsers import build
from .provenance import write_provenance

from .distances import covariance_error, mean_error, sliced_wasserstein
from .methods.eps import Unconditional
from .gmm_learned import BandHybrid, LearnedBudget, learned_networks, parse_bands
from .interpolants import make_interpolant
from .methods import METHODS, Problem, available_methods
from .operators import TASKS, make_operator
from .priors import mixture_moments, random_gmm
from .protocols import build_method, resolve_task
from .rng import generator, stream_seed

Tensor = torch.Tensor
# nfe: the configured budget; nfe_measured, vjp: the denoiser calls and backward passes counted per sample
# (the names of eps evaluate's summary.csv).
COLUMNS = ["method", "task", "seed", "nfe", "nfe_measured", "vjp", "sw", "sw_floor", "ratio", "mean_err", "cov_err",
           "seconds", "shape", "sigma_y", "interpolant", "num_samples", "solver", "grid", "prior", "prior_steps",
           "eps_steps", "prior_loss", "eps_loss", "palette_loss", "protocol"]
PRIORS = ("analytic", "learned")
NEED_ANALYTIC = {"eps_trained": "trains its own Gaussian experts on exact prior draws"}
NEED_LEARNED = {"palette": "needs a trained Palette network: run it with --prior learned"}
FINE_TUNED = ("eps", "palette")  # the methods whose networks are fine-tuned per budget (--eps-steps)


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


def check_prior(prior: str, methods: list[tuple[str, list[int]]], interpolant: str) -> str:
    """``analytic`` or ``learned``; the learned networks are EDM-preconditioned and serve the methods that use only
    the :class:`eps.methods.Prior` interface."""
    if prior not in PRIORS:
        raise ValueError(f"unknown --prior {prior!r}; valid: {', '.join(PRIORS)}")
    need = NEED_ANALYTIC if prior == "learned" else NEED_LEARNED
    bad = [f"{m} ({need[m]})" for m, _ in methods if m in need]
    if bad:
        raise ValueError(f"--prior {prior} cannot run {', '.join(bad)}")
    if prior == "learned":
        if interpolant != "edm":
            raise ValueError(f"--prior learned trains EDM-preconditioned networks: --interpolant must be edm, not {interpolant!r}")
    return prior


def score(samples: Tensor, exact: Tensor, floor: float, mean: Tensor, cov: Tensor, num_projections: int,
          projections: torch.Generator) -> dict:
    """``sw`` to the exact samples, ``ratio = sw / floor`` and the mean and covariance errors."""
    sw = sliced_wasserstein(samples, exact, num_projections, projections)
    return dict(sw=sw, sw_floor=floor, ratio=sw / floor, mean_err=mean_error(samples, mean),
                cov_err=covariance_error(samples, cov))


def run(methods: list[tuple[str, list[int]]], tasks: list[str], seeds: list[int], shape: tuple[int, int, int],
        sigma_y: float, num_samples: int, interpolant: str = "edm", num_projections: int = 500,
        log=print, solver: str | None = None, prior: str = "analytic", budget: LearnedBudget | None = None,
        cache: str | None = None, protocol: str = "eps_paper", grid: str | None = None,
        bands: list[tuple[float, float]] = (), eps_steps: list[int] | None = None) -> pd.DataFrame:
    """The benchmark loop; returns one row per (seed, task, method, nfe) (and, learned, per seed a prior row; per
    band of ``bands`` the two hybrid EPS rows; per fine-tune budget of ``eps_steps`` (default: ``budget``'s) the EPS,
    Palette and hybrid rows, module doc). ``protocol`` (eps.protocols) sets the task families and each method's
    settings per task; ``solver`` overrides the protocol's backbone solver, on sigma ``grid``."""
    check_prior(prior, methods, interpolant)
    budget = budget or LearnedBudget()
    eps_steps = list(eps_steps or [budget.eps_steps])
    if bands and (prior != "learned" or "eps" not in dict(methods)):
        raise ValueError("--hybrid-bands attributes the learned EPS network's error: it needs --prior learned and "
                         "eps among --methods")
    # one instance per method and task (the protocol's settings are per task), reused across seeds
    instances = {(name, task): build_method(protocol, name, task, solver, grid=grid)[0]
                 for name, _ in methods for task in tasks}
    hybrids = [(f"eps_{which}_in[{lo:g},{hi:g}]", (lo, hi), which == "learned")
               for lo, hi in bands for which in ("learned", "exact")]
    check_interpolant_use({name: instances[name, tasks[0]] for name, _ in methods}, tasks[0], shape, sigma_y,
                          interpolant)
    rows = []
    for seed in seeds:
        gmm = random_gmm(shape, generator=_stream(seed, "prior"))
        gmm.interpolant = make_interpolant(interpolant)
        x0 = gmm.sample(1, _stream(seed, "x0"))
        common = dict(shape="x".join(map(str, shape)), sigma_y=sigma_y, interpolant=interpolant,
                      num_samples=num_samples, prior=prior, protocol=protocol)
        proj = lambda *names: _stream(seed, *names, "projections")  # noqa: E731
        # (fine-tune budget, one prior per task, training info) per budget of the learning curve
        stages = [(None, {t: gmm for t in tasks}, {})]
        if prior == "learned":
            stages = [(steps, *learned_networks(gmm, tasks, sigma_y, seed, replace(budget, eps_steps=steps), cache,
                                                _stream(seed, "train"), palette="palette" in dict(methods)))
                      for steps in eps_steps]
            common.update({k: stages[0][2][k] for k in ("prior_steps", "prior_loss")})
            rows.append(prior_row(gmm, stages[0][1][tasks[0]], seed, num_samples, num_projections, common, log,
                                  max(n for _, budgets in methods for n in budgets)))
        for task in tasks:
            g = _stream(seed, task, "operator")
            op = make_operator(task, shape, 1, g, **resolve_task(protocol, task)).to(dtype=torch.float64)
            y = op.measure(x0, sigma_y, g)
            posterior = gmm.posterior(op, y, sigma_y)
            exact = posterior.sample(num_samples, _stream(seed, task, "exact"))
            exact_2 = posterior.sample(num_samples, _stream(seed, task, "exact-2"))
            mean, cov = mixture_moments(posterior)
            floor = sliced_wasserstein(exact_2, exact, num_projections, proj(task))
            problem = Problem(op, y.expand(num_samples, *y.shape[1:]).clone(), sigma_y)
            for stage, (steps, priors, info) in enumerate(stages):
                # the baselines use the fine-tunes' common prior: once; EPS and Palette once per budget
                runs = [(name, name, budgets, priors[task]) for name, budgets in methods
                        if stage == 0 or name in FINE_TUNED]
                runs += [(label, "eps", dict(methods).get("eps", []), BandHybrid(priors[task], gmm, band, inside))
                         for label, band, inside in hybrids]
                for label, name, budgets, denoisers in runs:
                    tuned = {"eps_steps": steps, f"{name}_loss": info[f"{name}_loss"][task]} if name in FINE_TUNED \
                        and steps else {}
                    for nfe in budgets:
                        out = instances[name, task].run(problem, denoisers, nfe, _stream(seed, task, name, str(nfe)))
                        if not torch.isfinite(out.x).all():
                            raise FloatingPointError(f"{name} returned non-finite samples on {task} (seed {seed})")
                        rows.append(dict(method=label, task=task, seed=seed, nfe=nfe, nfe_measured=out.nfe,
                                         vjp=out.vjp, **score(out.x, exact, floor, mean, cov, num_projections, proj(task)),
                                         seconds=out.seconds, solver=getattr(instances[name, task], "solver", ""),
                                         grid=getattr(instances[name, task], "grid", ""), **common, **tuned))
                        log(f"seed {seed} {task:<14} {label:<12} nfe {out.nfe:>4}  sw/floor {rows[-1]['ratio']:6.2f}  "
                            f"{out.seconds:6.1f}s" + (f"  ({steps} fine-tune steps)" if tuned else ""))
    return pd.DataFrame(rows, columns=COLUMNS)


def prior_row(gmm, learned, seed: int, num_samples: int, num_projections: int, common: dict, log, nfe: int) -> dict:
    """The learned prior's own unconditional samples (EDM Heun, ``nfe``: the largest budget benchmarked) against exact
    draws of the GMM."""
    exact = gmm.sample(num_samples, _stream(seed, "prior-exact"))
    floor = sliced_wasserstein(gmm.sample(num_samples, _stream(seed, "prior-exact-2")), exact, num_projections,
                               _stream(seed, "prior", "projections"))
    problem = Problem(None, torch.zeros(num_samples, 1, dtype=torch.float64), 0.0)  # the measurement is unused
    out = Unconditional().run(problem, learned, nfe, _stream(seed, "prior", "unconditional"))
    row = dict(method="unconditional", task="prior", seed=seed, nfe=nfe, nfe_measured=out.nfe, vjp=out.vjp,
               **score(out.x, exact, floor, *mixture_moments(gmm), num_projections, _stream(seed, "prior", "projections")),
               seconds=out.seconds, **common)
    log(f"seed {seed} {'prior':<14} {'unconditional':<12} nfe {out.nfe:>4}  sw/floor {row['ratio']:6.2f}  "
        f"{out.seconds:6.1f}s  (prior loss {common['prior_loss']:.4f})")
    return row


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean ``sw / sw_floor`` over seeds, method (and NFE; with several fine-tune budgets, ``eps_steps``) by task."""
    index = ["method", "nfe"]
    if df["eps_steps"].nunique() > 1:  # 0: a method without a fine-tuned network
        df, index = df.assign(eps_steps=df["eps_steps"].fillna(0).astype(int)), [*index, "eps_steps"]
    table = df.pivot_table(index=index, columns="task", values="ratio", aggfunc="mean")
    return table[[t for t in (*TASKS, "prior") if t in table.columns]]


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


def check_interpolant_use(instances: dict, task: str, shape: tuple[int, int, int], sigma_y: float,
                          interpolant: str) -> None:
    """Refuse, before any work, a method that samples on its own EDM schedule under a non-EDM ``--interpolant`` (its
    row would not describe what ran): each method runs once on a 2-sample, 2-NFE problem of the analytic prior
    (milliseconds) and must read the backbone's interpolant."""
    if interpolant == "edm":
        return
    gmm = random_gmm(shape, generator=generator(0))
    gmm.interpolant = make_interpolant(interpolant)
    op = make_operator(task, shape, 1, generator(0)).to(dtype=torch.float64)
    y = op.measure(gmm.sample(1, generator(1)), sigma_y, generator(2))
    problem = Problem(op, y.expand(2, *y.shape[1:]).clone(), sigma_y)
    for name, method in instances.items():
        recorded = _Recorded(gmm)
        method.run(problem, recorded, 2, generator(3))
        if not recorded.read_interpolant:
            raise ValueError(f"--interpolant {interpolant}: {name} samples on its own EDM schedule and ignores the "
                             f"backbone interpolant, so its row would not describe what ran; run {name} with "
                             "--interpolant edm")


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
    p = build("gmm-bench")
    b = LearnedBudget()
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    tasks = a.tasks
    methods = parse_methods(a.methods, a.nfe)
    if not methods or not tasks:
        raise ValueError(f"--methods {a.methods!r} --tasks {a.tasks!r}: name at least one method and one task")
    check_problem(tuple(a.shape), tasks)
    check_writable(a.out, "--out")
    budget = LearnedBudget(prior_steps=a.prior_steps, eps_steps=a.eps_steps[0], batch=a.train_batch, lr=a.train_lr,
                           num_train=a.num_train, conditioning=a.conditioning, precond=a.precond,
                           sigma_draw=a.sigma_draw, per_task=not a.amortized,
                           palette_conditioning=a.palette_conditioning,
                           net={**b.net, "model_channels": a.model_channels})
    cache = a.cache or str(Path(a.out).with_suffix("")) + ".nets"
    df = run(methods, tasks, a.seeds, tuple(a.shape), a.sigma_y, a.num_samples, a.interpolant, a.num_projections,
             solver=a.solver, prior=a.prior, budget=budget, cache=cache, protocol=a.protocol, grid=a.grid,
             bands=parse_bands(a.hybrid_bands), eps_steps=a.eps_steps)
    write_text(a.out, df.to_csv(index=False))
    ran = {METHODS[name].__module__ for name, _ in parse_methods(a.methods, a.nfe)} | {"eps.gmm_learned"}
    write_provenance(a.out, config=vars(a), seeds=a.seeds, device="cpu", sources=import_closure({__name__, *ran}))
    print("\nmean sw / sw_floor over seeds:\n" + summary(df).round(2).to_string())
    return 0
