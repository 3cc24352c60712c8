"""``eps cost-bench``: the cost ratio as a benchmark — a method against the bare backbone sampler, same NFE.

On one batch of measured test images (the problems of ``eps sample``), after one warm-up call of each, the
method and the unconditional sampler (same solver, same NFE, same rows) run alternately in the same process,
``--repeats`` times, the order swapped on every repeat. Reported per (method, NFE): the median seconds of
each, the median of the per-repeat ratios ``seconds / seconds_uncond`` with its quartiles, and for methods
that query a pivot (EPS) the median seconds of the pivot computations alone (``mu_star``, ``Sigma_star``
at the same noise levels), so its share of the cost is measured, not assumed.

    eps cost-bench --data test.zip --prior prior.pt --eps-net eps.pt --task sr4 --methods eps,dps \\
                   --nfe 1,20,100 --count 4 --num-samples 4 --repeats 7 --out cost.csv
"""
from __future__ import annotations

import statistics
from typing import Callable

import pandas as pd
import torch

from .methods.eps import PivotSampler, Unconditional
from .args import resolve_device
from .image_bench import _clock, _json, measure
from .io import write_text
from .methods import with_solver
from .operators import task_params
from .parsers import build, require_networks
from .posterior import make_pivot
from .rng import generator
from .samplers import nfe_of_steps, steps_for_nfe, time_steps

COLUMNS = ["task", "method", "solver", "nfe", "rows", "repeats", "threads", "sec", "sec_uncond", "ratio",
           "ratio_q25", "ratio_q75", "sec_pivot"]


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, list[float]]:
    """Seconds of each callable over ``repeats`` rounds after one warm-up call each; within a round the
    callables run one after the other, in reversed order on odd rounds (drifting load hits all alike)."""
    for run in runs.values():
        run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(repeats):
        for name in (list(runs) if r % 2 == 0 else list(reversed(runs))):
            tic = _clock(device)
            runs[name]()
            seconds[name].append(_clock(device) - tic)
    return seconds


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def bench(problem, prior, method, nfe: int, repeats: int, device: torch.device) -> dict:
    """One (method, NFE) cell: interleaved method / bare-sampler timing, and the pivot computations alone."""
    solver = getattr(method, "solver", Unconditional.solver)
    bare = Unconditional(solver=solver)
    runs = {"method": lambda: method.run(problem, prior, nfe, generator(0, device)),
            "uncond": lambda: bare.run(problem, prior, nfe, generator(0, device))}
    if isinstance(method, PivotSampler):
        ip = prior.interpolant
        ts = time_steps(ip, steps_for_nfe(nfe, solver))[:-1].to(device)
        x = torch.randn(problem.batch_size, *prior.image_shape, generator=generator(1, device), device=device,
                        dtype=problem.y.dtype)

        calls = nfe_of_steps(steps_for_nfe(nfe, solver), solver)

        def pivots():  # the sampler's number of pivot computations, at its step times
            for i in range(calls):
                make_pivot(problem.operator, x, problem.y, ip.sigma(ts[i % len(ts)]), problem.sigma_y)

        runs["pivot"] = pivots
    with torch.no_grad():
        seconds = interleaved(runs, repeats, device)
    ratios = [m / u for m, u in zip(seconds["method"], seconds["uncond"])]
    q25, ratio, q75 = quartiles(ratios)
    return {"solver": solver if hasattr(method, "solver") else "", "sec": statistics.median(seconds["method"]),
            "sec_uncond": statistics.median(seconds["uncond"]), "ratio": ratio, "ratio_q25": q25, "ratio_q75": q75,
            "sec_pivot": statistics.median(seconds["pivot"]) if "pivot" in seconds else float("nan")}


def main(argv: list[str] | None = None) -> int:
    p = build("cost-bench")
    a = p.parse_args(argv)
    from .data import read_image_zip
    from .nn.prior import load_prior

    if a.threads:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    methods = [with_solver(m.strip(), a.solver) for m in a.methods.split(",") if m.strip()]
    require_networks(a, [m.name for m in methods])
    prior = load_prior(a.prior, a.eps_net, a.palette_net, device=device)
    x0 = read_image_zip(a.data)[0][: a.count].to(device)
    problem = measure(x0, a.task, a.sigma_y, a.seed, 0, task_params(a.task, **_json(a.task_params, "--task-params")))
    problem = problem.repeat(a.num_samples)
    rows = []
    for method in methods:
        for nfe in a.nfe:
            cell = bench(problem, prior, method, nfe, a.repeats, device)
            rows.append({"task": a.task, "method": method.name, "nfe": nfe, "rows": problem.batch_size,
                         "repeats": a.repeats, "threads": torch.get_num_threads(), **cell})
            print(f"{method.name:<10} nfe {nfe:>4}  {cell['sec']:.3f}s vs {cell['sec_uncond']:.3f}s  ratio "
                  f"{cell['ratio']:.3f} [{cell['ratio_q25']:.3f}, {cell['ratio_q75']:.3f}]  "
                  f"pivots {cell['sec_pivot']:.4f}s", flush=True)
    write_text(a.out, pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False))
    return 0
