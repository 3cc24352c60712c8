"""``eps sample``: shards of the image benchmark — measure test images and draw K posterior samples each.

For the test images ``x0[start : start + count]``, image ``i`` gets its own operator draw and measurement
noise from a generator seeded by ``(seed, i)`` alone, so every method, NFE and shard size sees the same
measurement

    y_i = A_i x0_i + sigma_y n_i,        n_i ~ N(0, I).

The method runs through the registry, ``get_method(name, **options).run(problem.repeat(K), prior, nfe, g)``,
on batches of images (``K`` rows per image). The cost ratio ``seconds / seconds_uncond`` compares it with the
unconditional backbone sampler (over ``prior.denoise``, same solver, grid and NFE) on the same number of rows
(docs/method.md §7): timed once per (solver, grid, NFE, rows) in this process, or read from ``--bare-timing``
files (``eps cost-bench --bare-only``: the workflow times the bare sampler once per run, not per shard).
``--solver`` picks the backbone solver of EPS-like methods; ``--label`` names the table row (default: the
method), so one method can appear with several solvers.

One process writes every shard of a (task, method): ``--nfe`` and ``--seed`` take lists, the images
``start .. start + count - 1`` are cut into shards of ``--shard-size``, and ``--out`` names each shard with the
fields ``{nfe}``, ``{seed}`` and ``{shard}`` (shard = image index // shard size) of those that vary. Each shard
is written as soon as it is done; the start-up (imports, network loading) is paid once.

A class-conditional backbone (EDM's ImageNet-64 ADM, trained without label dropout, so with no unconditional
route) gets the true class of each test image (``--class-labels true_label``: the test zip's labels), bound
to every denoiser call of the method and of the timed unconditional sampler alike.

Shard file (``torch.save``, written atomically, consumed by ``eps evaluate``)::

    x0 (N, C, H, W) float32   y (N, *measurement_shape)   samples (N, K, C, H, W) float32
    nfe int (measured forward passes per sample)   vjp int (measured backward passes per sample)
    seconds float (method wall time for the shard)  seconds_uncond float
    meta {dataset, task, method, nfe, seed, sigma_y, num_samples, start, count, protocol, settings (JSON
          {setting: [value, source]} of the method as it ran, eps.protocols), + task parameters,
         + class_labels 'true_label' when the backbone got the test images' classes}
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from .args import resolve_device
from .io import check_writable, save_torch

from .methods.eps import Unconditional
from .methods import CountingPrior, Method, Problem, Prior
from .operators import LinearOperator, make_operator, task_params
from .parsers import build, require_networks
from .protocols import build_method, resolve_task
from .progress import Progress
from .rng import generator, stream_seed

Tensor = torch.Tensor

# Independent random streams of one (seed, image) pair: the measurement, the method, the backbone sampler.
MEASURE, METHOD, UNCOND = 0, 1, 2
# Recorded with every shard (and so in tasks.csv and the table captions): where the operator's draws come from.
OPERATOR_STREAM = f"stream_seed(seed, {MEASURE}, image): operator draws, then the noise"


def stack_operators(ops: list[LinearOperator]) -> LinearOperator:
    """One batched operator from per-image draws; parameters equal across the batch stay shared (batch 1)."""
    stacked = {}
    for name, first in ops[0].params().items():
        parts = [op.params()[name] for op in ops]
        stacked[name] = first if all(torch.equal(first, p) for p in parts[1:]) else torch.cat(parts)
    return type(ops[0])(ops[0].image_shape, **stacked)


def measure(x0: Tensor, task: str, sigma_y: float, seed: int, start: int, params: dict) -> Problem:
    """The problems of images ``start, start + 1, ...``: per-image operator and noise from ``(seed, i)``."""
    ops, ys = [], []
    for offset in range(x0.shape[0]):
        g = generator(stream_seed(seed, MEASURE, start + offset))
        op = make_operator(task, tuple(x0.shape[1:]), 1, g, **params)
        ops.append(op)
        ys.append(op.measure(x0[offset : offset + 1], sigma_y, g))
    return Problem(stack_operators(ops).to(device=x0.device), torch.cat(ys), sigma_y)


def _clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class BareClock:
    """Seconds of the bare backbone sampler (:class:`Unconditional`) per (solver, grid, NFE, rows): measured once in
    this process (right after the method's first batch of that shape) and then reused, or read from timing tables of
    ``eps cost-bench --bare-only`` (columns ``solver, grid, nfe, rows, sec``; a batch of another row count is
    scaled linearly from the nearest timed one)."""

    def __init__(self, tables: list | None = None):
        self.seconds: dict[tuple, float] = {}
        for table in tables or []:
            for r in table.itertuples():
                self.seconds[(r.solver, r.grid, int(r.nfe), int(r.rows))] = float(r.sec)
        self.measure = not tables

    def __call__(self, method: Method, batch: Problem, prior: Prior, nfe: int, g: torch.Generator, what: str) -> float:
        bare = Unconditional.of(method)
        key = (bare.solver, bare.grid, int(nfe), batch.batch_size)
        if key not in self.seconds and self.measure:
            with torch.no_grad():  # guarded too: both timings carry the same checks
                tic = _clock(batch.y.device)
                bare.sample(batch, CountingPrior(prior, f"unconditional reference of {what}"), nfe, g)
                self.seconds[key] = _clock(batch.y.device) - tic
        if key in self.seconds:
            return self.seconds[key]
        timed = [k for k in self.seconds if k[:3] == key[:3]]
        if not timed:
            raise ValueError(f"--bare-timing has no time of the bare sampler for solver {bare.solver}, grid "
                             f"{bare.grid}, NFE {nfe}; timed: {sorted({k[:3] for k in self.seconds})}")
        nearest = min(timed, key=lambda k: abs(k[3] - key[3]))
        return self.seconds[nearest] * key[3] / nearest[3]


def run_shard(x0: Tensor, task: str, method: Method, prior: Prior, nfe: int, seed: int, start: int = 0,
              num_samples: int = 4, sigma_y: float = 0.05, batch_size: int = 8, params: dict | None = None,
              meta: dict | None = None, progress: bool = True, class_labels: Tensor | None = None,
              bare: BareClock | None = None) -> dict:
    """Measure ``x0`` (images ``start, ...`` of the test set), sample ``num_samples`` per image, time the method.

    ``class_labels`` (one class index per image) are bound to a class-conditional prior for its rows;
    ``bare`` gives the bare sampler's seconds per batch (default: timed here, once per batch shape).

    Returns the shard dict described in the module docstring; ``meta`` entries are added to its ``meta``.
    """
    if x0.dim() != 4 or tuple(x0.shape[1:]) != tuple(prior.image_shape):
        raise ValueError(f"test images have shape {tuple(x0.shape)}, the prior expects (N, {prior.image_shape})")
    params = task_params(task, **(params or {}))
    device = x0.device
    bare = bare or BareClock()
    problem = measure(x0, task, sigma_y, seed, start, params)
    samples, nfe_used, vjp_used, seconds, seconds_uncond = [], 0, 0, 0.0, 0.0
    bar = Progress(f"sample {method.name} {task} nfe={nfe}", x0.shape[0], enabled=progress)
    for lo in range(0, x0.shape[0], batch_size):
        hi = min(lo + batch_size, x0.shape[0])
        batch = Problem(problem.operator[lo:hi], problem.y[lo:hi], sigma_y).repeat(num_samples)
        rows_prior = prior if class_labels is None else \
            prior.with_class_labels(class_labels[lo:hi].repeat_interleave(num_samples))
        what = f"{method.name} on {task} (images {start + lo}..{start + hi - 1})"
        tic = _clock(device)
        g = generator(stream_seed(seed, METHOD, start + lo), device)
        out = method.run(batch, rows_prior, nfe, g, what=what)
        toc = _clock(device)
        if not torch.isfinite(out.x).all():
            raise FloatingPointError(f"{what} returned non-finite samples after {out.nfe} denoiser calls; "
                                     "nothing written")
        seconds += toc - tic
        seconds_uncond += bare(method, batch, rows_prior, nfe, generator(stream_seed(seed, UNCOND, start + lo), device),
                               what)
        samples.append(out.x.reshape(hi - lo, num_samples, *x0.shape[1:]).float().cpu())
        nfe_used, vjp_used = max(nfe_used, out.nfe), max(vjp_used, out.vjp)
        bar.update(hi)
    info = {"task": task, "method": method.name, "solver": getattr(method, "solver", ""),
            "grid": getattr(method, "grid", ""), "nfe": int(nfe),
            "seed": int(seed), "sigma_y": float(sigma_y), "num_samples": int(num_samples), "start": int(start),
            "count": int(x0.shape[0]),
            **({} if class_labels is None else {"class_labels": "true_label"}), **params,
            "operator_stream": OPERATOR_STREAM, **(meta or {})}
    return {"x0": x0.float().cpu(), "y": problem.y.float().cpu(), "samples": torch.cat(samples),
            "nfe": int(nfe_used), "vjp": int(vjp_used), "seconds": float(seconds),
            "seconds_uncond": float(seconds_uncond), "meta": {k: _plain(v) for k, v in info.items()}}


def settings_json(settings: dict[str, tuple]) -> str:
    """``{setting: [value, source]}`` as one JSON string (a shard's ``meta["settings"]``; ``methods.csv``)."""
    return json.dumps({k: list(v) for k, v in sorted(settings.items())}, sort_keys=True)


def _plain(value):
    """Meta values are str, int or float (booleans and other objects become strings)."""
    return value if isinstance(value, (int, float, str)) and not isinstance(value, bool) else str(value)


def main(argv: list[str] | None = None) -> int:
    p = build("sample")
    a = p.parse_args(argv)
    shard_size = a.shard_size or a.count
    cells = [(nfe, seed, lo) for nfe in a.nfe for seed in a.seed for lo in range(a.start, a.start + a.count, shard_size)]
    outs = [shard_file(a.out, nfe, seed, lo // shard_size) for nfe, seed, lo in cells]
    varying = [name for name, n in (("nfe", len(a.nfe)), ("seed", len(a.seed)), ("shard", len(cells) // len(a.nfe)
                                                                                    // len(a.seed))) if n > 1]
    if len(set(outs)) != len(outs):
        raise ValueError(f"--out {a.out!r} names {len(set(outs))} files for {len(outs)} shards: include "
                         + ", ".join("{" + v + "}" for v in varying))
    import pandas as pd
    from .data import read_image_zip
    from .nn.prior import load_prior

    device = resolve_device(a.device)
    method, settings = build_method(a.protocol, a.method, a.task, a.solver, _json(a.options, "--options"))
    params = resolve_task(a.protocol, a.task, _json(a.task_params, "--task-params"))
    require_networks(a, [a.method])
    prior = load_prior(a.prior, a.eps_net, a.palette_net, device=device)
    try:  # the task must fit the backbone's images before any work (e.g. sr4 factor vs resolution)
        make_operator(a.task, prior.image_shape, 1, generator(0), **params)
    except ValueError as err:
        raise ValueError(f"--task {a.task} --task-params {a.task_params} on {prior.image_shape} images: "
                         f"{err}") from None
    for out in outs:
        check_writable(out, "--out", shard_size * (a.num_samples + 2) * math.prod(prior.image_shape) * 4)
    images, labels = read_image_zip(a.data)
    x0 = images[a.start : a.start + a.count].to(device)
    if x0.shape[0] != a.count:
        raise ValueError(f"{a.data}: asked for images {a.start}..{a.start + a.count - 1}, got {x0.shape[0]}")
    class_labels = test_set_class_labels(a.class_labels, labels, prior, a.data, a.prior)
    if class_labels is not None:
        class_labels = class_labels[a.start : a.start + a.count].to(device)
    bare = BareClock([pd.read_csv(f, keep_default_na=False) for f in a.bare_timing])
    meta = {"dataset": a.dataset or Path(a.data).stem, "method": a.label or a.method, "protocol": a.protocol,
            "settings": settings_json(settings)}
    for (nfe, seed, lo), out in zip(cells, outs):
        part = slice(lo - a.start, min(lo + shard_size, a.start + a.count) - a.start)
        shard = run_shard(x0[part], a.task, method, prior, nfe, seed, lo, a.num_samples, a.sigma_y, a.batch_size,
                          params, meta, class_labels=None if class_labels is None else class_labels[part], bare=bare)
        save_torch(shard, out)
        print(f"{out}: {shard['x0'].shape[0]} images x {a.num_samples} samples, nfe={shard['nfe']}, "
              f"{shard['seconds']:.1f}s (unconditional {shard['seconds_uncond']:.1f}s)", flush=True)
    return 0


def shard_file(pattern: str, nfe: int, seed: int, shard: int) -> str:
    """``pattern`` with its fields ``{nfe}``, ``{seed}``, ``{shard}`` filled (other text, braces included, kept)."""
    for name, value in (("nfe", nfe), ("seed", seed), ("shard", shard)):
        pattern = pattern.replace("{" + name + "}", str(value))
    return pattern


def test_set_class_labels(mode: str, labels: Tensor | None, prior, data, prior_path) -> Tensor | None:
    """The class of every test image for ``--class-labels true_label``; a conditional backbone without a route
    for no label (trained without label dropout) and no labels given is one error naming what to set."""
    if mode == "true_label":
        if labels is None:
            raise ValueError(f"{data} holds no class labels (dataset.json labels null): --class-labels true_label "
                             "needs the test set prepared with its labels")
        return labels
    net_config = prior.net.model.config
    if getattr(net_config, "label_dim", 0) and not getattr(net_config, "label_dropout", 0):
        raise ValueError(f"backbone {prior_path} is class-conditional ({net_config.label_dim} classes) and was trained "
                         "without label dropout (no unconditional route): pass --class-labels true_label "
                         "(config: datasets.<name>.checkpoint.class_labels)")
    return None


def _json(text: str, flag: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{flag} is not valid JSON ({err}): {text!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object, got {text!r}")
    return value
