"""Operator properties at float64, for every task on several shapes (incl. non-square and 1-channel)."""
import pytest
import torch

from eps.operators import TASKS, load_operator, make_operator, save_operator, task_params
from eps.operators.base import _per_sample
from eps.operators.blur import Blur
from eps.rng import generator

SHAPES = [(1, 8, 8), (3, 8, 12), (2, 16, 16)]
# Every task at its defaults (the released DPS/DAPS families) and every non-default option.
VARIANTS = [(task, {}) for task in TASKS] + [
    ("inpaint_box", {"position": "center"}), ("sr4", {"filter": "box"}), ("deblur_gauss", {"boundary": "periodic"})]
VARIANT_IDS = [f"{t}-{','.join(f'{k}={v}' for k, v in p.items()) or 'default'}" for t, p in VARIANTS]
CASES = [(task, params, shape) for task, params in VARIANTS for shape in SHAPES]
IDS = [f"{name}-{'x'.join(map(str, shape))}" for name in VARIANT_IDS for shape in SHAPES]


def build(task, shape, batch=2, seed=0, **params):
    return make_operator(task, shape, batch, generator(seed), **params).to(dtype=torch.float64)


def rand(shape, seed):
    return torch.randn(shape, generator=generator(seed), dtype=torch.float64)


