"""eps frontier (method x solver table and figure) and the interleaved timing of eps cost-bench."""
from pathlib import Path

import pandas as pd
import pytest
import torch

from eps.cli import main as eps_main
from eps.cost_bench import beside_published, bench, interleaved, quartiles
from eps.methods import Problem, with_solver
from eps.operators import make_operator
from eps.priors import random_gmm
from eps.rng import generator


def test_frontier_has_one_curve_per_method_solver_and_grid(tmp_path):
    out, table, figure = tmp_path / "rows.csv", tmp_path / "table.csv", tmp_path / "f.png"
    assert eps_main(["frontier", "--methods", "eps,ddrm", "--solvers", "euler,dpmpp2m", "--grids", "auto,karras",
                     "--nfe", "1,3", "--tasks", "sr4", "--seeds", "0", "--num-samples", "20", "--shape", "1,4,4",
                     "--out", str(out), "--table", str(table), "--figure", str(figure)]) == 0
    t = pd.read_csv(table, keep_default_na=False)
    curves = set(zip(t.method, t.solver, t.grid))
    # auto = each solver's default grid (euler: karras, run once); a baseline has no backbone solver or grid
    assert curves == {("eps", "euler", "karras"), ("eps", "dpmpp2m", "geometric"), ("eps", "dpmpp2m", "karras"),
                      ("ddrm", "", "")}
    assert sorted(t[t.solver == "euler"].nfe) == [1, 3] and sorted(t[t.solver == "dpmpp2m"].nfe) == [1, 1, 3, 3]
    assert (t.ratio > 0).all() and (t.sec_per_sample > 0).all() and figure.stat().st_size > 0
    # 1 NFE is the same single call D(x_T, t_0) for every solver
    one = t[(t.method == "eps") & (t.nfe == 1)]
    assert one.ratio.nunique() == 1


def test_frontier_unknown_solver_is_one_clear_error(tmp_path, capsys):
    assert eps_main(["frontier", "--solvers", "rk4", "--out", "a", "--table", "b", "--figure", "c"]) == 2
    assert "unknown solver 'rk4'" in capsys.readouterr().err


def test_interleaved_runs_each_callable_warmup_plus_repeats_in_alternating_order():
    calls = []
    seconds = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 3, torch.device("cpu"))
    assert calls == ["a", "b", "a", "b", "b", "a", "a", "b"]  # warm-up, then a-b / b-a / a-b
    assert all(len(v) == 3 and min(v) >= 0 for v in seconds.values())
    assert quartiles([1.0, 2.0, 3.0, 4.0, 5.0]) == (2.0, 3.0, 4.0)


def test_interleaved_warms_up_each_callable_the_given_number_of_times():
    calls = []
    seconds = interleaved({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, 1, torch.device("cpu"),
                          warmups=2)
    assert calls == ["a", "b", "a", "b", "a", "b"] and all(len(v) == 1 for v in seconds.values())


def test_paper_protocol_cell_is_the_ratio_of_means_on_euler_karras():
    """EPS paper D.12: Euler on the Karras grid, mean of the repeats; the bare sampler runs the same solver and grid."""
    gmm = random_gmm((1, 4, 4), generator=generator(0))
    op = make_operator("sr4", (1, 4, 4), 1, generator(1)).to(dtype=torch.float64)
    problem = Problem(op, op.measure(gmm.sample(1, generator(2)), 0.05, generator(3)), 0.05)
    cell = bench(problem, gmm, with_solver("eps", "euler", "karras"), 5, 3, torch.device("cpu"), "mean", 2)
    assert (cell["solver"], cell["grid"], cell["statistic"], cell["warmups"]) == ("euler", "karras", "mean", 2)
    assert cell["ratio"] == pytest.approx(cell["sec"] / cell["sec_uncond"]) and cell["spread"] >= 0
    assert cell["sec_pivot"] > 0


def test_paper_runtimes_join_by_method_name():
    reference = pd.read_csv(Path(__file__).parents[1] / "results" / "reference" / "paper_runtime_imagenet64.csv")
    table = beside_published(pd.DataFrame({"method": ["eps", "pigdm", "palette"], "ratio": [1.0, 2.0, 1.0]}), reference)
    assert table.ratio_published.tolist()[:2] == [1.006, 2.43] and pd.isna(table.ratio_published[2])
