"""Numerical specifications of the metric functions against independent references:
scikit-image (PSNR, SSIM), an O(n^2) numpy loop and the Gaussian closed form (MMD), the Gaussian
closed form of the CRPS (fair and nrg estimators, brute force, the scoringrules library), and the closed-form Fréchet distance between Gaussians."""
import math

import numpy as np
import pytest
import scoringrules
import torch
from scipy.linalg import sqrtm
from scipy.stats import norm
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from eps.metrics import crps_pixel, energy_score, frechet_distance, median_bandwidth, mmd_unbiased, psnr, ssim


def _images(seed, shape=(4, 3, 32, 32)):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(shape, generator=g) * 2 - 1
    y = (x + 0.2 * torch.randn(shape, generator=g)).clamp(-1, 1)
    return x, y


@pytest.mark.parametrize("channels", [1, 3])
def test_psnr_ssim_match_scikit_image(channels):
    x, y = _images(0, (3, channels, 32, 32))
    got_psnr, got_ssim = psnr(y, x), ssim(y, x)
    for i in range(x.shape[0]):
        a, b = ((x[i] + 1) / 2).permute(1, 2, 0).double().numpy(), ((y[i] + 1) / 2).permute(1, 2, 0).double().numpy()
        assert got_psnr[i].item() == pytest.approx(peak_signal_noise_ratio(a, b, data_range=1.0), abs=1e-3)
        ref = structural_similarity(a, b, data_range=1.0, channel_axis=2, gaussian_weights=True, sigma=1.5,
                                    use_sample_covariance=False)
        assert got_ssim[i].item() == pytest.approx(ref, abs=1e-4)


def _mmd_loop(x, y, h):
    k = lambda a, b: math.exp(-np.sum((a - b) ** 2) / (2 * h * h))  # noqa: E731
    m, n = len(x), len(y)
    kxx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    kyy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    kxy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return kxx + kyy - 2 * kxy


def test_mmd_matches_quadratic_loop_and_median_heuristic():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(17, 5, generator=g), torch.randn(23, 5, generator=g) + 0.3
    xn, yn = x.double().numpy(), y.double().numpy()
    assert mmd_unbiased(x, y, bandwidth=1.7) == pytest.approx(_mmd_loop(xn, yn, 1.7), rel=1e-10)
    z = np.concatenate([xn, yn])
    dists = [np.linalg.norm(z[i] - z[j]) for i in range(len(z)) for j in range(len(z)) if i != j]
    h = median_bandwidth(x, y)
    assert h == pytest.approx(float(np.median(dists)), rel=1e-10)
    assert mmd_unbiased(x, y) == pytest.approx(_mmd_loop(xn, yn, h), rel=1e-10)


def _gaussian_kernel_mean(m1, c1, m2, c2, h):
    """E k(X, Y), X ~ N(m1, c1), Y ~ N(m2, c2) independent, k = exp(-|x-y|^2 / (2 h^2)):
    det(I + (c1 + c2) / h^2)^(-1/2) exp(-1/2 d^T (c1 + c2 + h^2 I)^(-1) d), d = m1 - m2."""
    s = c1 + c2
    d = m1 - m2
    eye = np.eye(len(d))
    return np.linalg.det(eye + s / h**2) ** -0.5 * math.exp(-0.5 * d @ np.linalg.solve(s + h**2 * eye, d))


def test_mmd_matches_gaussian_closed_form():
    g = torch.Generator().manual_seed(2)
    d, n, h = 3, 3000, 2.0
    m1, m2 = np.zeros(d), np.array([0.5, -0.3, 0.2])
    c1, c2 = np.diag([1.0, 0.5, 2.0]), np.diag([0.7, 1.0, 1.5])
    x = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.tensor(np.sqrt(np.diag(c1))) + torch.tensor(m1)
    y = torch.randn(n, d, generator=g, dtype=torch.float64) * torch.tensor(np.sqrt(np.diag(c2))) + torch.tensor(m2)
    exact = (_gaussian_kernel_mean(m1, c1, m1, c1, h) + _gaussian_kernel_mean(m2, c2, m2, c2, h)
             - 2 * _gaussian_kernel_mean(m1, c1, m2, c2, h))
    assert exact > 0.01
    assert mmd_unbiased(x, y, bandwidth=h) == pytest.approx(exact, abs=0.003)


