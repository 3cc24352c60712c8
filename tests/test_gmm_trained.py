"""eps_trained: spectral preconditioning passes measured directions, the net is trained once per prior."""
import pytest
import torch

from eps.methods import Problem, get_method
from eps.nn.gmm_trained import SpectralPrecond, spectral_condition
from eps.operators import make_operator
from eps.posterior import draw_pivot
from eps.priors import random_gmm

SHAPE = (1, 4, 4)


def test_measured_pixels_pass_through_at_sigma_y_zero():
    net = SpectralPrecond(SHAPE, width=16, depth=1)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_()
    g = torch.Generator().manual_seed(0)
    op = make_operator("inpaint_random", SHAPE, 3, g)
    x0 = torch.randn(3, *SHAPE, generator=g)
    pivot = draw_pivot(op, x0, op.A(x0), torch.tensor([2.0]), 0.0, g)
    with torch.no_grad():
        out = net(pivot.mu_star, pivot.sigma, spectral_condition(pivot))
    measured = op.mask.expand_as(x0) > 0
    torch.testing.assert_close(out[measured], x0[measured])  # Sigma_star = 0 there: D must return y exactly
    assert not torch.allclose(out[~measured], pivot.mu_star[~measured])


def test_eps_trained_runs_counts_and_caches_per_prior():
    gmm = random_gmm(SHAPE, num_components=2, rank=2, generator=torch.Generator().manual_seed(0))
    method = get_method("eps_trained", train_steps=20, train_batch=32, train_samples=500, width=32, depth=1)
    g = torch.Generator().manual_seed(1)
    for task in ("deblur_motion", "inpaint_box"):
        op = make_operator(task, SHAPE, 1, g).to(dtype=torch.float64)
        y = op.measure(gmm.sample(1, g), 0.05, g)
        out = method.run(Problem(op, y.expand(8, *y.shape[1:]).clone(), 0.05), gmm, nfe=5, generator=g)
        assert out.x.shape == (8, *SHAPE) and torch.isfinite(out.x).all() and out.nfe == 5
    assert len(method._cache) == 1  # trained once for this (prior, sigma_y)


@pytest.mark.slow
def test_eps_trained_reaches_the_target_on_the_gmm_benchmark():
    from eps.gmm_bench import run
    df = run([("eps_trained", [100])], ["inpaint_random", "sr4", "deblur_motion"], [0], (1, 8, 8), 0.05, 2000)
    assert (df["ratio"] <= 3).all(), df[["task", "ratio"]]
