"""Backbone solvers against an independent implementation (k-diffusion, recorded fixture) and against the
closed-form probability-flow ODE of a Gaussian prior, on every interpolant."""
from pathlib import Path

import pytest
import torch

from eps.interpolants import EDM, INTERPOLANTS
from eps.methods import Problem, get_method
from eps.operators import make_operator
from eps.priors import GaussianMixture
from eps.rng import generator
from eps.samplers import SOLVERS, edm_sigmas, nfe_of_steps, sample, steps_for_nfe

FIXTURE = Path(__file__).parent / "fixtures" / "solvers_kdiffusion.pt"


@pytest.mark.parametrize("solver", ["euler", "heun", "dpmpp2m", "churn"])
def test_solvers_match_k_diffusion(solver):
    """k-diffusion 0.1.1.post1 sample_euler / sample_heun (s_churn for churn) / sample_dpmpp_2m on the same GMM
    denoiser, x_T and churn noise stream (k_diffusion/sampling.py of the PyPI wheel run on these inputs; only
    the numbers are committed)."""
    ref = torch.load(FIXTURE)
    gmm = GaussianMixture(ref["weights"], ref["means"], ref["covs"], ref["image_shape"])
    for N in (1, 2, 5, 12):
        assert torch.allclose(edm_sigmas(N), ref["outputs"][f"sigmas_{N}"], rtol=1e-14, atol=0)
        x = sample(gmm.denoise, ref["noise"], EDM(), N, solver, generator=generator(ref["churn_generator_seed"]),
                   grid="karras")  # k-diffusion's get_sigmas_karras
        expected = ref["outputs"][f"{solver}_{N}"]
        # same float64 operations up to their order; Heun at N = 2 steps from sigma 80 to 0.002 in one step
        # and amplifies rounding by up to sigma_max / sigma_min = 4e4
        tolerance = 1e-13 * 4e4 * expected.abs().max()
        assert torch.allclose(x, expected, rtol=0, atol=tolerance), (N, (x - expected).abs().max())


def _gaussian_problem(shape=(1, 2, 3)):
    """A Gaussian prior N(m, C) (one-component mixture), an inpainting measurement and its Gaussian posterior."""
    g = generator(21)
    d = shape[0] * shape[1] * shape[2]
    W = torch.randn(d, d, generator=g, dtype=torch.float64) / d**0.5
    prior = GaussianMixture(torch.ones(1), 0.5 * torch.randn(1, d, generator=g, dtype=torch.float64),
                            (W @ W.T + 0.05 * torch.eye(d, dtype=torch.float64))[None], shape)
    op = make_operator("inpaint_random", shape, 1, g).to(dtype=torch.float64)
    y = op.measure(prior.sample(1, g), 0.05, g)
    return prior, op, y, prior.posterior(op, y, 0.05)


def _flow_map(post: GaussianMixture, x: torch.Tensor, sigma_from: float, sigma_to: float) -> torch.Tensor:
    """Exact probability-flow ODE of N(m, C) in x~ = x_t / alpha_t:

        x~(s') - m = (C + s'^2)^(1/2) (C + s^2)^(-1/2) (x~(s) - m)
    """
    lam, Q = post._eigval[0], post._eigvec[0]
    m = post.means[0]
    gain = ((lam + sigma_to**2) / (lam + sigma_from**2)).sqrt()
    return m + ((x.reshape(x.shape[0], -1) - m) @ Q * gain) @ Q.T


