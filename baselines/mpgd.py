"""MPGD — Manifold Preserving Guided Diffusion (He, Murata, Lai, ..., Ermon, ICLR 2024), pixel variant
"MPGD w/o projection".

The guidance is a gradient step on the clean estimate, not on ``x_t``: no backpropagation through the
denoiser, so a step costs one forward pass. Then a DDIM step that keeps the denoiser's own noise estimate:

    x0_hat   = clip(D(x_t), -1, 1),    eps_hat = (x_t - sqrt(alpha_bar_t) x0_hat) / sqrt(1 - alpha_bar_t)
    x0|t     = x0_hat - c / sqrt(alpha_bar_{t-1}) * grad_{x0} || y - A x0 ||  at x0 = x0_hat
    x_{t-1}  = DDIM step with x0|t and eps_hat (eta = 0.5)

Released code: ``KellyYutongHe/mpgd_pytorch`` at commit 9f94b386ea4184960278d28a8bc2756898db70e2,
``linear_inv/guided_diffusion/guided_gaussian_diffusion.py::DDIMx0.p_sample_loop`` with
``linear_inv/guided_diffusion/condition_methods.py::WoProjSampling`` and
``linear_inv/configs/mgpd_diffusion_config.yaml`` (1000 linear-beta steps respaced ``ddim{N}``, ``eta = 0.5``,
``clip_denoised: True``; the chain starts at ``x_T = z``). The norm is unsquared, so its gradient is
``-A^T (y - A x0) / ||y - A x0||`` (per sample here; the release runs one image per batch). Images in [-1, 1].

Step size ``c`` per NFE, as released (``linear_inv/scripts/wo_proj_ffhq_super_resolution.sh``, FFHQ 256 4x SR,
the only task with released values; the deblur config's ``scale: 10`` is a placeholder "changed in another
script" that was not released):

    | DDIM steps | 20   | 50  | 100 |
    | c          | 17.5 | 7.5 | 4   |

Rule elsewhere (stated, not released): every task uses this table; between released step counts ``c`` is
interpolated linearly in ``(log N, log c)``; outside [20, 100] ``c N`` is held at its value at the nearest
released count (the released values keep ``c N`` within 350-400). An explicit ``step_size`` overrides the table.

Mapping to ``x~`` (see :mod:`baselines._loop`): ``x0`` is the same on both chains, and
``1 / sqrt(alpha_bar_{t-1}) = sqrt(1 + sigma_next^2)`` (``= 1`` at the last step). Released grid: ``ddim``
(``skip = 1000 // N`` equals guided-diffusion's ``ddim{N}`` respacing whenever ``N`` divides 1000).
Parity: ``tests/test_parity.py`` replays the release's own run (fixtures ``tests/fixtures/parity/mpgd_*``).
"""
from __future__ import annotations

import math

from eps.methods import register_method

from ._loop import AncestralSampler, bound, ddim_fraction, ddim_step, unit_residual_direction, vp_alpha

RELEASED_STEP_SIZE = {20: 17.5, 50: 7.5, 100: 4.0}  # DDIM steps -> c (wo_proj_ffhq_super_resolution.sh)


def released_step_size(num_steps: int) -> float:
    """``c`` for ``num_steps`` DDIM steps: the released value, else the rule of the module docstring."""
    counts = sorted(RELEASED_STEP_SIZE)
    if num_steps <= counts[0] or num_steps >= counts[-1]:
        nearest = counts[0] if num_steps <= counts[0] else counts[-1]
        return RELEASED_STEP_SIZE[nearest] * nearest / num_steps
    lo = max(n for n in counts if n <= num_steps)
    hi = min(n for n in counts if n >= num_steps)
    if lo == hi:
        return RELEASED_STEP_SIZE[lo]
    w = (math.log(num_steps) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return math.exp((1 - w) * math.log(RELEASED_STEP_SIZE[lo]) + w * math.log(RELEASED_STEP_SIZE[hi]))


@register_method("mpgd")
class MPGD(AncestralSampler):
    time_grid = "ddim"
    step_size = 0.0  # 0: the released value for the number of steps (module docstring)
    eta = 0.5
    clip_denoised = True  # as in the released config (and DPS)

    def sample(self, problem, prior, nfe, generator, noise=None):
        if not self.step_size:  # the released c for this many steps
            return bound(self, step_size=released_step_size(self.num_steps(nfe))).sample(problem, prior, nfe, generator, noise)
        return super().sample(problem, prior, nfe, generator, noise)

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        x0_hat = prior.denoise(x, sigma)
        if self.clip_denoised:
            x0_hat = x0_hat.clamp(-1, 1)
        x0 = x0_hat + self.step_size / vp_alpha(sigma_next) * unit_residual_direction(problem, x0_hat)
        return ddim_step(x0, (x - x0_hat) / sigma, sigma_next, ddim_fraction(sigma, sigma_next, self.eta), noise())
