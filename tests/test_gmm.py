"""The analytic Gaussian-mixture prior against dense, brute-force linear algebra at float64."""
import pytest
import torch

from eps.operators import TASKS, make_operator
from eps.priors import GaussianMixture, dense_spectral, mixture_moments, random_gmm
from eps.rng import generator

SHAPE = (2, 4, 4)
D = 32


def gaussian_log_pdf(x, mean, cov):
    return torch.distributions.MultivariateNormal(mean, covariance_matrix=cov).log_prob(x)


def brute_force_denoiser(gmm, z, Sigma):
    """E[x0 | x0 + N(0, Sigma) = z] by the textbook formulas, one component and one z at a time."""
    out = []
    for zi in z.reshape(z.shape[0], D):
        logw = torch.stack([torch.log(gmm.weights[k]) + gaussian_log_pdf(zi, gmm.means[k], gmm.covs[k] + Sigma)
                            for k in range(len(gmm.weights))])
        w = torch.softmax(logw, 0)
        means = [gmm.means[k] + gmm.covs[k] @ torch.linalg.solve(gmm.covs[k] + Sigma, zi - gmm.means[k])
                 for k in range(len(gmm.weights))]
        out.append(sum(w[k] * means[k] for k in range(len(w))))
    return torch.stack(out)


@pytest.fixture(scope="module")
def gmm():
    return random_gmm(SHAPE, num_components=3, rank=4, generator=generator(0))


def test_isotropic_and_anisotropic_denoisers_match_brute_force(gmm):
    z = 0.8 * torch.randn(5, *SHAPE, generator=generator(1), dtype=torch.float64)
    Sigma = 0.3**2 * torch.eye(D, dtype=torch.float64)
    ref = brute_force_denoiser(gmm, z, Sigma)
    assert torch.allclose(gmm.denoise(z, torch.tensor(0.3)).reshape(5, D), ref, atol=1e-10)
    assert torch.allclose(gmm.denoise_aniso(z, Sigma).reshape(5, D), ref, atol=1e-10)
    B = torch.randn(D, D, generator=generator(2), dtype=torch.float64) * 0.1
    aniso = B @ B.T + 1e-3 * torch.eye(D, dtype=torch.float64)
    assert torch.allclose(gmm.denoise_aniso(z, aniso).reshape(5, D), brute_force_denoiser(gmm, z, aniso), atol=1e-10)
    per_sample = torch.stack([aniso, Sigma, aniso, Sigma, aniso])  # (B, d, d) path
    ref_ps = torch.stack([brute_force_denoiser(gmm, z[i : i + 1], per_sample[i])[0] for i in range(5)])
    assert torch.allclose(gmm.denoise_aniso(z, per_sample).reshape(5, D), ref_ps, atol=1e-10)


@pytest.mark.parametrize("task", TASKS)
def test_exact_posterior_matches_dense_bayes(gmm, task):
    params = {"deblur_gauss": {"kernel_size": 3}, "deblur_motion": {"reference_size": 32}}.get(task, {})
    op = make_operator(task, SHAPE, 1, generator(3), **params).to(dtype=torch.float64)
    sigma_y = 0.1
    y = op.measure(gmm.sample(1, generator(4)), sigma_y, generator(5))
    post = gmm.posterior(op, y, sigma_y)
    A, yv = op.dense("A"), y.reshape(-1)
    m = A.shape[0]
    for k in range(len(gmm.weights)):
        C, mk = gmm.covs[k], gmm.means[k]
        G = A @ C @ A.T + sigma_y**2 * torch.eye(m, dtype=torch.float64)
        K = C @ A.T @ torch.linalg.inv(G)
        assert torch.allclose(post.means[k], mk + K @ (yv - A @ mk), atol=1e-9)
        assert torch.allclose(post.covs[k], C - K @ A @ C, atol=1e-9)
    logw = torch.stack([torch.log(gmm.weights[k]) + gaussian_log_pdf(
        yv, A @ gmm.means[k], A @ gmm.covs[k] @ A.T + sigma_y**2 * torch.eye(m, dtype=torch.float64))
        for k in range(len(gmm.weights))])
    assert torch.allclose(post.weights, torch.softmax(logw, 0), atol=1e-9)


def test_noiseless_posterior_is_finite_and_consistent(gmm):
    op = make_operator("inpaint_random", SHAPE, 1, generator(6)).to(dtype=torch.float64)
    x0 = gmm.sample(1, generator(7))
    y = op.A(x0)
    x = gmm.posterior(op, y, 0.0).sample(20, generator(8))
    assert torch.isfinite(x).all() and torch.allclose(op.A(x), y.expand_as(op.A(x)), atol=1e-5)


def test_sampling_moments(gmm):
    x = gmm.sample(40000, generator(9)).reshape(40000, D)
    mean, cov = mixture_moments(gmm)
    assert (x.mean(0) - mean).abs().max() < 0.02 and (torch.cov(x.T) - cov).abs().max() < 0.02


def test_dense_spectral_is_sigma(gmm):
    op = make_operator("deblur_motion", SHAPE, 1, generator(10), reference_size=32).to(dtype=torch.float64)
    var = op.s**2 + 0.5
    assert torch.allclose(dense_spectral(op, var), torch.eye(D, dtype=torch.float64) * 0.5 + op.dense("A").T @
                          op.dense("A"), atol=1e-12)


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError, match="do not match image shape"):
        GaussianMixture(torch.ones(1), torch.zeros(1, 5), torch.eye(5)[None], (1, 2, 2))
