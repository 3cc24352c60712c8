"""The two protocols (eps.protocols) and the EPS paper's Table 12 update rules of the baselines, against their
equations on small problems (dense float64 algebra, autograd) and on the analytic Gaussian-mixture posterior."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from eps.methods import Problem, get_method
from eps.operators import DEFAULTS, RELEASED, TASKS, make_operator
from eps.priors import mixture_moments, random_gmm
from eps.protocols import EVALUATION, SETTINGS, apply_protocol, build_method, method_settings, resolve_task

SHAPE = (1, 8, 8)
TABLE_12 = {"dps": ("zeta", (5.0, 10.0, 10.0, 1.5, 2.5)), "mpgd": ("step_size", (20.0, 15.0, 30.0, 5.0, 9.0)),
            "daps": ("lr", (5e-4, 5e-4, 9e-4, 9e-4, 5e-4))}


@pytest.fixture(scope="module")
def gmm():
    return random_gmm(SHAPE, generator=torch.Generator().manual_seed(0))


def problem(gmm, task, batch=4, sigma_y=0.05):
    op = make_operator(task, SHAPE, 1, torch.Generator().manual_seed(1)).to(dtype=torch.float64)
    y = op.measure(gmm.sample(1, torch.Generator().manual_seed(2)), sigma_y, torch.Generator().manual_seed(3))
    return Problem(op, y.expand(batch, *y.shape[1:]).clone(), sigma_y)


@pytest.mark.parametrize("name,index", [(n, i) for n in TABLE_12 for i in range(5)])
def test_table_12_values_per_task_with_their_source(name, index):
    option, values = TABLE_12[name]
    method, settings = build_method("eps_paper", name, TASKS[index])
    assert getattr(method, option) == values[index] and "Table 12" in settings[option][1]
    assert all(source for _, source in settings.values())  # every setting names where it comes from


def test_paper_samplers_and_released_protocol_defaults():
    for name in ("eps", "palette"):
        method, settings = build_method("eps_paper", name, "sr4")
        assert method.solver == "euler" and "App. B" in settings["solver"][1]
    dps, _ = build_method("eps_paper", "dps", "sr4")
    assert (dps.time_grid, dps.sigma_max, dps.sigma_min, dps.rho, dps.eta, dps.rule) == ("edm", 80.0, 0.002, 7.0, 0.0,
                                                                                          "eps_paper")
    # dps_daps: the class defaults (the releases the parity fixtures test) except the grids it names
    for name in ("dps", "pigdm", "ddnm", "mpgd", "daps", "ddrm"):
        method, settings = build_method("dps_daps", name, "inpaint_box")
        released = get_method(name, **{k: v[0] for k, v in SETTINGS["dps_daps"][name].items() if k != "nfe"})
        assert method.__dict__ == released.__dict__
    assert method_settings("dps_daps", "dps", "inpaint_box", method_class=type(get_method("dps")))["zeta"][0] == 0.5
    assert build_method("eps_paper", "dps", "sr4", overrides={"zeta": 3.0})[1]["zeta"] == (3.0, "config")


def test_task_presets_and_one_line_switch():
    assert resolve_task("eps_paper", "sr4") == DEFAULTS["sr4"] and resolve_task("dps_daps", "sr4") == RELEASED["sr4"]
    assert resolve_task("dps_daps", "deblur_motion", {"kernel": "line"})["lengths"] == [7, 9, 11, 13, 15]
    config = {"protocol": "dps_daps", "tasks": {"sr4": {}, "deblur_gauss": {"std": 2.0}}, "evaluate": {}}
    apply_protocol(config)
    assert config["tasks"]["sr4"]["filter"] == "bicubic" and config["tasks"]["deblur_gauss"]["std"] == 2.0
    assert config["evaluate"] == {"crps_estimator": "fair", "sample_set": "first"}
    paper = apply_protocol({"tasks": {"sr4": {}}, "evaluate": {"crps_estimator": "fair"}})
    assert paper["protocol"] == "eps_paper" and paper["tasks"]["sr4"]["filter"] == "box"
    assert paper["evaluate"] == {"crps_estimator": "fair", "sample_set": "all"}  # an explicit value wins
    assert EVALUATION["eps_paper"]["num_samples"][0] == 10 and EVALUATION["eps_paper"]["num_test"][0] == 100
    with pytest.raises(ValueError, match="unknown protocol 'dps'; valid: eps_paper, dps_daps"):
        apply_protocol({"protocol": "dps", "tasks": {}})


@pytest.mark.parametrize("task", TASKS)
def test_ddnm_paper_correction_is_lambda_times_the_regularised_inverse(gmm, task):
    """lambda_t W (y - A x0), lambda_t = sigma^2 / (sigma^2 + sigma_y^2), W = A^+ (eps 0) or the Wiener filter
    (A^T A + eps I)^(-1) A^T (both blurs: circulant, so this is conj(k_hat) / (|k_hat|^2 + eps) per frequency)."""
    ddnm, settings = build_method("eps_paper", "ddnm", task)
    p = problem(gmm, task, batch=1)
    x0 = torch.randn(1, *SHAPE, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    sigma = torch.tensor(0.3, dtype=torch.float64)
    got = ddnm.correction(p, x0, sigma).reshape(-1)
    A = p.operator.dense("A")
    r = (p.y - p.operator.A(x0)).reshape(-1)
    eps = settings["wiener_eps"][0]
    W = torch.linalg.pinv(A, rtol=p.operator.rcond) if eps == 0 else \
        torch.linalg.solve(A.T @ A + eps * torch.eye(A.shape[1], dtype=torch.float64), A.T)
    assert eps == (1e-3 if task.startswith("deblur") else 0.0)
    lam = 0.3**2 / (0.3**2 + 0.05**2)
    assert torch.allclose(got, lam * W @ r, atol=1e-10)


def test_sr_pseudo_inverse_is_nearest_upsampling(gmm):
    """Table 12: for 4x average pooling A^+ is nearest upsampling (A A^T = I / 16, A^+ = 16 A^T)."""
    op = make_operator("sr4", (3, 16, 16)).to(dtype=torch.float64)
    y = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    assert torch.allclose(op.pinv(y), F.interpolate(y, scale_factor=4, mode="nearest"), atol=1e-12)


def test_dps_paper_step_is_the_normalised_squared_residual_gradient(gmm):
    """x~_next = Euler step - zeta' / ||r|| grad_{x~} ||y - A D(x~)||^2, ||r|| held fixed (DPS paper, Table 12)."""
    dps, _ = build_method("eps_paper", "dps", "deblur_gauss")
    p = problem(gmm, "deblur_gauss", batch=2)
    x = 3.0 * torch.randn(2, *SHAPE, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    sigma, sigma_next = torch.tensor(3.0, dtype=torch.float64), torch.tensor(2.0, dtype=torch.float64)
    got = dps.step(x, sigma, sigma_next, lambda: torch.zeros_like(x), p, gmm)
    xr = x.clone().requires_grad_(True)
    x0 = gmm.denoise(xr, sigma)
    r = (p.y - p.operator.A(x0)).flatten(1)
    norm = r.norm(dim=1).detach()
    (grad,) = torch.autograd.grad((1.5 / norm * r.square().sum(1)).sum(), xr)
    euler = x0.detach() + sigma_next * (x - x0.detach()) / sigma
    assert torch.allclose(got, euler - grad, atol=1e-10)


@pytest.mark.parametrize("name", ["dps", "pigdm", "ddnm", "daps", "mpgd"])
def test_paper_rules_sample_towards_the_exact_posterior(gmm, name):
    """On the analytic GMM (1x8x8, 4x SR, sigma_y 0.05, 64 samples, 20 NFE), every baseline with Table 12's
    settings is finite and its sample mean is at least a quarter closer to the exact posterior mean than the
    prior mean is (Table 12's step sizes were tuned on 3x64x64 images, so no tighter bound holds for all)."""
    p = problem(gmm, "sr4", batch=64)
    post_mean = mixture_moments(gmm.posterior(p.operator, p.y[:1], 0.05))[0].reshape(-1)
    prior_mean = mixture_moments(gmm)[0].reshape(-1)
    method, _ = build_method("eps_paper", name, "sr4")
    x = method.run(p, gmm, 20, torch.Generator().manual_seed(4)).x
    assert torch.isfinite(x).all()
    assert (x.mean(0).reshape(-1) - post_mean).norm() < 0.75 * (prior_mean - post_mean).norm()


def test_unknown_rule_is_one_clear_error():
    with pytest.raises(ValueError, match="dps: rule must be one of released, eps_paper, got 'paper'"):
        get_method("dps", rule="paper")


def test_eps_one_nfe_is_one_call_at_sigma_max(gmm):
    """The paper's 1-NFE row (App. B, D.11): the Euler sampler with one step is D(mu_star(x_T), sigma_max = 80)."""
    from eps.posterior import eps_denoiser

    eps, _ = build_method("eps_paper", "eps", "inpaint_random")
    p = problem(gmm, "inpaint_random", batch=3)
    out = eps.run(p, gmm, 1, torch.Generator().manual_seed(8))
    noise = torch.randn(3, *SHAPE, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    t = gmm.interpolant.t_of_sigma(torch.tensor(80.0, dtype=torch.float64))
    expected = eps_denoiser(gmm.denoise_pivot, p.operator, p.y, p.sigma_y, gmm.interpolant)(80.0 * noise, t)
    assert out.nfe == 1 and torch.allclose(out.x, expected, atol=1e-10)
