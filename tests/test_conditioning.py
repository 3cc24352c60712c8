"""The EPS network can know Sigma_star: it is a function of its inputs (sigma and the conditioning) for every task.

``Sigma_star = sigma^2 (I - Gamma)`` (eps.nn.conditioning). Each test rebuilds the dense ``Sigma_star`` of every sample
from the conditioning channels ``[x_y, c, r]`` alone, by the rule the conditioning's docstring states for the task's
structure, and compares it with the true one (float64; the only error is round-off, ~1e-15 relative, tolerance 1e-9).
"""
import math

import pytest
import torch

from types import SimpleNamespace

from eps.nn.conditioning import R_MIN, conditioning_of, eps_condition, observation_image, palette_condition
from eps.operators import TASKS, make_operator
from eps.posterior import make_pivot, sigma_star_spectrum

SHAPE, B, SIGMA_Y = (3, 8, 8), 3, 0.05
SIGMAS = (0.02, 0.3, 5.0)  # diag(Sigma_star) / sigma^2 stays above R_MIN here (c is not clipped)
RANDOM_STRUCTURE = {"inpaint_random": "diagonal", "inpaint_box": "diagonal", "deblur_motion": "circulant"}


def dense_sigma_star(op, sigma):
    """``V diag(var) V^T`` for a batch-1 operator, ``(d, d)``."""
    d = math.prod(SHAPE)
    basis = torch.eye(d, dtype=torch.float64).reshape(d, *SHAPE)
    var = sigma_star_spectrum(op, torch.tensor([sigma], dtype=torch.float64), SIGMA_Y)
    return op.V(var * op.V_T(basis)).reshape(d, d).T


def split(cond):
    C = SHAPE[0]
    return cond[:, C:2 * C], cond[:, 2 * C:]  # c, r


def from_diagonal(c, sigma):
    """Gamma diagonal: ``diag(Sigma_star) = sigma^2 R_MIN^c``."""
    return torch.diag((sigma**2 * R_MIN**c).flatten())


def from_circulant(r, sigma):
    """Gamma circulant per channel: column ``(ch, p, q)`` is ``r[ch]`` rolled from the centre to ``(p, q)``."""
    C, H, W = SHAPE
    d = C * H * W
    gamma = torch.zeros(d, C, H, W, dtype=r.dtype)
    for ch in range(C):
        for p in range(H):
            for q in range(W):
                gamma[(ch * H + p) * W + q, ch] = torch.roll(r[ch], (p - H // 2, q - W // 2), dims=(0, 1))
    return sigma**2 * (torch.eye(d, dtype=r.dtype) - gamma.reshape(d, d).T)


def conditioned(task, sigma, seed, batch=B):
    g = torch.Generator().manual_seed(seed)
    op = make_operator(task, SHAPE, batch, g).to(dtype=torch.float64)
    x0 = torch.rand(batch, *SHAPE, generator=g, dtype=torch.float64) * 2 - 1
    y = op.measure(x0, SIGMA_Y, g)
    x_tilde = x0 + sigma * torch.randn(x0.shape, generator=g, dtype=torch.float64)
    pivot = make_pivot(op, x_tilde, y, torch.tensor([sigma], dtype=torch.float64), SIGMA_Y)
    return op, eps_condition(pivot, "operator")


def is_fixed(task):
    """No random parameter: two draws with different generators give the same operator."""
    a, b = (make_operator(task, SHAPE, 1, torch.Generator().manual_seed(s)).params() for s in (1, 2))
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("task", TASKS)
def test_sigma_star_is_recoverable_from_the_conditioning(task):
    fixed = [t for t in TASKS if is_fixed(t)]
    assert task in fixed or task in RANDOM_STRUCTURE, f"{task} has random parameters and no stated recovery rule"
    for sigma in SIGMAS:
        op, cond = conditioned(task, sigma, seed=TASKS.index(task))
        c, r = split(cond)
        for b in range(B):
            truth = dense_sigma_star(op[b:b + 1], sigma)
            if task in fixed:  # Sigma_star depends on (task, sigma) only; r identifies the task
                matches = [t for t in fixed if torch.allclose(split(conditioned(t, sigma, seed=99, batch=1)[1])[1][0],
                                                              r[b], rtol=0, atol=1e-12)]
                assert matches == [task]
                rebuilt = dense_sigma_star(make_operator(task, SHAPE, 1).to(dtype=torch.float64), sigma)
            elif RANDOM_STRUCTURE[task] == "diagonal":
                rebuilt = from_diagonal(c[b], sigma)
            else:
                rebuilt = from_circulant(r[b], sigma)
            scale = truth.abs().max()
            assert (rebuilt - truth).abs().max() <= 1e-9 * scale, (task, sigma, b)


def test_pixel_conditioning_cannot_tell_motion_kernels_apart():
    """The old ``[x_y, c]`` certainty map is constant for any circulant blur: two kernels with different
    Sigma_star give the same c, so no network reading it can know which frequencies were measured."""
    op, cond = conditioned("deblur_motion", 0.3, seed=0, batch=2)
    c, r = split(cond)
    assert torch.allclose(c[0], c[0].flatten()[0].expand_as(c[0]), atol=1e-12)
    assert not torch.allclose(dense_sigma_star(op[0:1], 0.3), dense_sigma_star(op[1:2], 0.3), atol=1e-6)
    assert not torch.allclose(r[0], r[1], atol=1e-6)


def test_conditioning_is_saved_or_named_by_the_channel_count():
    """New files save their conditioning; older ones (no saved field) are read by their channel count."""
    old = lambda cond: SimpleNamespace(conditioning="", in_channels=3, cond_channels=cond)  # noqa: E731
    assert conditioning_of(old(9)) == "operator" and conditioning_of(old(6)) == "pixel"
    assert conditioning_of(old(3)) == "degraded"  # the only 3-channel conditioning of older files (Palette)
    assert conditioning_of(SimpleNamespace(conditioning="observation", in_channels=3, cond_channels=3)) == "observation"
    with pytest.raises(ValueError, match="7 conditioning channels"):
        conditioning_of(old(7))
    with pytest.raises(ValueError, match="unknown EPS conditioning"):
        eps_condition(None, "spectral")
    with pytest.raises(ValueError, match="unknown Palette conditioning"):
        palette_condition(None, None, "operator")


@pytest.mark.parametrize("task", TASKS)
def test_observation_image_is_the_papers(task):
    """App. B: masked y (inpainting), nearest-upsampled y (SR), the blurred y (deblurring), at the image size;
    against brute force: the mask applied by hand, each low-resolution pixel repeated over its f x f block."""
    g = torch.Generator().manual_seed(1)
    op = make_operator(task, SHAPE, B, g).to(dtype=torch.float64)
    y = op.measure(torch.rand(B, *SHAPE, generator=g, dtype=torch.float64) * 2 - 1, SIGMA_Y, g)
    obs = observation_image(op, y)
    assert obs.shape == (B, *SHAPE)
    if task.startswith("inpaint"):
        expected = y * op.mask
    elif task == "sr4":
        f = SHAPE[1] // y.shape[-1]
        expected = y.repeat_interleave(f, dim=2).repeat_interleave(f, dim=3)
    else:
        expected = y
    assert torch.equal(obs, expected)
    x_tilde = torch.randn(B, *SHAPE, generator=g, dtype=torch.float64)
    pivot = make_pivot(op, x_tilde, y, torch.tensor([0.3], dtype=torch.float64), SIGMA_Y)
    assert torch.equal(eps_condition(pivot, "observation"), expected)  # EPS and Palette see the same image
    assert torch.equal(palette_condition(op, y, "observation"), expected)
