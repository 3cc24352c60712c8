"""Anisotropic EPS preconditioning (eps.nn.anisotropic) against dense float64 linear algebra, for every task.

Sigma_star is built densely from the operator matrix, ``(I / sigma^2 + A^T A / sigma_y^2)^(-1)``, independently of
the SVD the module uses; the only error is round-off of a few O(d) products (d = 48), so 1e-9 relative is ample.
"""
import math

import pytest
import torch

from eps.nn import NetworkPrior, build_network, load_network, save_network
from eps.nn.anisotropic import anisotropic_denoised, anisotropic_target, direction_coefficients
from eps.nn.precond import edm_coefficients
from eps.operators import TASKS, make_operator
from eps.posterior import make_pivot
from eps.training import TrainConfig, train
from eps.training.objectives import edm_weight

SHAPE, SD = (3, 4, 4), 0.5
D = math.prod(SHAPE)
TOL = 1e-9


def pivot_of(task, sigma, sigma_y, seed=0):
    g = torch.Generator().manual_seed(seed)
    op = make_operator(task, SHAPE, 1, g).to(dtype=torch.float64)
    x0 = torch.rand(1, *SHAPE, generator=g, dtype=torch.float64) * 2 - 1
    y = op.measure(x0, sigma_y, g)
    x_tilde = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    return op, x0, make_pivot(op, x_tilde, y, torch.tensor([sigma], dtype=torch.float64), sigma_y)


def dense_functions(op, sigma, sigma_y):
    """``Sigma_star``, ``C_skip = sd^2 (Sigma + sd^2)^-1`` and ``C_out = sd Sigma^(1/2) (Sigma + sd^2)^(-1/2)``, dense."""
    A = op.dense("A")
    sigma_star = torch.linalg.inv(torch.eye(D, dtype=torch.float64) / sigma**2 + A.T @ A / sigma_y**2)
    evals, evecs = torch.linalg.eigh(sigma_star)
    evals = evals.clamp_min(0)
    f = lambda v: evecs @ torch.diag(v) @ evecs.T  # noqa: E731
    return sigma_star, f(SD**2 / (evals + SD**2)), f(SD * evals.sqrt() / (evals + SD**2).sqrt())


def flat(x):
    return x.reshape(-1)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("sigma", [0.05, 1.0, 40.0])
