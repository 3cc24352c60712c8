"""The task definitions against the EPS paper's App. B families, the released DPS/DAPS behaviour and brute-force
references."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.ndimage
import torch
import torch.nn.functional as F

from eps.operators import make_operator
from eps.operators.blur import reflect_correlation_matrix
from eps.operators.kernels import (gaussian_kernel, gaussian_kernel_1d, line_kernel, line_motion_kernels, line_support,
                                    motion_kernel, motion_path)
from eps.operators.superres import bicubic_matrix, keys_cubic
from eps.rng import generator

FIXTURE = Path(__file__).parent / "fixtures" / "dps_resizer_bicubic.json"
F32 = float(torch.finfo(torch.float32).eps)


def brute_force_bicubic(n: int, f: int) -> torch.Tensor:
    """Antialiased resizing written pixel by pixel: output ``o`` (0-based) is centred at ``f (o + 1/2 - d) - 1/2``
    (``d = (m - n / f) / 2`` keeps the centres symmetric), weights ``k((c - j) / f)`` over every integer ``j``,
    normalised, then ``j`` folded into ``[0, n)`` by half-sample reflection."""
    m = math.ceil(n / f)
    M = torch.zeros(m, n, dtype=torch.float64)
    for o in range(m):
        c = f * (o + 0.5 - (m - n / f) / 2) - 0.5
        js = range(math.floor(c - 2 * f) - 1, math.ceil(c + 2 * f) + 2)
        w = {j: float(keys_cubic(torch.tensor((c - j) / f, dtype=torch.float64))) for j in js}
        total = sum(w.values())
        for j, wj in w.items():
            while not 0 <= j < n:
                j = -1 - j if j < 0 else 2 * n - 1 - j
            M[o, j] += wj / total
    return M


def test_bicubic_matrix_matches_the_dps_resizer():
    fixture = json.loads(FIXTURE.read_text())
    for n, M in fixture["matrices"].items():
        ref = torch.tensor(M, dtype=torch.float64)  # float32 weights: rounding <= eps_32 relative
        assert torch.allclose(bicubic_matrix(int(n), fixture["factor"]), ref, rtol=0, atol=F32)
    x = torch.tensor(fixture["image"]["x"], dtype=torch.float64)
    y = torch.tensor(fixture["image"]["y"], dtype=torch.float64)
    op = make_operator("sr4", tuple(x.shape[1:]), filter="bicubic").to(dtype=torch.float64)
    # the resizer sums 18 float32 products per axis, twice: error <= 2 * 18 * eps_32 * max|x|
    assert torch.allclose(op.A(x), y, rtol=0, atol=36 * F32)


@pytest.mark.parametrize("n,f", [(8, 2), (10, 2), (8, 4), (13, 4), (16, 4), (64, 4)])
def test_bicubic_matrix_matches_brute_force_keys_kernel(n, f):
    M = bicubic_matrix(n, f)
    assert torch.allclose(M, brute_force_bicubic(n, f), rtol=0, atol=1e-13)
    assert torch.allclose(M.sum(dim=1), torch.ones(M.shape[0], dtype=torch.float64), atol=1e-14)


def test_torch_antialiased_bicubic_agrees_away_from_the_boundary():
    """torch's ``interpolate(mode='bicubic', antialias=True)`` uses the same stretched Keys kernel (a = -0.5)
    but truncates and renormalises it at the border instead of reflecting: equal rows inside, not at the edge."""
    n, f = 64, 4
    M = bicubic_matrix(n, f)
    T = F.interpolate(torch.eye(n, dtype=torch.float64)[:, None, None, :], size=(1, n // f), mode="bicubic",
                      antialias=True, align_corners=False)[:, 0, 0, :].T
    interior = slice(2, n // f - 2)  # rows whose support (4 f = 16 inputs around 4 o + 1.5) stays inside
    assert torch.allclose(M[interior], T[interior], atol=1e-12)
    assert (M[0] - T[0]).abs().max() > 1e-2 and (M[-1] - T[-1]).abs().max() > 1e-2


@pytest.mark.parametrize("size,std", [(9, 1.0), (15, 0.75), (5, 1.5), (61, 3.0)])
def test_gaussian_kernel_is_scipy_filter_of_a_delta(size, std):
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    ref = torch.from_numpy(scipy.ndimage.gaussian_filter(delta, sigma=std))  # DPS Blurkernel.weights_init
    g = gaussian_kernel_1d(size, std)
    assert torch.allclose(torch.outer(g, g), ref, atol=1e-15)
    assert torch.allclose(gaussian_kernel(size, std)[0].double(), ref, atol=F32)


@pytest.mark.parametrize("shape,size,std", [((3, 16, 16), 9, 1.0), ((2, 8, 12), 5, 1.5), ((1, 16, 16), 15, 2.0)])
def test_reflect_blur_matches_dps_padding_and_scipy_mirror(shape, size, std):
    op = make_operator("deblur_gauss", shape, kernel_size=size, std=std, boundary="reflect").to(dtype=torch.float64)
    x = torch.randn(2, *shape, generator=generator(0), dtype=torch.float64)
    k = torch.outer(gaussian_kernel_1d(size, std), gaussian_kernel_1d(size, std))
    # DPS: nn.ReflectionPad2d(k // 2) followed by a depthwise Conv2d (cross-correlation)
    padded = F.pad(x, (size // 2,) * 4, mode="reflect")
    dps = F.conv2d(padded, k.expand(shape[0], 1, size, size), groups=shape[0])
    assert torch.allclose(op.A(x), dps, atol=1e-13)
    mirror = np.stack([scipy.ndimage.convolve(c.numpy(), k.numpy(), mode="mirror") for c in x.reshape(-1, *shape[1:])])
    assert torch.allclose(op.A(x), torch.from_numpy(mirror).reshape(x.shape), atol=1e-13)
    half_sample = scipy.ndimage.convolve(x[0, 0].numpy(), k.numpy(), mode="reflect")  # the other reflection
    assert not np.allclose(op.A(x)[0, 0].numpy(), half_sample, atol=1e-6)


def test_reflect_matrix_for_kernels_wider_than_the_image():
    """Reflection continues periodically (period 2 (n - 1)), so every row still sums to one."""
    g = gaussian_kernel_1d(21, 3.0)
    B = reflect_correlation_matrix(g, 6)
    assert torch.allclose(B.sum(dim=1), torch.ones(6, dtype=torch.float64), atol=1e-14)
    one = torch.ones(1, dtype=torch.float64)
    assert torch.equal(reflect_correlation_matrix(one, 1), one[None])


@pytest.mark.parametrize("params", [{"reference_size": 16}, {"kernel": "motionblur", "kernel_size": 5}, {"std": 1.5}],
                         ids=["line", "motionblur-5", "gauss"])
def test_periodic_blur_is_circular_cross_correlation(params):
    shape = (3, 8, 12)
    task = "deblur_gauss" if "std" in params else "deblur_motion"
    op = make_operator(task, shape, 2, generator(3), **params).to(dtype=torch.float64)
    k = op.kernel.expand(2, *op.kernel.shape[1:])
    x = torch.randn(2, *shape, generator=generator(4), dtype=torch.float64)
    r = k.shape[-1] // 2
    ref = torch.stack([F.conv2d(F.pad(x[b : b + 1], (r,) * 4, mode="circular").transpose(0, 1), k[b][None, None])[:, 0]
                       for b in range(2)])
    assert torch.allclose(op.A(x), ref, atol=1e-12)


def test_random_box_stays_within_the_margin_and_is_reproducible():
    H = W = 16  # defaults: side round(0.5 * 16) = 8, margin round(0.0625 * 16) = 1
    masks = make_operator("inpaint_box", (3, H, W), 400, generator(5), position="random").mask
    again = make_operator("inpaint_box", (3, H, W), 400, generator(5), position="random").mask
    assert torch.equal(masks, again)
    tops, lefts = set(), set()
    for m in masks[:, 0]:
        rows, cols = torch.nonzero(m == 0, as_tuple=True)
        assert len(rows) == 8 * 8 and rows.max() - rows.min() == 7 and cols.max() - cols.min() == 7
        tops.add(int(rows.min()))
        lefts.add(int(cols.min()))
    # numpy's randint(m, H - m - h): {1, ..., 16 - 1 - 8 - 1}, every value reached in 400 draws
    assert tops == set(range(1, 7)) and lefts == set(range(1, 7))


def test_motion_kernels_have_the_library_semantics():
    k1 = motion_kernel(9, 0.5, 6, generator(0))
    k2 = motion_kernel(9, 0.5, 6, generator(0))
    k3 = motion_kernel(9, 0.5, 6, generator(1))
    assert k1.shape == (6, 9, 9) and torch.equal(k1, k2) and not torch.equal(k1, k3)
    assert (k1 >= 0).all() and torch.allclose(k1.sum(dim=(1, 2)), torch.ones(6), atol=1e-6)
    assert not torch.equal(k1[0], k1[1])  # each sample of a batch carries its own kernel

    def bend(path):  # smallest / largest singular value of the centred path: 0 for a straight line
        s = torch.linalg.svdvals(path - path.mean(dim=0))
        return float(s[-1] / s[0])

    g = generator(2)
    straight = [bend(motion_path(15, 0.0, g)) for _ in range(20)]
    shaken = [bend(motion_path(15, 1.0, g)) for _ in range(20)]
    assert max(straight) < 1e-12  # intensity 0: linear motion
    assert sum(shaken) / len(shaken) > 0.1  # intensity 1: curved, non-linear paths
    for path in (motion_path(15, 0.3, g) for _ in range(20)):  # centred on the canvas (centre of mass)
        assert torch.allclose(path.mean(dim=0), torch.full((2,), 15.0, dtype=torch.float64), atol=1e-9)


def test_configs_resolve_to_their_protocols_families_and_build_at_their_resolution():
    import yaml

    from eps.operators import DEFAULTS
    from eps.protocols import apply_protocol

    root = Path(__file__).parents[1] / "config"
    for name in ("default.yaml", "paper.yaml", "tiny.yaml"):
        config = apply_protocol(yaml.safe_load((root / name).read_text()))
        assert config["protocol"] == "eps_paper"
        for task, params in config["tasks"].items():
            assert params == DEFAULTS[task]  # the paper's families, no override
            assert make_operator(task, (3, 64, 64), 1, generator(0), **params).batch_size == 1
    paper = apply_protocol(yaml.safe_load((root / "paper.yaml").read_text()))
    box = make_operator("inpaint_box", (3, 64, 64), 1, generator(0), **paper["tasks"]["inpaint_box"]).mask
    assert box.sum() == 64 * 64 - 32 * 32 and box[0, 0, 16:48, 16:48].sum() == 0  # centred 32x32


def kernel_moments(k: torch.Tensor):
    """Mass, mean and covariance of a kernel as a density over (column, row-up) offsets from its centre."""
    r = k.shape[-1] // 2
    offsets = torch.arange(k.shape[-1], dtype=torch.float64) - r
    col, row_up = offsets[None, :].expand_as(k), -offsets[:, None].expand_as(k)
    p = torch.stack([col.reshape(-1), row_up.reshape(-1)])
    mass = k.sum()
    mean = (p * k.reshape(-1)).sum(1) / mass
    cov = (p[:, None, :] * p[None, :, :] * k.reshape(-1)).sum(-1) / mass - torch.outer(mean, mean)
    return mass, mean, cov


@pytest.mark.parametrize("length", [0.0, 1.75, 7.0, 11.0, 15.0])
@pytest.mark.parametrize("angle", [0.0, 30.0, 90.0, 137.5])
def test_line_kernel_sums_to_one_and_has_the_segment_moments(length, angle):
    """The kernel is the uniform density on the centred segment ``s u`` (n midpoint nodes), each node splatted
    bilinearly: mass 1, mean 0, covariance = the nodes' covariance L^2 (1 - 1/n^2)/12 u u^T plus each splat's
    own variance f (1 - f) per axis (f: the node's fractional offset), averaged over the nodes."""
    size = line_support(length)
    k = line_kernel(length, angle, size)
    mass, mean, cov = kernel_moments(k)
    n = max(1, math.ceil(64 * length))
    u = torch.tensor([math.cos(math.radians(angle)), math.sin(math.radians(angle))], dtype=torch.float64)
    nodes = (((torch.arange(n, dtype=torch.float64) + 0.5) / n - 0.5) * length)[:, None] * u  # (column, row-up)
    f = nodes - torch.floor(nodes)
    expected = length**2 * (1 - 1 / n**2) / 12 * torch.outer(u, u) + torch.diag((f * (1 - f)).mean(0))
    assert (k >= 0).all() and abs(float(mass) - 1) < 1e-13
    assert torch.allclose(mean, torch.zeros(2, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(cov, expected, atol=1e-10)
    assert torch.allclose(line_kernel(length, angle + 180.0, size), k, atol=1e-13)  # the same segment
    assert torch.allclose(k, k.flip(-2, -1), atol=1e-13)  # point-symmetric about the centre
    if angle in (0.0, 90.0) and length:  # axis-aligned: all mass on the centre row / column, spread L + 1 wide
        line = k[size // 2] if angle == 0.0 else k[:, size // 2]
        assert abs(float(line.sum()) - 1) < 1e-13 and int((line > 0).sum()) == 2 * math.ceil(length / 2) + 1


def test_line_kernel_needs_its_support():
    with pytest.raises(ValueError, match="a line of length 9 needs an odd kernel of at least 11 pixels, got 9"):
        line_kernel(9, 0.0, 9)


def test_line_motion_draws_lengths_and_angles_uniformly():
    """Length uniform on {7, ..., 15}, angle uniform on [0, 180): counts within 5 binomial standard deviations,
    the angles' Kolmogorov-Smirnov distance below 1.95 / sqrt(n) (the 0.1% critical value); each kernel is the
    line of its own draw."""
    n = 2000
    kernels, lengths, angles = line_motion_kernels([7, 9, 11, 13, 15], n, generator(11))
    assert kernels.shape == (n, 17, 17)
    counts = torch.stack([(lengths == v).sum() for v in (7.0, 9.0, 11.0, 13.0, 15.0)]).double()
    assert int(counts.sum()) == n and ((counts - n / 5).abs() < 5 * math.sqrt(n * 0.2 * 0.8)).all()
    a = angles.sort().values / 180.0
    grid = torch.arange(1, n + 1, dtype=torch.float64) / n
    assert (angles >= 0).all() and (angles < 180).all()
    assert max(float((grid - a).abs().max()), float((a - (grid - 1 / n)).abs().max())) < 1.95 / math.sqrt(n)
    for b in range(5):
        assert torch.equal(kernels[b], line_kernel(float(lengths[b]), float(angles[b]), 17).float())
    again = line_motion_kernels([7, 9, 11, 13, 15], 3, generator(11))
    assert torch.equal(again[0], kernels[:3]) and torch.equal(again[2], angles[:3])


@pytest.mark.parametrize("size", [64, 16, 8])
def test_motion_lengths_scale_with_the_image(size):
    """{7, ..., 15} px at 64 px, x size / 64 below (1.75..3.75 px at 16, 0.875..1.875 at 8)."""
    op = make_operator("deblur_motion", (1, size, size), 200, generator(12))
    kernels, lengths, _ = line_motion_kernels([7, 9, 11, 13, 15], 200, generator(12), size / 64)
    assert torch.equal(op.kernel, kernels)
    assert set(lengths.tolist()) == {v * size / 64 for v in (7, 9, 11, 13, 15)}


def test_training_rectangles_follow_app_b():
    """Heights and widths uniform on the integers of [H/4, H/2] (16..32 at 64 px), a margin of H/16 = 4 px kept on
    every edge, every side length and position reached; evaluation is the centred 32x32 square."""
    H = W = 64
    masks = make_operator("inpaint_box", (3, H, W), 3000, generator(13), split="train").mask
    heights, widths, tops, lefts, bottoms, rights = (set() for _ in range(6))
    for m in masks[:, 0]:
        rows, cols = torch.nonzero(m == 0, as_tuple=True)
        h, w = int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1
        assert len(rows) == h * w  # a filled rectangle
        heights.add(h), widths.add(w), tops.add(int(rows.min())), lefts.add(int(cols.min()))
        bottoms.add(H - 1 - int(rows.max())), rights.add(W - 1 - int(cols.max()))
    assert heights == set(range(16, 33)) and widths == set(range(16, 33))
    assert min(tops | lefts | bottoms | rights) == 4
    centred = make_operator("inpaint_box", (3, H, W), 2, generator(13)).mask
    assert torch.equal(centred[0], centred[1]) and centred[0, 0, 16:48, 16:48].sum() == 0
    assert centred.sum() == 2 * (H * W - 32 * 32)


def test_random_inpainting_training_density_options():
    """``train_missing`` 0.7 (ours, after App. B "default" and D.9) or a per-sample U(0.5, 0.7) density."""
    fixed = make_operator("inpaint_random", (1, 64, 64), 200, generator(14), split="train").mask
    assert abs(1 - float(fixed.mean()) - 0.7) < 5 * math.sqrt(0.21 / fixed.numel())
    ranged = make_operator("inpaint_random", (1, 64, 64), 200, generator(14), split="train",
                           train_missing=[0.5, 0.7]).mask
    density = 1 - ranged.mean(dim=(1, 2, 3))
    assert density.min() > 0.47 and density.max() < 0.73 and abs(float(density.mean()) - 0.6) < 0.02
    assert float(density.std()) > 0.04  # U(0.5, 0.7) has std 0.058; a fixed density would give 0.007