@pytest.mark.parametrize("task,params,shape", CASES, ids=IDS)
def test_adjointness(task, params, shape):
    op = build(task, shape, **params)
    x, y = rand((2, *shape), 1), rand((2, *op.measurement_shape), 2)
    assert torch.allclose((op.A(x) * y).sum(), (x * op.A_T(y)).sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task,params,shape", CASES, ids=IDS)
def test_svd_reconstructs_A_and_bases_are_orthonormal(task, params, shape):
    op = build(task, shape, **params)
    x, y = rand((2, *shape), 3), rand((2, *op.measurement_shape), 4)
    A = op.dense("A", 1)
    assert torch.allclose(op.A(x)[1].reshape(-1), A @ x[1].reshape(-1), atol=1e-12)
    assert torch.allclose(op.U(op.s * op.V_T(x)), op.A(x), atol=1e-12)
    assert torch.allclose(op.V(op.V_T(x)), x, atol=1e-12)
    assert torch.allclose((op.V_T(x) ** 2).sum(), (x**2).sum(), rtol=1e-12)  # V orthogonal
    assert torch.allclose(op.U(op.U_T(y)), y, atol=1e-12)  # U orthogonal on the measurement space
    # singular values of the dense matrix equal the spectral ones
    s = op.s[1 if op.s.shape[0] > 1 else 0].expand(*shape).reshape(-1)
    dense_s = torch.linalg.svdvals(A)
    assert torch.allclose(s.sort(descending=True).values[: len(dense_s)], dense_s, atol=1e-10)


@pytest.mark.parametrize("task,params,shape", CASES, ids=IDS)
def test_spectral_function_matches_dense(task, params, shape):
    """``spectral_apply`` with f(s) = 1 / (a + b s^2) is the exact regularised solve ``(a I + b A^T A)^-1 v``."""
    op = build(task, shape, **params)
    v = rand((2, *shape), 5)
    a, b = torch.tensor([0.3, 2.0], dtype=torch.float64), torch.tensor([5.0, 0.1], dtype=torch.float64)
    got = op.spectral_apply(v, lambda s: 1.0 / (_per_sample(a, v) + _per_sample(b, v) * s**2))
    for i in range(2):
        A = op.dense("A", i)
        M = a[i] * torch.eye(A.shape[1], dtype=torch.float64) + b[i] * A.T @ A
        assert torch.allclose(got[i].reshape(-1), torch.linalg.solve(M, v[i].reshape(-1)), atol=1e-10)


@pytest.mark.parametrize("task,params,shape", CASES, ids=IDS)
def test_pseudo_inverse_matches_dense(task, params, shape):
    op = build(task, shape, **params)
    y = rand((2, *op.measurement_shape), 6)
    got = op.pinv(y)
    for i in range(2):
        A = op.dense("A", i)
        ref = torch.linalg.pinv(A, rtol=op.rcond) @ y[i].reshape(-1)
        assert torch.allclose(got[i].reshape(-1), ref, rtol=1e-5, atol=1e-5 * ref.abs().max())
        # Moore-Penrose identity A A^+ A = A, checked on a random image
        x = rand(shape, 7 + i).reshape(-1)
        AApA = A @ op[i : i + 1].pinv((A @ x).reshape(1, *op.measurement_shape)).reshape(-1)
        assert torch.allclose(AApA, A @ x, atol=10 * op.rcond)  # exact up to the singular values cut at rcond


@pytest.mark.parametrize("task,params", VARIANTS, ids=VARIANT_IDS)
def test_pixel_variance_is_the_diagonal(task, params):
    shape = (2, 8, 8)
    op = build(task, shape, **params)
    var = torch.rand(op.s.expand(2, *shape).shape, generator=generator(8), dtype=torch.float64)
    if isinstance(op, Blur):  # Fourier spectra are symmetric in frequency: symmetrise like |k_hat|^2 is
        var = op.V_T(op.V(var)) * 0 + op.s**2 + 0.1
    basis = torch.eye(128, dtype=torch.float64).reshape(128, *shape)
    op0 = op[0:1]
    Sigma = op0.V(var[0:1] * op0.V_T(basis)).reshape(128, 128)
    assert torch.allclose(op0.pixel_variance(var[0:1]).reshape(-1), torch.diagonal(Sigma), atol=1e-12)


@pytest.mark.parametrize("task,params", VARIANTS, ids=VARIANT_IDS)
def test_seeds_reproduce_and_save_load_roundtrip(task, params, tmp_path):
    a, b, c = (build(task, (3, 16, 16), 3, seed, **params) for seed in (1, 1, 2))
    for k in a.params():
        assert torch.equal(a.params()[k], b.params()[k])
    if task in ("inpaint_random", "deblur_motion") or (task, params) == ("inpaint_box", {}):
        assert any(not torch.equal(a.params()[k], c.params()[k]) for k in a.params())
    save_operator(a, tmp_path / "op.pt")
    loaded = load_operator(tmp_path / "op.pt")
    x = rand((3, 3, 16, 16), 9)
    assert type(loaded) is type(a) and torch.equal(loaded.A(x), a.A(x))


def test_default_fractions():
    rand_mask = make_operator("inpaint_random", (1, 64, 64), 4, generator(0)).mask
    assert abs(1 - rand_mask.mean().item() - 0.7) < 0.02
    box = make_operator("inpaint_box", (3, 64, 64), 1, position="center").mask
    assert box.sum().item() == 64 * 64 - 32 * 32 and box[0, 0, 32, 32] == 0


def test_bad_input_is_one_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown task 'sr8'.*inpaint_random"):
        make_operator("sr8", (3, 8, 8))
    with pytest.raises(ValueError, match="unknown parameter.*'sigma'"):
        task_params("deblur_gauss", sigma=2.0)
    with pytest.raises(ValueError, match="filter box.*not divisible"):
        make_operator("sr4", (3, 10, 10), filter="box")
    with pytest.raises(ValueError, match="sr4: filter must be one of bicubic, box, got 'lanczos'"):
        make_operator("sr4", (3, 8, 8), filter="lanczos")
    with pytest.raises(ValueError, match="deblur_gauss: boundary must be one of reflect, periodic"):
        task_params("deblur_gauss", boundary="zero")
    with pytest.raises(ValueError, match="no random position in a 8x8 image"):
        make_operator("inpaint_box", (3, 8, 8), box_fraction=0.75)
    with pytest.raises(ValueError, match=r"expected images of shape \(B, 3, 8, 8\)"):
        make_operator("sr4", (3, 8, 8)).A(torch.zeros(1, 1, 8, 8))
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="operator file .*bad.pt is corrupt or not a torch file"):
        load_operator(tmp_path / "bad.pt")
