"""The exact-posterior identity: pivot moments, Sigma_star vs dense algebra, the sigma_y -> 0 limit and
the exact posterior score on a Gaussian prior, for EDM, VP and flow interpolants."""
import pytest
import torch

from eps.interpolants import INTERPOLANTS
from eps.operators import RELEASED, TASKS, make_operator
from eps.posterior import draw_pivot, eps_denoiser, make_pivot, posterior_score
from eps.priors import dense_spectral, mixture_moments, random_gmm
from eps.rng import generator

SHAPE = (1, 4, 4)
D = 16


def op64(task, shape=SHAPE, seed=0, family="paper"):
    """4x4 operators of the EPS paper's families (``family="paper"``) or the DPS/DAPS release ones (``"released"``).

    4x4 images: small kernels so that blur is not trivial on 4x4. Gaussian std 1 px, kernel 3: its blur has
    smallest singular value 0.034 (periodic) / 0.011 (reflect; std 0.8 would give 7e-7, within the rcond cut and
    the 1e-7 noise of the noiseless-limit test, where "measured" is ill-defined). Line motion scaled as at 8 px
    (reference 32: lengths 0.875..1.875 px), smallest singular value 0.16."""
    params = {"deblur_gauss": {"kernel_size": 3, "std": 1.0}, "deblur_motion": {"reference_size": 32}}.get(task, {})
    if family == "released":
        params = {**RELEASED[task], **({"kernel_size": 3, "std": 1.0} if task == "deblur_gauss" else {}),
                  **({"kernel_size": 3} if task == "deblur_motion" else {})}
    return make_operator(task, shape, 1, generator(seed), **params).to(dtype=torch.float64)


FAMILIES = [(task, family) for family in ("paper", "released") for task in TASKS]
FAMILY_IDS = [f"{task}-{family}" for task, family in FAMILIES]


def dense_sigma_star(A, sigma, sigma_y):
    return torch.linalg.inv(torch.eye(A.shape[1], dtype=torch.float64) / sigma**2 + A.T @ A / sigma_y**2)


@pytest.mark.parametrize("task,family", FAMILIES, ids=FAMILY_IDS)
def test_sigma_star_spectrum_matches_dense_inverse(task, family):
    op, sigma, sigma_y = op64(task, family=family), 0.7, 0.05
    A = op.dense("A")
    pivot = make_pivot(op, torch.zeros(1, *SHAPE, dtype=torch.float64), op.A(torch.zeros(1, *SHAPE,
                       dtype=torch.float64)), torch.tensor(sigma, dtype=torch.float64), sigma_y)
    assert torch.allclose(dense_spectral(op, pivot.var), dense_sigma_star(A, sigma, sigma_y), atol=1e-12)


@pytest.mark.parametrize("interpolant", sorted(INTERPOLANTS))
@pytest.mark.parametrize("task", ["inpaint_random", "sr4", "deblur_motion"])
def test_pivot_from_xt_and_y_is_x0_plus_sigma_star_noise(interpolant, task):
    """mu_star(x_t, y) with x_t = alpha x0 + beta eps, y = A x0 + sigma_y n has mean x0 and covariance Sigma_star,
    and the direct draw x0 + Sigma_star^(1/2) xi agrees with it."""
    interp, op, sigma_y, n = INTERPOLANTS[interpolant](), op64(task), 0.1, 40000
    g = generator(1)
    t = interp.t_of_sigma(torch.tensor(0.8, dtype=torch.float64))
    alpha, beta = interp.alpha(t), interp.beta(t)
    x0 = torch.randn(1, *SHAPE, generator=g, dtype=torch.float64).expand(n, *SHAPE)
    x_t = alpha * x0 + beta * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    y = op.measure(x0, sigma_y, g)
    via_xt = make_pivot(op, x_t / alpha, y, beta / alpha, sigma_y)
    direct = draw_pivot(op, x0, y, beta / alpha, sigma_y, g)
    Sigma = dense_sigma_star(op.dense("A"), float(beta / alpha), sigma_y)
    for pivot in (via_xt, direct):
        err = (pivot.mu_star - x0).reshape(n, D)
        assert err.mean(0).abs().max() < 4 * Sigma.diagonal().max().sqrt() / n**0.5
        assert torch.allclose(torch.cov(err.T), Sigma, atol=0.03 * Sigma.diagonal().max())


@pytest.mark.parametrize("task,family", FAMILIES, ids=FAMILY_IDS)
def test_noiseless_limit_is_finite_and_continuous(task, family):
    op, g = op64(task, family=family), generator(2)
    x_tilde = torch.randn(3, *SHAPE, generator=g, dtype=torch.float64)
    y = op.A(torch.randn(3, *SHAPE, generator=g, dtype=torch.float64))
    sigma = torch.tensor(0.5, dtype=torch.float64)
    exact, near = make_pivot(op, x_tilde, y, sigma, 0.0), make_pivot(op, x_tilde, y, sigma, 1e-7)
    assert torch.isfinite(exact.mu_star).all() and torch.isfinite(exact.var).all()
    assert torch.allclose(exact.mu_star, near.mu_star, atol=1e-5) and torch.allclose(exact.var, near.var, atol=1e-8)
    measured = op.s.expand_as(exact.var) > 0
    assert (exact.var[measured] == 0).all() and torch.allclose(exact.var[~measured], sigma**2 + 0 * exact.var[~measured])
    assert torch.allclose(op.A(exact.mu_star), y, atol=1e-8)  # the pivot explains the measurement exactly


@pytest.mark.parametrize("interpolant", sorted(INTERPOLANTS))
@pytest.mark.parametrize("task,family", FAMILIES, ids=FAMILY_IDS)
def test_exact_posterior_score_on_a_gaussian_prior(interpolant, task, family):
    """For a Gaussian prior, p(x_t | y) = N(alpha m_post, alpha^2 C_post + beta^2 I) in closed form; the EPS
    identity (alpha D_{Sigma_star}(mu_star) - x_t) / beta^2 must equal its score exactly."""
    interp, op, sigma_y = INTERPOLANTS[interpolant](), op64(task, family=family), 0.05
    prior = random_gmm(SHAPE, num_components=1, rank=4, generator=generator(3))
    g = generator(4)
    x0 = prior.sample(1, g)
    y = op.measure(x0, sigma_y, g)
    m_post, C_post = mixture_moments(prior.posterior(op, y, sigma_y))
    t = interp.t_of_sigma(torch.tensor(1.3, dtype=torch.float64))
    alpha, beta = interp.alpha(t), interp.beta(t)
    x_t = alpha * x0 + beta * torch.randn(5, *SHAPE, generator=g, dtype=torch.float64)
    denoised = eps_denoiser(prior.denoise_pivot, op, y, sigma_y, interp)(x_t, t)
    score = posterior_score(denoised, x_t, alpha, beta).reshape(5, D)
    cov = alpha**2 * C_post + beta**2 * torch.eye(D, dtype=torch.float64)
    ref = -torch.linalg.solve(cov, (x_t.reshape(5, D) - alpha * m_post).T).T
    assert torch.allclose(score, ref, rtol=1e-7, atol=1e-8)
