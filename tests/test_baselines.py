"""Specifications of the training-free baselines on tiny 1x8x8 analytic (Gaussian-mixture) problems."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from baselines._loop import TIME_GRIDS, linear_alpha_bar, released_timesteps, time_grid
from eps.methods import METHODS, Method, Problem, get_method, register_method
from eps.operators import TASKS, make_operator
from eps.priors import random_gmm

BASELINES = ("dps", "pigdm", "ddrm", "ddnm", "daps", "mpgd")
WITH_VJP = {"dps", "pigdm"}  # methods that backpropagate through the denoiser once per step
SHAPE = (1, 8, 8)


@pytest.fixture(scope="module")
def gmm():
    return random_gmm(SHAPE, generator=torch.Generator().manual_seed(0))


def make_problem(gmm, task: str, sigma_y: float, batch: int = 4) -> Problem:
    op = make_operator(task, SHAPE, 1, generator=torch.Generator().manual_seed(1)).to(dtype=torch.float64)
    x0 = gmm.sample(1, torch.Generator().manual_seed(2))
    y = op.measure(x0, sigma_y, torch.Generator().manual_seed(3))
    return Problem(op, y.expand(batch, *y.shape[1:]).clone(), sigma_y)


def residual_rms(problem: Problem, x: torch.Tensor) -> float:
    return float((problem.operator.A(x) - problem.y).pow(2).mean().sqrt())


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("name", BASELINES)
def test_finite_samples_of_the_right_shape_within_the_nfe_budget(gmm, name, task):
    problem = make_problem(gmm, task, 0.05)
    out = get_method(name).run(problem, gmm, 10, torch.Generator().manual_seed(4))
    assert out.x.shape == (4, *SHAPE)
    assert torch.isfinite(out.x).all()
    assert out.nfe == 10  # every method spends the whole budget, never more
    assert out.vjp == (10 if name in WITH_VJP else 0)


@pytest.mark.parametrize("name", BASELINES)
def test_reproducible_from_a_seed(gmm, name):
    problem = make_problem(gmm, "sr4", 0.05)
    runs = [get_method(name).run(problem, gmm, 10, torch.Generator().manual_seed(seed)).x for seed in (7, 7, 8)]
    assert torch.equal(runs[0], runs[1])
    assert not torch.allclose(runs[0], runs[2])


@pytest.mark.parametrize("task", ["inpaint_random", "inpaint_box", "sr4"])
@pytest.mark.parametrize("name", ["ddrm", "ddnm"])
def test_noise_free_measurement_is_matched_exactly(gmm, name, task):
    """With sigma_y = 0 DDRM (eta_b = 1) and DDNM end on the measurement: A x = y."""
    problem = make_problem(gmm, task, 0.0)
    x = get_method(name).run(problem, gmm, 10, torch.Generator().manual_seed(5)).x
    assert residual_rms(problem, x) < 1e-8


@pytest.mark.parametrize("name", ["ddrm", "ddnm", "pigdm"])
def test_consistent_methods_reach_the_noise_level(gmm, name):
    sigma_y = 0.01
    problem = make_problem(gmm, "inpaint_random", sigma_y, batch=16)
    x = get_method(name).run(problem, gmm, 50, torch.Generator().manual_seed(6)).x
    assert residual_rms(problem, x) < 3 * sigma_y


@pytest.mark.parametrize("name", BASELINES)
def test_residual_far_below_that_of_prior_samples(gmm, name):
    problem = make_problem(gmm, "deblur_motion", 0.05, batch=16)
    x = get_method(name).run(problem, gmm, 100, torch.Generator().manual_seed(6)).x
    prior_samples = gmm.sample(16, torch.Generator().manual_seed(9))
    assert residual_rms(problem, x) < 0.8 * residual_rms(problem, prior_samples)


def test_published_per_task_value_and_explicit_option(gmm):
    inpaint, blur = make_problem(gmm, "inpaint_box", 0.05), make_problem(gmm, "deblur_gauss", 0.05)
    assert get_method("dps").setting("zeta", inpaint) == 0.5
    assert get_method("dps").setting("zeta", blur) == 0.3
    assert get_method("dps", zeta=0.1).setting("zeta", inpaint) == 0.1  # a config value wins
    assert get_method("daps").setting("lr", inpaint) == 5e-5


def test_daps_budget_below_one_annealing_step_is_an_error(gmm):
    with pytest.raises(ValueError, match="ode_steps"):
        get_method("daps").run(make_problem(gmm, "sr4", 0.05), gmm, 3)


def test_unknown_method_and_option_are_one_clear_error():
    with pytest.raises(ValueError, match="registered methods:.*ddnm.*dps"):
        get_method("no_such_method")
    with pytest.raises(ValueError, match="unknown option"):
        get_method("ddrm", etta=0.5)


def test_a_new_method_runs_through_the_gmm_bench(tmp_path):
    """Adding a baseline is one class with ``@register_method``; the benchmark then finds it by name."""
    from eps import gmm_bench

    @register_method("throwaway_prior_mean")
    class PriorMean(Method):
        """Ignores y: one denoiser call at a huge noise level returns the prior mean."""

        def sample(self, problem, prior, nfe, generator):
            x = torch.zeros(problem.batch_size, *prior.image_shape, dtype=problem.y.dtype)
            return prior.denoise(x, torch.tensor(1e4, dtype=x.dtype))

    out = tmp_path / "gmm.csv"
    try:
        gmm_bench.main(["--methods", "throwaway_prior_mean@1,ddnm@10", "--tasks", "sr4", "--seeds", "0",
                        "--num-samples", "64", "--shape", "1,8,8", "--num-projections", "50", "--out", str(out)])
    finally:
        METHODS.pop("throwaway_prior_mean")
    rows = pd.read_csv(out).set_index("method")
    assert rows.loc["throwaway_prior_mean", "nfe"] == 1
    assert rows.loc["ddnm", "nfe"] == 10
    # a point mass at the prior mean is farther from the posterior than a posterior sampler
    assert rows.loc["throwaway_prior_mean", "sw"] > rows.loc["ddnm", "sw"]


@pytest.mark.parametrize("grid", TIME_GRIDS)
@pytest.mark.parametrize("steps", [1, 7, 100])
def test_time_grids_decrease_to_zero_with_one_level_per_step(grid, steps):
    sigmas = time_grid(grid, steps, 0.002, 80.0, 7.0)
    assert sigmas.shape == (steps + 1,) and sigmas[-1] == 0
    assert (sigmas[1:] < sigmas[:-1]).all()


@pytest.mark.parametrize("grid", ["ddim", "ddpm"])
def test_released_grids_map_ddpm_timesteps_by_sigma_equal_sqrt_one_minus_abar_over_abar(grid):
    abar = linear_alpha_bar()[released_timesteps(grid, 25)]
    sigmas = time_grid(grid, 25, 0.002, 80.0, 7.0)[:-1]
    torch.testing.assert_close(abar, 1 / (1 + sigmas**2), rtol=1e-12, atol=0)  # x_t = sqrt(abar) (x0 + sigma eps)
    assert released_timesteps(grid, 1000) == list(range(999, -1, -1))  # every step of the chain


def test_unknown_time_grid_and_oversized_grid_are_one_clear_error(gmm):
    with pytest.raises(ValueError, match="unknown time_grid 'karras'"):
        get_method("ddnm", time_grid="karras").run(make_problem(gmm, "sr4", 0.05), gmm, 10)
    with pytest.raises(ValueError, match="do not fit"):
        released_timesteps("ddpm", 1001)


@pytest.mark.parametrize("name", ["dps", "pigdm", "ddnm"])
def test_edm_grid_is_an_option_of_the_released_grid_baselines(gmm, name, monkeypatch):
    """The noise levels the prior is called at are the released DDPM grid by default and, with ``time_grid='edm'``,
    EDM's: both written out here in closed form (numpy, float64; a few operations each: rel 1e-12)."""
    problem = make_problem(gmm, "sr4", 0.05)
    seen, denoise = [], type(gmm).denoise

    def recording(self, x, sigma, *args, **kwargs):
        seen.append(float(torch.as_tensor(sigma).flatten()[0]))
        return denoise(self, x, sigma, *args, **kwargs)

    monkeypatch.setattr(type(gmm), "denoise", recording)
    runs, levels = [], []
    for grid in ({}, {"time_grid": "edm"}):
        seen.clear()
        runs.append(get_method(name, **grid).run(problem, gmm, 10, torch.Generator().manual_seed(3)))
        levels.append(list(seen))
    assert all(r.nfe == 10 and torch.isfinite(r.x).all() for r in runs)
    abar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000))  # the linear-beta DDPM chain
    released = np.sqrt((1 - abar) / abar)[released_timesteps({"dps": "ddpm"}.get(name, "ddim"), 10)]
    i, lo, hi, rho = np.arange(10), 0.002 ** (1 / 7), 80.0 ** (1 / 7), 7  # EDM (Karras et al. 2022, eq. 5)
    assert levels[0] == pytest.approx(list(released), rel=1e-12)
    assert levels[1] == pytest.approx(list((hi + i / 9 * (lo - hi)) ** rho), rel=1e-12)


def test_mpgd_step_size_is_the_released_table_and_the_stated_rule_elsewhere():
    from baselines.mpgd import RELEASED_STEP_SIZE, released_step_size
    assert {n: released_step_size(n) for n in (20, 50, 100)} == {20: 17.5, 50: 7.5, 100: 4.0} == RELEASED_STEP_SIZE
    assert released_step_size(10) * 10 == pytest.approx(17.5 * 20) and released_step_size(250) * 250 == pytest.approx(400)
    between = [released_step_size(n) for n in range(20, 101)]
    assert all(a > b for a, b in zip(between, between[1:]))  # log-log interpolation: strictly decreasing
    assert released_step_size(35) == pytest.approx((17.5 ** (1 - 0.6108) * 7.5 ** 0.6108), rel=1e-3)  # w = ln(35/20)/ln(50/20)
