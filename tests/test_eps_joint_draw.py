"""L_EPS trains on the joint law of (pivot noise, measurement-image noise) that the sampler produces.

Given ``x0``, at sampling ``x~ = x0 + sigma eps`` and ``y = A x0 + sigma_y n`` share ``x0`` and the pivot is
``make_pivot(A, x~, y)``. In the SVD basis (``s_i`` singular values, ``D_i = sigma_y^2 + sigma^2 s_i^2``) the noise of
the pivot ``a_i = [V^T (mu_star - x0)]_i`` and of the measurement image ``b_i = [V^T (x_y - E[x_y | x0])]_i``
(``x_y = V s / (s^2 + sigma_y^2) U^T y``, eps.nn.conditioning) are jointly Gaussian with

    Var a_i = sigma^2 sigma_y^2 / D_i,    Var b_i = s_i^2 sigma_y^2 / (s_i^2 + sigma_y^2)^2,
    Cov(a_i, b_i) = sigma^2 s_i^2 sigma_y^2 / (D_i (s_i^2 + sigma_y^2)).

For N independent draws (each with its own operator instance and sigma), every product statistic
``q in {a^2, b^2, a b}`` has known mean ``m`` and variance ``v`` (bivariate normal: ``Var a^2 = 2 Var(a)^2``,
``Var ab = Var a Var b + Cov^2``), so ``T = sum (q - m) / sqrt(sum v)`` is standard normal up to the CLT. The test
asks ``|T| < 6`` for every direction and statistic (at most 3 * 5 * 64 = 960 of them: a false alarm has
probability < 1e-6). The old draw (``mu_star = x0 + Sigma_star^(1/2) xi``, fresh ``xi``) has ``Cov = 0``: on measured
directions with ``s_i ~ sigma_y`` it fails by 12-22 standard errors at N = 1000 (measured).
"""
import pytest
import torch

from eps.interpolants import EDM
from eps.nn.conditioning import measurement_image
from eps.operators import DEFAULTS, TASKS
from eps.posterior import eps_denoiser
from eps.training.objectives import sample_sigma, training_pivot

SHAPE, N, SIGMA_Y, Z_MAX = (1, 8, 8), 1000, 0.05, 6.0


def noise_coefficients(pivot, x0):
    """``(a, b, s)`` in the spectral layout of the pivot's operator."""
    op = pivot.operator
    x_y = measurement_image(op, pivot.y, pivot.sigma_y)
    a = op.V_T(pivot.mu_star - x0)
    b = op.V_T(x_y - op.spectral_apply(x0, lambda s: s**2 / (s**2 + pivot.sigma_y**2)))
    return a, b, op.s.expand_as(a)


def z_scores(a, b, s, sigma, sigma_y):
    """``T`` per direction for ``a^2, b^2, ab`` against the sampler's closed-form joint law."""
    sig2 = sigma.reshape(-1, 1, 1, 1) ** 2
    D = sigma_y**2 + sig2 * s**2
    var_a = sig2 * sigma_y**2 / D
    var_b = s**2 * sigma_y**2 / (s**2 + sigma_y**2) ** 2
    cov = sig2 * s**2 * sigma_y**2 / (D * (s**2 + sigma_y**2))
    stats = ((a * a, var_a, 2 * var_a**2), (b * b, var_b, 2 * var_b**2), (a * b, cov, var_a * var_b + cov**2))
    out = []
    for q, m, v in stats:
        total_v = v.sum(0)
        keep = total_v > 0  # b = 0 exactly on unmeasured directions
        out.append(((q - m).sum(0)[keep] / total_v[keep].sqrt()))
    return torch.cat(out)


def gaussian_x0(g):
    """``x0 ~ N(0, 0.25 I)`` (the noise law given x0 does not depend on the prior; any x0 tests the centring)."""
    return 0.5 * torch.randn(N, *SHAPE, generator=g, dtype=torch.float64)


@pytest.mark.parametrize("task", TASKS)
def test_training_pivot_has_the_sampler_joint_law(task):
    g = torch.Generator().manual_seed(TASKS.index(task))
    x0 = gaussian_x0(g)
    sigma = sample_sigma(N, g, torch.float64, wide=True)
    pivot = training_pivot(x0, sigma, g, SIGMA_Y, {task: DEFAULTS[task]})
    a, b, s = noise_coefficients(pivot, x0)
    z = z_scores(a, b, s, sigma, SIGMA_Y)
    assert z.abs().max() < Z_MAX, f"{task}: max |T| = {z.abs().max():.1f}"


@pytest.mark.parametrize("task", ["inpaint_random", "deblur_gauss"])
def test_the_closed_form_is_the_law_of_the_sampler_pivot(task):
    """The reference law above is what the sampler's own denoiser call sees (eps.posterior.eps_denoiser)."""
    from eps.operators import make_operator

    g = torch.Generator().manual_seed(7)
    x0 = gaussian_x0(g)
    op = make_operator(task, SHAPE, N, g).to(dtype=torch.float64)
    y = op.measure(x0, SIGMA_Y, g)
    sigma = torch.full((1,), 0.3, dtype=torch.float64)
    seen = []
    denoise = eps_denoiser(lambda pivot: seen.append(pivot) or pivot.mu_star, op, y, SIGMA_Y, EDM())
    denoise(x0 + sigma * torch.randn(x0.shape, generator=g, dtype=x0.dtype), sigma)
    a, b, s = noise_coefficients(seen[0], x0)
    assert z_scores(a, b, s, sigma.expand(N), SIGMA_Y).abs().max() < Z_MAX
