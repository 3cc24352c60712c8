"""Parity with the authors' released code, one layout for every release.

Each fixture under ``tests/fixtures/parity/`` holds the numbers of one run of a release (fetched outside this
repository and driven on CPU in float64) on a tiny problem -- the Gaussian-mixture prior whose exact denoiser stood
in for the network, the operator, the measurement, the release's time grid, every N(0, I) draw it made (mapped to
pixel space where the release draws in its spectral basis) and its output -- and ``meta_*`` entries naming the
release, commit, file, the command that regenerates it and the date. The drivers are ours, in
``tests/fixtures/drivers/`` (run by hand, never in CI). Run on 2026-12-07 on snapshots of the releases: k-diffusion's
reproduces its fixture bit for bit, DDRM's wrote the committed ddrm fixtures, DDNM's reproduces its inpainting cases
(not yet its sr case); the DPS, PiGDM, MPGD and DAPS drivers are written from the releases' entry points and not yet
run (their fixtures are the original 2026-11-29 recordings). Our implementation, fed the same draws, must reproduce the
output within the method's tolerance below. The backbone solvers are checked against k-diffusion live where it
imports, else against its recorded fixture (``tests/test_solvers.py``).

Tolerances (max absolute error, outputs O(1)): both sides compute in float64 and differ in the order of operations
only. Measured on 2026-12-07: ddrm 1.7e-15, ddnm 3.6e-15, dps 9.7e-15, pigdm 8.9e-16, daps 8.9e-16 (10-20 steps),
mpgd 1.3e-8 (a float32 quantity on the release's path, not traced further). Each tolerance is 100x its method's
measured error rounded up to a power of ten: far above run-to-run and machine rounding, far below what any change
of an update rule moves (>= 1e-3, e.g. PiGDM's noise-aware guidance below).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from baselines._loop import released_timesteps, time_grid
from baselines.mpgd import released_step_size
from eps.methods import Problem, get_method
from eps.operators.inpainting import RandomInpainting
from eps.operators.superres import SuperResolution
from eps.priors.gmm import GaussianMixture

FIXTURES = Path(__file__).parent / "fixtures"
PARITY = FIXTURES / "parity"
TOLERANCE = {"ddrm": 1e-12, "ddnm": 1e-12, "dps": 1e-12, "pigdm": 1e-12, "daps": 1e-12, "mpgd": 1e-6}
META = ("release", "commit", "file", "command", "date")


def load(name: str) -> dict[str, torch.Tensor]:
    with np.load(PARITY / f"{name}.npz") as f:
        return {k: torch.from_numpy(f[k]) for k in f.files if not k.startswith("meta_")}


def close(x: torch.Tensor, expected: torch.Tensor, method: str) -> None:
    torch.testing.assert_close(x, expected, atol=TOLERANCE[method], rtol=0)


def stream(*draws: torch.Tensor):
    """The recorded draws, in the order the release made them, as a ``noise()`` callable."""
    it = iter([z for block in draws for z in (block if block.dim() == 5 else block[None])])
    return lambda: next(it)


@pytest.mark.parametrize("path", sorted(PARITY.glob("*.npz")), ids=lambda p: p.stem)
def test_every_fixture_names_its_release_commit_file_command_and_date(path):
    with np.load(path) as f:
        meta = {k.removeprefix("meta_"): str(f[k]) for k in f.files if k.startswith("meta_")}
    assert set(META) <= set(meta), f"{path.name} lacks {sorted(set(META) - set(meta))}"
    if path.stem != "gmm_1x8x8":  # the shared problem, from no release
        assert meta["release"].startswith("github.com/") and len(meta["commit"]) >= 7
        assert (FIXTURES.parent.parent / meta["driver"]).is_file(), meta["driver"]


# --- the 1x8x8 problems: DDRM, MPGD, DAPS ---------------------------------------------------------------------

SHAPE_8 = (1, 8, 8)


@pytest.fixture(scope="module")
def gmm8() -> GaussianMixture:
    p = load("gmm_1x8x8")
    return GaussianMixture(p["weights"], p["means"], p["covs"], SHAPE_8)


def problem_8(fx: dict) -> Problem:
    op = RandomInpainting(SHAPE_8, fx["mask"]) if "mask" in fx else SuperResolution(SHAPE_8, fx["factor"])
    return Problem(op, fx["y"], float(fx["sigma_y"]))


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_ddrm_matches_the_release(gmm8, task):
    fx = load(f"ddrm_{task}")
    ddrm = get_method("ddrm", eta=float(fx["eta"]), eta_b=float(fx["eta_b"]))
    nfe = len(fx["sigmas"]) - 1
    assert torch.allclose(time_grid(ddrm.time_grid, nfe, 0, 0, 0), fx["sigmas"], rtol=1e-12)
    x = ddrm.sample(problem_8(fx), gmm8, nfe, None, noise=stream(fx["noise_init"], fx["noise_steps"]))
    close(x, fx["out"], "ddrm")


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_mpgd_matches_the_release(gmm8, task):
    fx = load(f"mpgd_{task}")
    mpgd = get_method("mpgd", step_size=float(fx["step_size"]))  # the released per-NFE step size, stated explicitly
    nfe = len(fx["sigmas"]) - 1
    assert released_step_size(nfe) == float(fx["step_size"])
    assert torch.allclose(time_grid(mpgd.time_grid, nfe, 0, 0, 0), fx["sigmas"], rtol=1e-12)
    x = mpgd.sample(problem_8(fx), gmm8, nfe, None, noise=stream(fx["noise"]))
    close(x, fx["out"], "mpgd")


@pytest.mark.parametrize("task", ["inpaint_random", "sr4"])
def test_daps_matches_the_july_2024_release(gmm8, task):
    fx = load(f"daps_{task}")
    daps = get_method("daps", lr=float(fx["lr"]), langevin_steps=int(fx["langevin_steps"]))
    num_steps = len(fx["sigmas"]) - 1
    assert torch.allclose(time_grid(daps.time_grid, num_steps, daps.sigma_min, daps.sigma_max, daps.rho), fx["sigmas"],
                          rtol=1e-12)
    x = daps.sample(problem_8(fx), gmm8, num_steps * int(fx["ode_steps"]), None, noise=stream(fx["noise"]))
    close(x, fx["out"], "daps")


# --- the 1x4x4 problems: DDNM, DPS, PiGDM (one fixture per release, several cases each) -------------------------

SHAPE_4 = (1, 4, 4)


def run_4(method, fx: dict, case: str) -> torch.Tensor:
    prior = GaussianMixture(fx["gmm_weights"], fx["gmm_means"], fx["gmm_covs"], SHAPE_4)
    op = RandomInpainting(SHAPE_4, fx["mask"]) if case.startswith("inpaint") else \
        SuperResolution(SHAPE_4, torch.tensor([float(fx["sr_factor"])], dtype=torch.float64))
    problem = Problem(op, fx[f"{case}_y"], float(fx[f"{case}_sigma_y"]))
    draws = iter(fx[f"{case}_noise"])  # one recorded draw per call
    return method.sample(problem, prior, int(fx["steps"]), None, noise=lambda: next(draws))


@pytest.mark.parametrize("case", ["inpaint_noisy", "inpaint_clean", "sr_noisy"])
def test_ddnm_matches_the_release(case):
    """``ddnm_plus_diffusion`` (``ddnm_diffusion`` at sigma_y = 0), 2x average-pooling SR (s = 1/2), 10 steps."""
    fx = load("ddnm")
    assert released_timesteps("ddim", int(fx["steps"])) == fx[f"{case}_timesteps"].tolist()
    close(run_4(get_method("ddnm", eta=float(fx[f"{case}_eta"])), fx, case), fx[f"{case}_x"], "ddnm")


@pytest.mark.parametrize("case", ["inpaint_noisy", "sr_noisy"])
def test_dps_matches_the_release(case):
    """``create_sampler(sampler='ddpm', clip_denoised=True, timestep_respacing='10', model_var_type='fixed_small')``
    with the 'ps' conditioning (``scale`` 0.5 inpainting, 0.3 super-resolution), one image per run as released."""
    fx = load("dps")
    assert released_timesteps("ddpm", int(fx["steps"])) == fx[f"{case}_timesteps"].tolist()
    close(run_4(get_method("dps", zeta=float(fx[f"{case}_zeta"])), fx, case), fx[f"{case}_x"], "dps")


@pytest.mark.parametrize("case", ["inpaint_clean", "inpaint_noisy", "sr_noisy"])
def test_pigdm_matches_the_release(case):
    """``PGDM.sample`` (awd=True, eta=1, grad_term_weight=1), ``Diffusion.alpha`` in float64. The release guides
    with ``A^+`` at any sigma_y: our default (paper eq. 8) equals it at sigma_y = 0, ``noise_aware=False`` above."""
    fx = load("pigdm")
    assert released_timesteps("ddim", int(fx["steps"])) == fx[f"{case}_timesteps"].tolist()
    pigdm = get_method("pigdm", eta=float(fx["eta"]), noise_aware=case == "inpaint_clean")
    close(run_4(pigdm, fx, case), fx[f"{case}_x"], "pigdm")


def test_pigdm_noise_aware_guidance_changes_noisy_measurements_only():
    """At sigma_y > 0 the paper's (r^2 A A^T + sigma_y^2 I)^(-1) weighs the measurement less than A^+: the outputs
    move by more than 1e-3 (the scale any rule change shows), at sigma_y = 0 not at all."""
    fx = load("pigdm")
    clean = [run_4(get_method("pigdm", noise_aware=flag), fx, "inpaint_clean") for flag in (True, False)]
    noisy = [run_4(get_method("pigdm", noise_aware=flag), fx, "inpaint_noisy") for flag in (True, False)]
    close(clean[0], clean[1], "pigdm")
    assert (noisy[0] - noisy[1]).abs().max() > 1e-3


# --- backbone solvers: k-diffusion live where it imports ------------------------------------------------------

@pytest.mark.parametrize("solver", ["euler", "heun", "dpmpp2m", "churn"])
def test_solvers_match_k_diffusion_live(solver):
    """The fixture's driver run on the installed k-diffusion (tests/fixtures/drivers/kdiffusion_solvers.py; the
    recorded numbers are checked in tests/test_solvers.py where k-diffusion is not installed)."""
    sampling = pytest.importorskip("k_diffusion.sampling")
    sys.path.insert(0, str(FIXTURES / "drivers"))
    try:
        from kdiffusion_solvers import STEPS, reference
    finally:
        sys.path.remove(str(FIXTURES / "drivers"))
    from eps.interpolants import EDM
    from eps.rng import generator
    from eps.samplers import sample

    ref = torch.load(FIXTURES / "solvers_kdiffusion.pt")
    gmm = GaussianMixture(ref["weights"], ref["means"], ref["covs"], ref["image_shape"])
    for N in STEPS:
        _, expected = reference(sampling, gmm, ref["noise"], N, solver, ref["churn_generator_seed"])
        x = sample(gmm.denoise, ref["noise"], EDM(), N, solver, generator=generator(ref["churn_generator_seed"]))
        # rounding amplified by up to sigma_max / sigma_min = 4e4 in one Heun step (tests/test_solvers.py)
        assert torch.allclose(x, expected, rtol=0, atol=1e-13 * 4e4 * expected.abs().max()), N


def test_the_resizer_fixture_names_its_release():
    meta = json.loads((FIXTURES / "dps_resizer_bicubic.json").read_text())
    assert set(META) <= set(meta) and meta["commit"].startswith("effbde7")