def test_zero_network_is_the_exact_gaussian_posterior_mean(task, sigma):
    """``F = 0`` (``D_iso = c_skip mu``) gives ``E[x0 | mu_star] = sd^2 (Sigma_star + sd^2 I)^-1 mu_star`` for
    ``x0 ~ N(0, sd^2 I)``: the Gaussian the preconditioning is built on, now exact under the anisotropic noise."""
    op, _, pivot = pivot_of(task, sigma, 0.05)
    c_skip = edm_coefficients(torch.tensor(sigma, dtype=torch.float64))[0]
    got = anisotropic_denoised(pivot, c_skip * pivot.mu_star)
    sigma_star, _, _ = dense_functions(op, sigma, 0.05)
    want = SD**2 * torch.linalg.solve(sigma_star + SD**2 * torch.eye(D, dtype=torch.float64), flat(pivot.mu_star))
    assert torch.allclose(flat(got), want, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("sigma", [0.05, 1.0, 40.0])
def test_edm_loss_on_the_target_is_the_per_direction_loss(task, sigma):
    """``w(sigma) ||D_iso - x0_iso||^2 = ||C_out^-1 (D - x0)||^2`` for any network output ``D_iso``, and ``D`` is
    ``C_skip mu + C_out (D_iso - c_skip mu) / c_out`` (dense)."""
    op, x0, pivot = pivot_of(task, sigma, 0.05)
    D_iso = torch.randn(x0.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    D = anisotropic_denoised(pivot, D_iso)
    sig = torch.tensor(sigma, dtype=torch.float64)
    c_skip, c_out = edm_coefficients(sig)[:2]
    _, C_skip, C_out = dense_functions(op, sigma, 0.05)
    want_D = C_skip @ flat(pivot.mu_star) + C_out @ flat((D_iso - c_skip * pivot.mu_star) / c_out)
    assert torch.allclose(flat(D), want_D, rtol=TOL, atol=TOL)
    lhs = edm_weight(sig) * ((D_iso - anisotropic_target(pivot, x0)) ** 2).sum()
    rhs = (torch.linalg.solve(C_out, flat(D - x0)) ** 2).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-7)  # C_out's smallest eigenvalue ~ sigma_y: solve loses ~1e-2 of 1e-9


@pytest.mark.parametrize("task", ["inpaint_random", "inpaint_box"])
def test_unmeasured_pixels_keep_the_isotropic_denoiser(task):
    """Where ``y`` measures nothing (``var = sigma^2``) the coefficients are EDM's scalars: ``D = D_iso`` there, so a
    fine-tune starts at the pretrained denoiser in every unmeasured direction."""
    op, x0, pivot = pivot_of(task, 3.0, 0.05)
    D_iso = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    missing = op.mask.expand_as(x0) == 0
    assert missing.any()
    assert torch.allclose(anisotropic_denoised(pivot, D_iso)[missing], D_iso[missing], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task", TASKS)
def test_exact_measurements_pass_through(task):
    """``sigma_y = 0``: measured directions have ``C_out = 0``: ``D`` keeps ``mu_star`` there whatever the network
    says, and the target stays finite (its component there is the isotropic ``c_skip mu``)."""
    op, x0, pivot = pivot_of(task, 2.0, 0.0)
    C_skip, C_out = direction_coefficients(pivot.var)
    assert (C_out == 0).any() and torch.equal(C_skip[C_out == 0], torch.ones_like(C_skip[C_out == 0]))
    target = anisotropic_target(pivot, x0)
    assert torch.isfinite(target).all()  # the guard: no 0/0 where C_out = 0
    # Closed form, dense: at sigma_y = 0, Sigma_star = sigma^2 (I - P) with P = A^+ A the projector onto the measured
    # row space, so unmeasured directions have EDM's scalars (C_skip = c_skip, C_out = c_out) and their target
    # component is c_skip mu + c_out (x0 - c_skip mu) / c_out = x0; measured ones keep c_skip mu. Hence
    # x0_iso = P c_skip mu + (I - P) x0. Round-off: pinv's error ~ u cond(A) (u = 1.1e-16, the smallest nonzero
    # singular value here is 0.0155 for deblur_gauss: ~1e-14), summed over d = 48 terms: ~1e-12, so TOL = 1e-9.
    A = op.dense("A")
    P = torch.linalg.pinv(A) @ A
    c_skip = edm_coefficients(torch.tensor(2.0, dtype=torch.float64))[0]
    want = P @ flat(c_skip * pivot.mu_star) + flat(x0) - P @ flat(x0)
    assert torch.allclose(flat(target), want, rtol=TOL, atol=TOL)
    a = anisotropic_denoised(pivot, torch.zeros_like(x0))
    b = anisotropic_denoised(pivot, torch.ones_like(x0))
    measured = op.V_T(a - b)[(C_out == 0).expand_as(op.V_T(a))]
    assert measured.abs().max() < 1e-12


def test_anisotropic_network_is_saved_and_read_as_trained(tmp_path):
    """The preconditioning is part of the network's config: a saved anisotropic EPS network is read anisotropically
    by :class:`NetworkPrior`; an unknown one, or one for a prior, is refused."""
    tiny = dict(img_resolution=4, in_channels=3, out_channels=3, model_channels=8, channel_mult=[1],
                attn_resolutions=[])
    prior = build_network(tiny)
    eps_net = build_network({**tiny, "cond_channels": 9, "precond": "anisotropic"})
    with torch.no_grad():
        for p in eps_net.parameters():
            p.normal_(0, 0.1)
    save_network(eps_net, tmp_path / "eps.pt")
    loaded = load_network(tmp_path / "eps.pt")
    assert loaded.model.config.precond == "anisotropic"
    _, _, pivot = pivot_of("sr4", 2.0, 0.05)
    pivot.mu_star = pivot.mu_star.float()
    net_prior = NetworkPrior(prior, loaded)
    D_iso = loaded(pivot.mu_star, pivot.sigma, net_prior.condition(pivot))
    assert torch.allclose(net_prior.denoise_pivot(pivot), anisotropic_denoised(pivot, D_iso), atol=1e-6)
    with pytest.raises(ValueError, match="unknown EPS preconditioning 'diagonal'"):
        build_network({**tiny, "precond": "diagonal"})
    with pytest.raises(ValueError, match="for EPS networks"):
        TrainConfig(kind="prior", precond="anisotropic")


def test_anisotropic_fine_tune_trains_on_its_target(tmp_path):
    """``eps train --precond anisotropic`` runs the shared loop and writes an anisotropic network, fine-tuned from
    an EDM prior (whose own config stays ``edm``)."""
    images = torch.rand(16, 1, 8, 8) * 2 - 1
    net = dict(model_channels=8, channel_mult=[1, 2], attn_resolutions=[])
    train(TrainConfig(kind="prior", steps=2, batch=4, net=net), tmp_path / "prior.pt", images)
    state = train(TrainConfig(kind="eps", steps=3, batch=4, init=str(tmp_path / "prior.pt"), tasks=["sr4"],
                              precond="anisotropic"), tmp_path / "eps.pt", images)
    assert state.step == 3 and state.net.model.config.precond == "anisotropic"
    assert load_network(tmp_path / "prior.pt").model.config.precond == "edm"
    assert load_network(tmp_path / "eps.pt").model.config.precond == "anisotropic"
