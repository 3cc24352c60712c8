"""eps_trained: measured directions pass through, the untrained net is the data's Gaussian pivot denoiser,
one net is trained per (prior, sigma_y, task) and counted per forward pass."""
import pytest
import torch

from eps.methods import Problem, get_method
from eps.nn.gmm_trained import SpectralPrecond
from eps.operators import make_operator
from eps.posterior import draw_pivot
from eps.priors import GaussianMixture, random_gmm

SHAPE = (1, 4, 4)
D = 16


def _gaussian(generator):
    """A random mean and positive-definite covariance of dimension ``D``."""
    W = torch.randn(D, D, generator=generator, dtype=torch.float64)
    return 0.3 * torch.randn(D, generator=generator, dtype=torch.float64), 0.05 * W @ W.T / D + 0.01 * torch.eye(D)


def test_measured_pixels_pass_through_at_sigma_y_zero():
    g = torch.Generator().manual_seed(0)
    mean, cov = _gaussian(g)
    net = SpectralPrecond(mean.reshape(SHAPE), cov, width=16, depth=1)
    with torch.no_grad():
        for p in net.model.parameters():
            p.normal_()
    op = make_operator("inpaint_random", SHAPE, 3, g)
    x0 = torch.randn(3, *SHAPE, generator=g)
    pivot = draw_pivot(op, x0, op.A(x0), torch.tensor([2.0]), 0.0, g)
    with torch.no_grad():
        out = net(pivot)
    measured = op.mask.expand_as(x0) > 0
    torch.testing.assert_close(out[measured], x0[measured])  # Sigma_star = 0 there: D must return y exactly
    assert not torch.allclose(out[~measured], pivot.mu_star[~measured])


@pytest.mark.parametrize("task", ["deblur_gauss", "sr4", "inpaint_box"])
def test_untrained_net_is_the_exact_denoiser_of_the_data_gaussian(task):
    """``F = 0`` at initialisation: ``D = m + C (C + Sigma_star)^-1 (mu_star - m)``, exact for a Gaussian prior."""
    g = torch.Generator().manual_seed(1)
    mean, cov = _gaussian(g)
    op = make_operator(task, SHAPE, 1, g).to(dtype=torch.float64)
    V_T = op.V_T(torch.eye(D, dtype=torch.float64).reshape(D, *SHAPE)).reshape(D, D).T  # rows: V^T e_j -> V^T
    net = SpectralPrecond((V_T @ mean).reshape(SHAPE), V_T @ cov @ V_T.T, width=16, depth=1)
    gauss = GaussianMixture(torch.ones(1), mean[None], cov[None], SHAPE)
    x0 = gauss.sample(4, g)
    for sigma in (0.01, 0.3, 20.0):
        pivot = draw_pivot(op, x0, None, torch.tensor([sigma], dtype=torch.float64), 0.05, g)
        with torch.no_grad():
            torch.testing.assert_close(net(pivot), gauss.denoise_pivot(pivot))


def test_eps_trained_runs_counts_and_caches_per_prior_and_task():
    gmm = random_gmm(SHAPE, num_components=2, rank=2, generator=torch.Generator().manual_seed(0))
    method = get_method("eps_trained", train_steps=20, train_batch=32, width=32, depth=1)
    g = torch.Generator().manual_seed(1)
    for task in ("deblur_motion", "inpaint_box", "deblur_motion"):
        op = make_operator(task, SHAPE, 1, g).to(dtype=torch.float64)
        y = op.measure(gmm.sample(1, g), 0.05, g)
        out = method.run(Problem(op, y.expand(8, *y.shape[1:]).clone(), 0.05), gmm, nfe=5, generator=g)
        assert out.x.shape == (8, *SHAPE) and torch.isfinite(out.x).all() and out.nfe == 5
    assert [task for _, _, task, _ in method._cache] == ["deblur_motion", "inpaint_box"]  # trained once per task


@pytest.mark.slow
def test_eps_trained_reaches_the_target_on_the_gmm_benchmark():
    """Acceptance target: mean sw / sw_floor <= 3 on every task at NFE 100 (seeds 0, 1, 2; 1x8x8, sigma_y 0.05)."""
    from eps.gmm_bench import run
    df = run([("eps_trained", [100])], ["inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion"],
             [0, 1, 2], (1, 8, 8), 0.05, 2000)
    ratio = df.groupby("task")["ratio"].mean()
    assert (ratio <= 3).all(), ratio
