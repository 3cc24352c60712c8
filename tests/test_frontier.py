"""eps frontier (method x solver table and figure) and the interleaved timing of eps cost-bench."""
import pandas as pd
import torch

from eps.cli import main as eps_main
from eps.cost_bench import interleaved, quartiles


def test_frontier_has_one_curve_per_method_and_solver(tmp_path):
    out, table, figure = tmp_path / "rows.csv", tmp_path / "table.csv", tmp_path / "f.png"
    assert eps_main(["frontier", "--methods", "eps,ddrm", "--solvers", "heun,dpmpp2m", "--nfe", "1,3", "--tasks",
                     "sr4", "--seeds", "0", "--num-samples", "20", "--shape", "1,4,4", "--out", str(out),
                     "--table", str(table), "--figure", str(figure)]) == 0
    t = pd.read_csv(table, keep_default_na=False)
    curves = set(zip(t.method, t.solver))
    assert curves == {("eps", "heun"), ("eps", "dpmpp2m"), ("ddrm", "")}  # a baseline has no backbone solver
    assert sorted(t[t.solver == "heun"].nfe) == [1, 3] and sorted(t[t.solver == "dpmpp2m"].nfe) == [1, 3]
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
