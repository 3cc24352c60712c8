"""DPS — Diffusion Posterior Sampling (Chung, Kim, Mccann, Klasky, Ye, ICLR 2023, Algorithm 1).

Each DDPM ancestral step is followed by a gradient step on the unsquared residual norm through the
denoiser (one forward and one vector-Jacobian product per step):

    x0_hat   = D(x_t)
    x'_{t-1} = DDPM ancestral step from x_t with x0_hat                       (DDIM eta = 1)
    x_{t-1}  = x'_{t-1} - zeta grad_{x_t} || y - A x0_hat(x_t) ||

The paper writes the step as ``zeta_t = zeta' / ||y - A x0_hat||`` on the squared norm; the released code
(DPS2022/diffusion-posterior-sampling, ``configs/*_config.yaml``, ``scale``) applies ``zeta`` to the
gradient of the unsquared norm, which is the same thing up to the factor 2 absorbed in ``zeta``. Published
``zeta`` (the code's ``scale``): 0.5 for inpainting, 0.3 for 4x super-resolution, Gaussian and motion blur;
1000 DDPM steps (the benchmark passes its own NFE budget; the step size stays the published per-step
value). Images are in [-1, 1] in the code as here, so no range conversion is needed.

Mapping to ``x~`` (see :mod:`baselines._loop`): ``x_t = alpha_t x~`` gives
``grad_{x_t} = grad_{x~} / alpha_t`` and ``x~_{t-1} = x_{t-1} / alpha_{t-1}``, so the guidance on ``x~`` is
``zeta / (alpha_t alpha_{t-1}) * grad_{x~} || y - A x0_hat ||`` with ``alpha = 1 / sqrt(1 + sigma^2)``.
The gradient is per sample (the code's batch holds one image).
"""
from __future__ import annotations

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_fraction, ddim_step, denoise_vjp, unit_residual_direction, vp_alpha


@register_method("dps")
class DPS(AncestralSampler):
    zeta = 0.3
    eta = 1.0  # DDPM ancestral sampling
    task_defaults = {"inpaint_random": {"zeta": 0.5}, "inpaint_box": {"zeta": 0.5}}

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        # minus the gradient of ||y - A x0_hat|| w.r.t. x~: J^T A^T (y - A x0_hat) / ||y - A x0_hat||
        x0, descent = denoise_vjp(prior, x, sigma, lambda x0: unit_residual_direction(problem, x0))
        x_next = ddim_step(x0, (x - x0) / sigma, sigma_next, ddim_fraction(sigma, sigma_next, self.eta), noise())
        zeta = self.setting("zeta", problem)
        return x_next + zeta / (vp_alpha(sigma) * vp_alpha(sigma_next)) * descent
