"""``eps cost-bench``: the cost ratio as a benchmark — a method against the bare backbone sampler, same NFE.

On measured test images (the problems of ``eps sample``) the method and the unconditional sampler (same
solver, grid, NFE and rows) run alternately in the same process after ``--warmups`` calls of each,
``--repeats`` times, the order swapped on every repeat (drifting load hits both alike). Two protocols:

    batched  (default) ``--count`` images x ``--num-samples`` rows, the method's own solver, the NFE list;
             per (method, NFE) the *median* seconds of each and the median of the per-repeat ratios
             ``seconds / seconds_uncond`` with its quartiles (throughput at the benchmark's batch shape)
    paper    the EPS paper's runtime protocol (App. D.12, Table 11): batch 1 (one image, one sample), the
             EDM Euler sampler on the Karras grid at NFE 100 for every method that has a backbone solver,
             2 warm-ups, the *mean* of 5 runs; ``ratio = mean seconds / mean seconds of the bare sampler``

``--clock process`` times CPU seconds instead of elapsed ones (for a CPU shared with other work). Both report
``spread``: the larger relative standard deviation of the method's and the bare sampler's repeats,
so a ratio is read against its noise; and for methods that query a pivot (EPS) the seconds of the pivot
computations alone (``mu_star``, ``Sigma_star`` at the same noise levels), so its share is measured, not assumed.

    eps cost-bench --data test.zip --prior prior.pt --eps-net eps.pt --task sr4 --methods eps,dps \\
                   --nfe 1,20,100 --count 4 --num-samples 4 --repeats 7 --out cost.csv
    eps cost-bench --protocol paper --data test.zip --prior prior.pt --eps-net eps.pt --task sr4 \\
                   --methods eps,dps,pigdm,ddnm,mpgd,daps --out cost_paper.csv

``--bare-only`` times the bare sampler alone (``method = unconditional``; ``sec`` is its median): the reference
seconds ``eps sample --bare-timing`` reads, so that a workflow run times it once per (solver, grid, NFE, rows).
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

import pandas as pd
import torch

from .methods.eps import PivotSampler, Unconditional
from .args import resolve_device
from .image_bench import _clock, _json, measure, test_set_class_labels
from .io import write_text
from .methods import with_solver
from .operators import task_params
from .parsers import build, require_networks
from .posterior import make_pivot
from .rng import generator
from .samplers import check_solver, nfe_of_steps, solver_grid, steps_for_nfe, time_steps

COLUMNS = ["task", "method", "solver", "grid", "nfe", "rows", "protocol", "clock", "statistic", "warmups", "repeats",
           "threads", "sec", "sec_uncond", "ratio", "ratio_q25", "ratio_q75", "spread", "sec_pivot"]
# protocol -> (statistic of the repeated seconds, warm-ups, repeats, (solver, grid) of every backbone sampler and of
# the bare sampler, or None: each method's own)
PROTOCOLS = {"batched": ("median", 1, 7, None), "paper": ("mean", 2, 5, ("euler", "karras"))}
PAPER = dict(count=1, num_samples=1, nfe=[100])  # EPS paper D.12: batch 1, one image, NFE 100


def process_clock(device: torch.device) -> float:
    """CPU seconds of this process (all its threads): the work done, whatever else shares the cores."""
    if device.type == "cuda":
        raise ValueError("--clock process times CPU work; on a GPU time with --clock wall")
    return time.process_time()


CLOCKS = {"wall": _clock, "process": process_clock}


def interleaved(runs: dict[str, Callable[[], object]], repeats: int, device: torch.device,
                warmups: int = 1, clock: Callable[[torch.device], float] = _clock) -> dict[str, list[float]]:
    """Seconds of each callable over ``repeats`` rounds after ``warmups`` calls each; within a round the
    callables run one after the other, in reversed order on odd rounds (drifting load hits all alike)."""
    for _ in range(warmups):
        for run in runs.values():
            run()
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(repeats):
        for name in (list(runs) if r % 2 == 0 else list(reversed(runs))):
            tic = clock(device)
            runs[name]()
            seconds[name].append(clock(device) - tic)
    return seconds


def quartiles(values: list[float]) -> tuple[float, float, float]:
    q = statistics.quantiles(values, n=4, method="inclusive") if len(values) > 1 else [values[0]] * 3
    return q[0], statistics.median(values), q[2]


def relative_std(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else float("nan")


def bench(problem, prior, method, nfe: int, repeats: int, device: torch.device, statistic: str = "median",
          warmups: int = 1, bare_sampler: tuple[str, str] | None = None, clock=_clock) -> dict:
    """One (method, NFE) cell: interleaved method / bare-sampler timing, and the pivot computations alone.

    ``statistic`` (median or mean) summarises each timing's repeats; ``ratio`` is the ratio of those two figures
    for ``mean`` (the paper's), the median of the per-repeat ratios for ``median``. The bare sampler runs the
    method's solver and grid (a method with its own update rule: the backbone's default), or ``bare_sampler``."""
    bare = Unconditional(solver=bare_sampler[0], grid=bare_sampler[1]) if bare_sampler else Unconditional.of(method)
    solver = bare.solver
    runs = {"method": lambda: method.run(problem, prior, nfe, generator(0, device)),
            "uncond": lambda: bare.run(problem, prior, nfe, generator(0, device))}
    if isinstance(method, PivotSampler):
        ip = prior.interpolant
        ts = time_steps(ip, steps_for_nfe(nfe, solver), grid=bare.grid)[:-1].to(device)
        x = torch.randn(problem.batch_size, *prior.image_shape, generator=generator(1, device), device=device,
                        dtype=problem.y.dtype)

        calls = nfe_of_steps(steps_for_nfe(nfe, solver), solver)

        def pivots():  # the sampler's number of pivot computations, at its step times
            for i in range(calls):
                make_pivot(problem.operator, x, problem.y, ip.sigma(ts[i % len(ts)]), problem.sigma_y)

        runs["pivot"] = pivots
    with torch.no_grad():
        seconds = interleaved(runs, repeats, device, warmups, clock)
    ratios = [m / u for m, u in zip(seconds["method"], seconds["uncond"])]
    q25, ratio, q75 = quartiles(ratios)
    stat = getattr(statistics, statistic)
    sec, sec_uncond = stat(seconds["method"]), stat(seconds["uncond"])
    return {"solver": solver if hasattr(method, "solver") else "", "grid": bare.grid if hasattr(method, "grid") else "",
            "statistic": statistic, "warmups": warmups, "sec": sec, "sec_uncond": sec_uncond,
            "ratio": sec / sec_uncond if statistic == "mean" else ratio, "ratio_q25": q25, "ratio_q75": q75,
            "spread": max(relative_std(seconds["method"]), relative_std(seconds["uncond"])),
            "sec_pivot": stat(seconds["pivot"]) if "pivot" in seconds else float("nan")}


def bare_cell(problem, prior, solver: str, grid: str, nfe: int, repeats: int, device: torch.device,
              warmups: int = 1, clock=_clock) -> dict:
    """The bare backbone sampler alone: its median seconds over ``repeats`` after ``warmups`` calls."""
    bare = Unconditional(solver=solver, grid=grid)
    with torch.no_grad():
        seconds = interleaved({"uncond": lambda: bare.run(problem, prior, nfe, generator(0, device))}, repeats,
                              device, warmups, clock)["uncond"]
    sec = statistics.median(seconds)
    return {"method": "unconditional", "solver": bare.solver, "grid": bare.grid, "statistic": "median",
            "warmups": warmups, "sec": sec, "sec_uncond": sec, "ratio": 1.0, "spread": relative_std(seconds)}


def main(argv: list[str] | None = None) -> int:
    p = build("cost-bench")
    a = p.parse_args(argv)
    statistic, warmups, repeats, forced = PROTOCOLS[a.protocol]
    if a.protocol == "paper":
        a.count, a.num_samples, nfes, (a.solver, a.grid) = PAPER["count"], PAPER["num_samples"], PAPER["nfe"], forced
    else:
        nfes = a.nfe
        warmups, repeats = a.warmups if a.warmups is not None else warmups, a.repeats or repeats
    from .data import read_image_zip
    from .nn.prior import load_prior

    if a.threads:
        torch.set_num_threads(a.threads)
    device = resolve_device(a.device)
    methods = [] if a.bare_only else [with_solver(m.strip(), a.solver, a.grid) for m in a.methods.split(",")
                                      if m.strip()]
    require_networks(a, [m.name for m in methods])
    solver = check_solver(a.solver or Unconditional.solver)
    grid = solver_grid(solver, a.grid or "auto")
    prior = load_prior(a.prior, a.eps_net, a.palette_net, device=device)
    images, labels = read_image_zip(a.data)
    x0 = images[: a.count].to(device)
    problem = measure(x0, a.task, a.sigma_y, a.seed, 0, task_params(a.task, **_json(a.task_params, "--task-params")))
    problem = problem.repeat(a.num_samples)
    classes = test_set_class_labels(a.class_labels, labels, prior, a.data, a.prior)
    if classes is not None:
        prior = prior.with_class_labels(classes[: a.count].to(device).repeat_interleave(a.num_samples))
    common = {"task": a.task, "rows": problem.batch_size, "protocol": a.protocol, "clock": a.clock, "repeats": repeats,
              "threads": torch.get_num_threads()}
    clock = CLOCKS[a.clock]
    rows = [{**common, "nfe": nfe, **bare_cell(problem, prior, solver, grid, nfe, repeats, device, warmups, clock)}
            for nfe in (nfes if a.bare_only else [])]
    for row in rows:
        print(f"unconditional {row['solver']}/{row['grid']} nfe {row['nfe']:>4}  {row['sec']:.3f}s (median)  "
              f"spread {row['spread']:.1%}", flush=True)
    for method in methods:
        for nfe in nfes:
            cell = bench(problem, prior, method, nfe, repeats, device, statistic, warmups, forced, clock)
            rows.append({**common, "method": method.name, "nfe": nfe, **cell})
            print(f"{method.name:<10} nfe {nfe:>4}  {cell['sec']:.3f}s vs {cell['sec_uncond']:.3f}s ({statistic})  "
                  f"ratio {cell['ratio']:.3f} [{cell['ratio_q25']:.3f}, {cell['ratio_q75']:.3f}]  "
                  f"spread {cell['spread']:.1%}  pivots {cell['sec_pivot']:.4f}s", flush=True)
    table = pd.DataFrame(rows, columns=COLUMNS)
    if a.reference:
        table = beside_published(table, pd.read_csv(a.reference))
        print(table[["method", "ratio", "spread", "ratio_published"]].to_string(index=False))
    write_text(a.out, table.to_csv(index=False))
    return 0


def beside_published(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """``table`` with the published ``ratio_published, sec_published, gpu_published`` of each method (the reference
    names methods as the paper does: DPS, PiGDM, ...; matched case-insensitively)."""
    ref = reference.assign(method=reference["method"].str.lower()).rename(columns={
        "ratio_to_unconditional_edm": "ratio_published", "seconds_per_image": "sec_published", "gpu": "gpu_published"})
    return table.merge(ref[["method", "ratio_published", "sec_published", "gpu_published"]], on="method", how="left")