def test_mmd_is_unbiased_hence_can_be_negative():
    g = torch.Generator().manual_seed(3)
    values = [mmd_unbiased(torch.randn(20, 4, generator=g), torch.randn(20, 4, generator=g)) for _ in range(200)]
    assert min(values) < 0 < max(values)
    assert abs(np.mean(values)) < 3 * np.std(values) / np.sqrt(len(values))


def _gaussian_crps(mu, s, x):
    """CRPS(N(mu, s^2), x) = s [ z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi) ], z = (x - mu) / s."""
    z = (x - mu) / s
    return s * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))


def test_crps_matches_gaussian_closed_form():
    g = torch.Generator().manual_seed(4)
    n, k, s = 64, 400, 0.2
    mu = torch.rand(n, generator=g, dtype=torch.float64) * 0.6 - 0.3
    x = mu + s * torch.randn(n, generator=g, dtype=torch.float64) * 1.5
    samples = mu[:, None] + s * torch.randn(n, k, generator=g, dtype=torch.float64)
    exact = _gaussian_crps(mu.numpy(), s, x.numpy())
    # energy form on vectors with D = 1
    got = energy_score(samples[..., None], x[:, None])
    assert got.mean().item() == pytest.approx(exact.mean(), rel=0.01)
    # pixel form: each measurement one 1x1x1 image; [0, 255] units are 127.5 x the [-1, 1] units
    pix = crps_pixel(samples.view(n, k, 1, 1, 1), x.view(n, 1, 1, 1))
    torch.testing.assert_close(pix, 127.5 * got)


def test_fair_crps_is_unbiased_at_small_k_and_nrg_is_not():
    """K = 2 samples of N(0, 1) against x = 0: the fair estimator averages to CRPS = 1 - 1/sqrt(pi) (closed
    form above), the empirical-distribution (nrg) one to CRPS + E|X - X'| / (2K) = CRPS + 1/(K sqrt(pi)).
    Tolerance: 4 standard errors of the mean over n draws (the estimators' spread measured on the draws)."""
    g = torch.Generator().manual_seed(5)
    n, k = 40_000, 2
    samples = torch.randn(n, k, 1, generator=g, dtype=torch.float64)
    target = torch.zeros(n, 1, dtype=torch.float64)
    exact = float(_gaussian_crps(0.0, 1.0, 0.0))
    fair, nrg = energy_score(samples, target), energy_score(samples, target, estimator="nrg")
    tol = 4 * max(fair.std().item(), nrg.std().item()) / math.sqrt(n)
    assert fair.mean().item() == pytest.approx(exact, abs=tol)
    assert nrg.mean().item() == pytest.approx(exact + 1 / (k * math.sqrt(math.pi)), abs=tol)
    assert 1 / (k * math.sqrt(math.pi)) > 10 * tol  # the bias is resolved by the test


def _brute_force_crps(samples: np.ndarray, target: np.ndarray, fair: bool) -> np.ndarray:
    """Double loop over sample pairs: ``samples (N, K, D)``, ``target (N, D)`` -> ``(N,)`` (Euclidean norm)."""
    n, k, _ = samples.shape
    out = np.empty(n)
    for m in range(n):
        error = sum(np.linalg.norm(samples[m, i] - target[m]) for i in range(k)) / k
        spread = sum(np.linalg.norm(samples[m, i] - samples[m, j]) for i in range(k) for j in range(k) if i != j)
        out[m] = error - spread / (2 * k * (k - 1) if fair else 2 * k * k)
    return out


