"""Parity with the authors' released code.

Each fixture under ``tests/fixtures/`` holds numbers only: a tiny analytic Gaussian-mixture prior on 1x4x4
images (its weights, means and covariances), a measurement, the recorded stream of N(0, I) draws and the
output of the authors' own sampler run on CPU in float64 with that prior's exact denoiser as the network
(scratch drivers import the release unchanged; their randn calls read the recorded stream; see each test).
Our implementation fed the same draws must give the same samples. Tolerance: both sides are float64 with
O(1) values; round-off (~1e-16 per operation) grows at most by the ~1/sigma_min ~ 1e2 gain of a step over a
few steps, far below 1e-8.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from baselines._loop import released_timesteps
from eps.methods import Problem, get_method
from eps.operators.inpainting import RandomInpainting
from eps.operators.superres import SuperResolution
from eps.priors.gmm import GaussianMixture

FIXTURES = Path(__file__).parent / "fixtures"
SHAPE = (1, 4, 4)
ATOL = 1e-8


def fixture(name: str) -> dict[str, np.ndarray]:
    with np.load(FIXTURES / f"{name}_parity.npz") as f:
        return {k: f[k] for k in f.files}


def prior(f) -> GaussianMixture:
    return GaussianMixture(*(torch.from_numpy(f[k]) for k in ("gmm_weights", "gmm_means", "gmm_covs")), SHAPE)


def recorded(draws: np.ndarray):
    """The recorded draws, one per call, in the order the release made them."""
    stream = iter(torch.from_numpy(draws))
    return lambda: next(stream)


def operator(f, case: str):
    if case.startswith("inpaint"):
        return RandomInpainting(SHAPE, torch.from_numpy(f["mask"]))
    return SuperResolution(SHAPE, torch.tensor([float(f["sr_factor"])], dtype=torch.float64))


def run(method, f, case: str, steps: int) -> torch.Tensor:
    problem = Problem(operator(f, case), torch.from_numpy(f[f"{case}_y"]), float(f[f"{case}_sigma_y"]))
    return method.sample(problem, prior(f), steps, None, noise=recorded(f[f"{case}_noise"]))


@pytest.mark.parametrize("case", ["inpaint_noisy", "inpaint_clean", "sr_noisy"])
def test_ddnm_matches_the_release(case):
    """wyhuai/DDNM @ 00b58ea, functions/svd_ddnm.py ``ddnm_plus_diffusion`` (``ddnm_diffusion`` at sigma_y = 0)
    with svd_operators.py ``Inpainting`` / ``SuperResolution`` (2x average pooling, s = 1/2), T_sampling = 10."""
    f = fixture("ddnm")
    steps = int(f["steps"])
    assert released_timesteps("ddim", steps) == f[f"{case}_timesteps"].tolist()
    x = run(get_method("ddnm", eta=float(f[f"{case}_eta"])), f, case, steps)
    torch.testing.assert_close(x, torch.from_numpy(f[f"{case}_x"]), rtol=0, atol=ATOL)


@pytest.mark.parametrize("case", ["inpaint_noisy", "sr_noisy"])
def test_dps_matches_the_release(case):
    """DPS2022/diffusion-posterior-sampling @ effbde7: ``create_sampler(sampler='ddpm', clip_denoised=True,
    timestep_respacing='10', model_var_type='fixed_small')``, ``p_sample_loop`` with the 'ps' conditioning
    (``scale`` 0.5 inpainting, 0.3 super-resolution), one image per run as in the release; its
    ``operator.forward`` is our ``A`` (inpainting: ``data * mask`` as its InpaintingOperator)."""
    f = fixture("dps")
    steps = int(f["steps"])
    assert released_timesteps("ddpm", steps) == f[f"{case}_timesteps"].tolist()
    x = run(get_method("dps", zeta=float(f[f"{case}_zeta"])), f, case, steps)
    torch.testing.assert_close(x, torch.from_numpy(f[f"{case}_x"]), rtol=0, atol=ATOL)


@pytest.mark.parametrize("case", ["inpaint_clean", "inpaint_noisy", "sr_noisy"])
def test_pigdm_matches_the_release(case):
    """NVlabs/RED-diff @ 66482f2, algos/pgdm.py ``PGDM.sample`` (awd=True, eta=1, grad_term_weight=1) with
    utils/degredations.py ``Inpainting`` / ``SuperResolution`` (2x average pooling) and ``get_timesteps`` for
    10 steps; its ``Diffusion.alpha`` kept in float64. The release guides with ``A^+`` at any sigma_y: our
    default (paper eq. 8) equals it at sigma_y = 0, ``noise_aware=False`` at sigma_y > 0."""
    f = fixture("pigdm")
    steps = int(f["steps"])
    assert released_timesteps("ddim", steps) == f[f"{case}_timesteps"].tolist()
    x = run(get_method("pigdm", eta=float(f["eta"]), noise_aware=case == "inpaint_clean"), f, case, steps)
    torch.testing.assert_close(x, torch.from_numpy(f[f"{case}_x"]), rtol=0, atol=ATOL)


def test_pigdm_noise_aware_guidance_differs_only_for_noisy_measurements():
    """At sigma_y > 0 the paper's (r^2 A A^T + sigma_y^2 I)^(-1) weighs the measurement less than A^+."""
    f = fixture("pigdm")
    steps = int(f["steps"])
    clean = [run(get_method("pigdm", noise_aware=flag), f, "inpaint_clean", steps) for flag in (True, False)]
    noisy = [run(get_method("pigdm", noise_aware=flag), f, "inpaint_noisy", steps) for flag in (True, False)]
    torch.testing.assert_close(clean[0], clean[1], rtol=0, atol=ATOL)
    assert (noisy[0] - noisy[1]).abs().max() > 1e-3