@pytest.mark.parametrize("name", sorted(INTERPOLANTS))
@pytest.mark.parametrize("solver,order", [("euler", 1), ("ddim", 1), ("heun", 2), ("dpmpp2m", 2)])
def test_eps_solvers_converge_to_the_closed_form_ode_solution(name, solver, order):
    """EPS on a Gaussian prior: its denoiser is that of the Gaussian posterior N(m, C), whose probability-flow
    ODE is solved in closed form. The global error of an order-p solver falls as N^-p: doubling N from 32 to
    64 divides it by 2^p up to the higher-order term (allowed: a factor 2^(p - 0.4))."""
    prior, op, y, post = _gaussian_problem()
    prior.interpolant = INTERPOLANTS[name]()
    # the sampler's own x_T / beta_T (BackboneSampler draws it first from the generator)
    noise = torch.randn(16, *prior.image_shape, generator=generator(23), dtype=torch.float64)
    problem = Problem(op, y.expand(16, *y.shape[1:]), 0.05)
    sigma_min, sigma_max = 0.002, 80.0
    # reference: exact flow from sigma_max to sigma_min, then the solvers' common last step D(x, sigma_min)
    x_min = _flow_map(post, noise * sigma_max, sigma_max, sigma_min).reshape(noise.shape)
    reference = post.denoise(x_min, torch.tensor(sigma_min, dtype=torch.float64)).reshape(16, -1)
    errors = []
    for N in (32, 64):
        method = get_method("eps", solver=solver)
        x = method.sample(problem, prior, nfe_of_steps(N, solver), generator(23))
        errors.append((x.reshape(16, -1) - reference).abs().max().item())
    assert errors[1] < errors[0] / 2 ** (order - 0.4), errors
    assert errors[1] < 0.05 * 2.0 ** (1 - order), errors


@pytest.mark.parametrize("name", sorted(INTERPOLANTS))
def test_churn_samples_the_gaussian_posterior(name):
    """The stochastic churn sampler on a Gaussian prior draws N(m_post, C_post): sample mean and covariance
    within 5 standard errors of the closed form (at 200 steps its discretisation error is below 2 of them)."""
    prior, op, y, post = _gaussian_problem()
    prior.interpolant = INTERPOLANTS[name]()
    n = 2000
    x = get_method("eps", solver="churn").sample(Problem(op, y.expand(n, *y.shape[1:]), 0.05), prior, 399,
                                                  generator(24)).reshape(n, -1)
    m, C = post.means[0], post.covs[0]
    se_mean = (C.diagonal() / n).sqrt()
    assert ((x.mean(0) - m).abs() < 5 * se_mean + 1e-6).all()
    se_cov = ((C.diagonal()[:, None] * C.diagonal()[None] + C**2) / n).sqrt()
    assert ((torch.cov(x.T) - C).abs() < 5 * se_cov + 1e-6).all()


@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_counts_its_nfe(solver):
    prior, op, y, _ = _gaussian_problem()
    for nfe in (1, 2, 5, 10):
        problem = Problem(op, y.expand(4, *y.shape[1:]), 0.05)
        out = get_method("eps", solver=solver).run(problem, prior, nfe, generator(1))
        assert out.nfe == nfe_of_steps(steps_for_nfe(nfe, solver), solver) <= nfe and out.nfe >= nfe - 1


def test_unknown_solver_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown solver 'rk4'; valid: heun, euler, ddim, dpmpp2m, churn"):
        get_method("eps", solver="rk4")
    with pytest.raises(ValueError, match="unknown grid 'cosine'; valid: karras, geometric"):
        get_method("eps", solver="euler", grid="cosine")


def test_the_papers_sampler_is_euler_on_the_karras_grid():
    """EPS paper App. B: EDM Euler on sigma_max 80, sigma_min 0.002, rho 7 — the default grid of euler (and of EDM's
    stochastic churn sampler), whatever the other solvers default to."""
    for solver in ("euler", "churn"):
        assert get_method("eps", solver=solver).grid == "karras"
    prior, op, y, _ = _gaussian_problem()
    problem = Problem(op, y.expand(4, *y.shape[1:]), 0.05)
    auto = get_method("eps", solver="euler").sample(problem, prior, 20, generator(3))
    karras = get_method("eps", solver="euler", grid="karras").sample(problem, prior, 20, generator(3))
    assert torch.equal(auto, karras)
