"""Interpolants, the EDM time grid, NFE accounting, and EPS sampling the exact GMM posterior."""
import re

import pandas as pd
import pytest
import torch

from eps import gmm_bench
from eps.cli import main as eps_main
from eps.interpolants import INTERPOLANTS, edm_sigmas
from eps.methods import Problem, get_method
from eps.operators import make_operator
from eps.priors import mixture_moments, random_gmm
from eps.rng import generator
from eps.samplers import nfe_of_steps, steps_for_nfe, time_steps


@pytest.mark.parametrize("name", sorted(INTERPOLANTS))
def test_interpolant_inverse_and_derivatives(name):
    interp = INTERPOLANTS[name]()
    sigma = torch.tensor([0.002, 0.1, 1.0, 10.0, 80.0], dtype=torch.float64)
    t = interp.t_of_sigma(sigma)
    assert torch.allclose(interp.sigma(t), sigma, rtol=1e-10)
    h = 1e-5 * t  # relative step: VP's beta ~ sqrt(t) near 0
    assert torch.allclose(interp.d_alpha(t), (interp.alpha(t + h) - interp.alpha(t - h)) / (2 * h), rtol=1e-5, atol=1e-8)
    assert torch.allclose(interp.d_beta(t), (interp.beta(t + h) - interp.beta(t - h)) / (2 * h), rtol=1e-5, atol=1e-8)
    if name == "vp":
        assert torch.allclose(interp.alpha(t) ** 2 + interp.beta(t) ** 2, torch.ones_like(t))


def test_edm_schedule():
    s = edm_sigmas(18)
    assert s[0] == 80.0 and abs(s[-2].item() - 0.002) < 1e-12 and s[-1] == 0 and (s[:-1].diff() < 0).all()
    assert torch.equal(time_steps(INTERPOLANTS["edm"](), 18), s)


@pytest.mark.parametrize("solver,nfe", [("heun", 1), ("heun", 20), ("heun", 7), ("euler", 5), ("ddim", 6)])
def test_measured_nfe_respects_the_budget(solver, nfe):
    gmm = random_gmm((1, 4, 4), generator=generator(0))
    op = make_operator("inpaint_random", (1, 4, 4), 1, generator(1)).to(dtype=torch.float64)
    y = op.measure(gmm.sample(1, generator(2)), 0.05, generator(3))
    out = get_method("eps", solver=solver, eta=1.0).run(Problem(op, y.expand(8, 1, 4, 4), 0.05), gmm, nfe, generator(4))
    assert out.nfe == nfe_of_steps(steps_for_nfe(nfe, solver), solver) <= nfe and out.vjp == 0
    assert out.nfe >= nfe - 1


def test_one_nfe_is_the_posterior_mean():
    shape = (1, 8, 8)
    gmm = random_gmm(shape, generator=generator(5))
    op = make_operator("sr4", shape, 1, generator(6)).to(dtype=torch.float64)
    y = op.measure(gmm.sample(1, generator(7)), 0.05, generator(8))
    mean, _ = mixture_moments(gmm.posterior(op, y, 0.05))
    x = get_method("eps").run(Problem(op, y.expand(64, *y.shape[1:]), 0.05), gmm, 1, generator(9)).x
    # x_T = 80 eps still tilts the mixture weights by O(|m_k| / sigma_max): each draw is E[x0 | y] up to that,
    # and the tilt is odd in eps, so it averages out over draws
    assert (x.reshape(64, -1) - mean).abs().max() < 0.03
    assert (x.reshape(64, -1).mean(0) - mean).abs().max() < 3e-3


def test_mean_of_j_samples_is_their_average_with_j_times_the_nfe():
    """D.6's posterior mean from samples: ``mean_of = J`` equals the average of J runs drawn in sequence from the same
    generator (bitwise up to the order of the sum), and counts J x nfe network calls."""
    shape = (1, 8, 8)
    gmm = random_gmm(shape, generator=generator(5))
    op = make_operator("inpaint_random", shape, 1, generator(6)).to(dtype=torch.float64)
    y = op.measure(gmm.sample(1, generator(7)), 0.05, generator(8))
    problem = Problem(op, y.expand(2, *y.shape[1:]), 0.05)
    mean = get_method("eps", mean_of=3, solver="euler").run(problem, gmm, 4, generator(9))
    g = generator(9)
    runs = [get_method("eps", solver="euler").run(problem, gmm, 4, g).x for _ in range(3)]
    torch.testing.assert_close(mean.x, (runs[0] + runs[1] + runs[2]) / 3, rtol=0, atol=1e-12)
    assert mean.nfe == 3 * 4
    with pytest.raises(ValueError, match="mean_of"):
        get_method("eps", mean_of=0)


def test_eps_is_exact_on_gmm_for_every_interpolant(tmp_path):
    """EPS with the analytic D_Sigma reaches the exact posterior from EDM, VP and flow interpolants."""
    df = pd.concat([gmm_bench.run([("eps", [60])], ["inpaint_box", "deblur_motion"], [0], (1, 6, 6), 0.05, 600,
                                  interpolant, log=lambda *_: None) for interpolant in ("edm", "vp", "flow")])
    assert len(df) == 6 and (df.ratio < 1.35).all(), df[["interpolant", "task", "ratio"]]
    # A sample covariance of n Gaussian draws has E||S - C||_F^2 = (tr(C)^2 + ||C||_F^2) / (n - 1)
    # <= (d + 1) ||C||_F^2 / (n - 1): relative error <= sqrt(37 / 599) = 0.249 here, 25% margin for fluctuation
    d, n = 36, 600
    assert (df.mean_err < 0.02).all() and (df.cov_err < 1.25 * ((d + 1) / (n - 1)) ** 0.5).all()


def test_gmm_bench_cli_writes_the_table(tmp_path, capsys):
    out = tmp_path / "g.csv"
    assert eps_main(["gmm-bench", "--methods", "eps@3,eps_zeroshot@3", "--tasks", "sr4", "--seeds", "0,1",
                     "--num-samples", "50", "--shape", "1,4,4", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert list(df.columns) == gmm_bench.COLUMNS and len(df) == 4
    assert set(df.method) == {"eps", "eps_zeroshot"} and (df.nfe == 3).all() and (df.sw > 0).all()
    assert "mean sw / sw_floor" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--methods", "nope"], "unknown method 'nope'; registered methods: .*eps"),
    (["--tasks", "sr8"], "unknown task 'sr8'; valid tasks: inpaint_random"),
    (["--shape", "8,8"], "--shape must be C,H,W"),
])
def test_gmm_bench_bad_input_is_one_line(tmp_path, capsys, args, message):
    assert eps_main(["gmm-bench", *args, "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and re.search(message, err)
    assert not (tmp_path / "x.csv").exists()
