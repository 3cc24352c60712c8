"""Interpolants, the EDM time grid, NFE accounting, and EPS sampling the exact GMM posterior."""
import math
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
from eps.samplers import DEFAULT_GRID, SOLVERS, nfe_of_steps, sample, sigma_grid, steps_for_nfe, time_steps


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


@pytest.mark.parametrize("N", [1, 2, 5, 20])
def test_geometric_grid_is_uniform_in_log_sigma(N):
    """sigma_0 = sigma_max, sigma_{N-1} = sigma_min, sigma_N = 0, equal steps h = log(s_max / s_min) / (N - 1) in
    log sigma (= in log-SNR); the rho -> infinity limit of Karras' grid."""
    s = sigma_grid("geometric", N, 0.002, 80.0)
    assert len(s) == N + 1 and s[0] == 80.0 and s[-1] == 0 and (s[:-1].diff() < 0).all()
    if N > 1:
        assert abs(s[-2].item() - 0.002) < 1e-15
        h = torch.log(s[:-2] / s[1:-1])
        assert torch.allclose(h, torch.full_like(h, math.log(80.0 / 0.002) / (N - 1)), rtol=1e-12, atol=0)
        # Karras eq. 5 with rho -> infinity: (a + i/(N-1) (b - a))^rho -> geometric; first order in 1 / rho
        assert torch.allclose(edm_sigmas(N, rho=1e7)[:-1], s[:-1], rtol=1e-5, atol=0)
    assert torch.equal(time_steps(INTERPOLANTS["edm"](), N, grid="geometric"), s)


def _scalar_gaussian(std: float):
    """The EDM denoiser of a scalar N(0, std^2) prior, D(x, sigma) = std^2 / (std^2 + sigma^2) x, and the exact
    probability-flow map from sigma_max to sigma_min followed by the solvers' common last step D(., sigma_min)."""
    c = std**2
    exact_gain = 80.0 * math.sqrt((c + 0.002**2) / (c + 80.0**2)) * c / (c + 0.002**2)
    return (lambda x, t: c / (c + t**2) * x), exact_gain


@pytest.mark.parametrize("std", [0.03, 0.05, 0.07])
def test_dpmpp2m_on_the_geometric_grid_is_its_formula(std):
    """On a scalar Gaussian the solver is a linear map x_T -> x_0. On the geometric grid h_i = h, r_i = 1, so
    DPM-Solver++(2M) (Lu et al. 2022, Alg. 2) reads, with D_i = g_i x_i, g_i = std^2 / (std^2 + sigma_i^2):

        x_{i+1} = (sigma_{i+1} / sigma_i) x_i - (e^{-h} - 1) (3/2 D_i - 1/2 D_{i-1})     (first step: D_0)

    and x_N = D_{N-1}; the sampler's output equals that recursion written out here."""
    denoise, _ = _scalar_gaussian(std)
    N = 20
    s = sigma_grid("geometric", N).tolist()
    h = math.log(s[0] / s[1])
    x, D_prev = 80.0, None
    for i in range(N - 1):
        D = std**2 / (std**2 + s[i] ** 2) * x
        x = s[i + 1] / s[i] * x - math.expm1(-h) * (D if D_prev is None else 1.5 * D - 0.5 * D_prev)
        D_prev = D
    expected = std**2 / (std**2 + s[N - 1] ** 2) * x
    got = sample(denoise, torch.ones(1, 1, 1, 1, dtype=torch.float64), INTERPOLANTS["edm"](), N, "dpmpp2m",
                 grid="geometric")
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_geometric_grid_removes_the_std_bias_of_dpmpp2m():
    """Why dpmpp2m defaults to the geometric grid (eps.samplers.sigma_grid): the std of its 20-step samples of a
    scalar Gaussian with std 0.03-0.07 (this benchmark's posterior scales) is off by +5.8 to +7.0% on Karras'
    rho = 7 grid and by +1.5 to +1.7% on the geometric one (exact linear maps, no sampling noise)."""
    for std in (0.03, 0.05, 0.07):
        denoise, exact = _scalar_gaussian(std)
        error = {grid: sample(denoise, torch.ones(1, 1, 1, 1, dtype=torch.float64), INTERPOLANTS["edm"](), 20,
                              "dpmpp2m", grid=grid).item() / exact - 1 for grid in ("karras", "geometric")}
        assert 0.05 < error["karras"] < 0.075 and 0 < error["geometric"] < 0.02, (std, error)
    assert DEFAULT_GRID["dpmpp2m"] == "geometric" and set(DEFAULT_GRID) == set(SOLVERS)


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