@pytest.mark.parametrize("k", range(2, 9))
def test_crps_estimators_match_brute_force_and_scoringrules(k):
    """Both estimators against a double loop (energy score, D = 5, and pixel form), and against the
    scoringrules library (``crps_ensemble`` / ``es_ensemble``, estimator ``fair`` / ``nrg``; a test dependency)."""
    g = torch.Generator().manual_seed(10 + k)
    x0 = torch.rand(3, 2, 3, 4, generator=g, dtype=torch.float64) * 2 - 1
    samples = x0[:, None] + 0.4 * torch.randn(3, k, 2, 3, 4, generator=g, dtype=torch.float64)
    features = torch.randn(6, k, 5, generator=g, dtype=torch.float64)
    target = torch.randn(6, 5, generator=g, dtype=torch.float64)
    per_pixel = (samples.flatten(2).transpose(1, 2).reshape(-1, k, 1), x0.reshape(-1, 1))
    for estimator in ("fair", "nrg"):
        fair = estimator == "fair"
        np.testing.assert_allclose(energy_score(features, target, estimator).numpy(),
                                   _brute_force_crps(features.numpy(), target.numpy(), fair), rtol=1e-12)
        pixel = _brute_force_crps(per_pixel[0].numpy(), per_pixel[1].numpy(), fair).reshape(3, -1).mean(1)
        np.testing.assert_allclose(crps_pixel(samples, x0, estimator).numpy(), 127.5 * pixel, rtol=1e-12)
    for estimator in ("fair", "nrg"):
        np.testing.assert_allclose(energy_score(features, target, estimator).numpy(),
                                   scoringrules.es_ensemble(target.numpy(), features.numpy(), estimator=estimator), rtol=1e-10)
        obs, fct = x0.flatten(1).numpy(), samples.flatten(2).transpose(1, 2).numpy()  # (N, P), (N, P, K)
        library = 127.5 * scoringrules.crps_ensemble(obs, fct, m_axis=-1, estimator=estimator).mean(1)
        np.testing.assert_allclose(crps_pixel(samples, x0, estimator).numpy(), library, rtol=1e-10)


def test_crps_pixel_equals_energy_score_per_pixel_and_nrg_is_mae_for_one_sample():
    x0, _ = _images(5, (3, 2, 4, 4))
    samples = x0[:, None] + 0.3 * torch.randn(3, 5, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    per_pixel = energy_score(samples.flatten(2).transpose(1, 2)[..., None], x0.flatten(1)[..., None])
    torch.testing.assert_close(crps_pixel(samples, x0), 127.5 * per_pixel.mean(-1))
    one = samples[:, :1]
    torch.testing.assert_close(crps_pixel(one, x0, "nrg"), 127.5 * (one[:, 0] - x0).abs().flatten(1).mean(1).double())
    with pytest.raises(ValueError, match="fair CRPS estimator needs K >= 2"):
        crps_pixel(one, x0)
    with pytest.raises(ValueError, match="unknown CRPS estimator 'pwm'"):
        energy_score(samples.flatten(2), x0.flatten(1), "pwm")


def test_frechet_distance_matches_gaussian_closed_form():
    g = torch.Generator().manual_seed(6)
    d, n = 4, 100_000
    a1 = torch.randn(d, d, generator=g, dtype=torch.float64) * 0.5
    a2 = torch.randn(d, d, generator=g, dtype=torch.float64) * 0.5
    m1, m2 = torch.zeros(d, dtype=torch.float64), torch.tensor([1.0, 0.0, -0.5, 0.2], dtype=torch.float64)
    c1, c2 = (a1 @ a1.T + 0.5 * torch.eye(d)).numpy(), (a2 @ a2.T + 0.5 * torch.eye(d)).numpy()
    f1 = m1 + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.tensor(np.linalg.cholesky(c1)).T
    f2 = m2 + torch.randn(n, d, generator=g, dtype=torch.float64) @ torch.tensor(np.linalg.cholesky(c2)).T
    exact = float((m1 - m2) @ (m1 - m2) + np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real))
    assert frechet_distance(f1, f2) == pytest.approx(exact, rel=0.03, abs=0.01)
    assert frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-6)


def test_bad_shapes_raise_one_clear_error():
    with pytest.raises(ValueError, match="mmd_unbiased"):
        mmd_unbiased(torch.zeros(1, 3), torch.zeros(5, 3))
    with pytest.raises(ValueError, match="frechet_distance"):
        frechet_distance(torch.zeros(5, 3), torch.zeros(5, 4))
