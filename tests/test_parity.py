"""Parity with the authors' released code: each fixture under ``tests/fixtures/parity/`` holds the numbers of one
run of a release (fetched outside this repository and driven on CPU in float64) on a tiny 1x8x8 problem:
the Gaussian-mixture prior whose exact denoiser stood in for the network (``gmm_1x8x8.npz``), the operator,
the measurement, the release's noise grid, every noise draw it made (mapped to pixel space where the release
draws in its spectral basis) and its output. Our implementation, fed the same draws, must reproduce the
output. Both runs are float64 and differ only in the order of operations (~1e-15 per operation through
~20-200 steps of contractive updates), so 1e-6 is a wide margin that still catches any change of a rule.

Which release, commit and file each fixture comes from is in the docstring of the baseline it tests.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from baselines._loop import time_grid
from baselines.mpgd import released_step_size
from eps.methods import Problem, get_method
from eps.operators.inpainting import RandomInpainting
from eps.operators.superres import SuperResolution
from eps.priors.gmm import GaussianMixture

FIXTURES = Path(__file__).parent / "fixtures" / "parity"
SHAPE = (1, 8, 8)
TOL = 1e-6


def load(name: str) -> dict[str, torch.Tensor]:
    with np.load(FIXTURES / f"{name}.npz") as f:
        return {k: torch.from_numpy(f[k]) for k in f.files}


@pytest.fixture(scope="module")
def gmm() -> GaussianMixture:
    p = load("gmm_1x8x8")
    return GaussianMixture(p["weights"], p["means"], p["covs"], SHAPE)


def problem_of(fx: dict) -> Problem:
    if "mask" in fx:
        op = RandomInpainting(SHAPE, fx["mask"])
    else:
        op = SuperResolution(SHAPE, fx["factor"])
    return Problem(op, fx["y"], float(fx["sigma_y"]))


def stream(*draws: torch.Tensor):
    """The recorded draws, in the order the release made them, as a ``noise()`` callable."""
    it = iter([z for block in draws for z in (block if block.dim() == 5 else block[None])])
    return lambda: next(it)


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_ddrm_matches_the_release(gmm, task):
    fx = load(f"ddrm_{task}")
    ddrm = get_method("ddrm", eta=float(fx["eta"]), eta_b=float(fx["eta_b"]))
    nfe = len(fx["sigmas"]) - 1
    assert torch.allclose(time_grid(ddrm.time_grid, nfe, 0, 0, 0), fx["sigmas"], rtol=1e-12)
    x = ddrm.sample(problem_of(fx), gmm, nfe, None, noise=stream(fx["noise_init"], fx["noise_steps"]))
    torch.testing.assert_close(x, fx["out"], atol=TOL, rtol=0)


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_mpgd_matches_the_release(gmm, task):
    fx = load(f"mpgd_{task}")
    mpgd = get_method("mpgd")
    nfe = len(fx["sigmas"]) - 1
    assert released_step_size(nfe) == float(fx["step_size"])
    assert torch.allclose(time_grid(mpgd.time_grid, nfe, 0, 0, 0), fx["sigmas"], rtol=1e-12)
    x = mpgd.sample(problem_of(fx), gmm, nfe, None, noise=stream(fx["noise"]))
    torch.testing.assert_close(x, fx["out"], atol=TOL, rtol=0)


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_daps_matches_the_july_2024_release(gmm, task):
    fx = load(f"daps_{task}")
    daps = get_method("daps", lr=float(fx["lr"]), langevin_steps=int(fx["langevin_steps"]))
    num_steps = len(fx["sigmas"]) - 1
    assert torch.allclose(time_grid(daps.time_grid, num_steps, daps.sigma_min, daps.sigma_max, daps.rho), fx["sigmas"],
                          rtol=1e-12)
    x = daps.sample(problem_of(fx), gmm, num_steps * int(fx["ode_steps"]), None, noise=stream(fx["noise"]))
    torch.testing.assert_close(x, fx["out"], atol=TOL, rtol=0)
