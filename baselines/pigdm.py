"""PiGDM — Pseudoinverse-Guided Diffusion Models (Song, Vahdat, Mardani, Kautz, ICLR 2023, eq. 7-8, Alg. 1).

Follows the release of the authors' group: NVlabs/RED-diff @ 66482f2, ``algos/pgdm.py`` (``PGDM.sample``
and ``initialize``) with its example run (``sample_test.sh``: ``algo.awd=True algo.eta=1.0
exp.num_steps=100``), ``grad_term_weight = 1``, timesteps ``utils/functions.py get_timesteps``
(``range(0, 1000, 1000 // N)``: time grid ``ddim``) on the linear-beta chain of ``models/diffusion.py``.

The likelihood ``p(y | x_t)`` is approximated by ``N(A x0_hat, r_t^2 A A^T + sigma_y^2 I)`` with
``x0_hat = D(x_t)``, ``r_t^2 = sigma_t^2 / (1 + sigma_t^2) = 1 - alpha_bar_t`` (eq. 7-8). On the VP chain
the release takes a DDIM step with the denoiser's own ``x0_hat`` and ``eps_hat`` and adds the vector-Jacobian
product ``g = (A^+ (y - A x0_hat))^T d x0_hat / d x_t`` with weight ``sqrt(alpha_bar_{t-1}) sqrt(alpha_bar_t)``
(no ``1 / r_t^2``): its likelihood score is multiplied by ``r_t^2``, so that ``(r_t^2 A A^T)^(-1)`` becomes
``A^+``. Divided by ``sqrt(alpha_bar_{t-1})`` and with ``d/dx_t = (1 / sqrt(alpha_bar_t)) d/dx~``, on ``x~``:

    x0_hat = D(x~, sigma),   eps_hat = (x~ - x0_hat) / sigma
    v      = r_t^2 A^T (r_t^2 A A^T + sigma_y^2 I)^(-1) (y - A x0_hat)     (= A^+ (y - A x0_hat) at sigma_y = 0)
    x~_next = x0_hat + sigma_next (sqrt(1 - c^2) eps_hat + c z) + (d x0_hat / d x~)^T v,
              c = eta sqrt(1 - sigma_next^2 / sigma^2)

started, as released, from ``x~ = A^+ y + sigma_0 z`` (``x_T = sqrt(alpha_bar_T) A^+ y + sqrt(1 - alpha_bar_T) z``).
``A^T (r_t^2 A A^T + sigma_y^2 I)^(-1)`` is exact through the operator's SVD, ``V diag(s / (r_t^2 s^2 +
sigma_y^2)) U^T`` (``op.spectral_pullback``; zero on unmeasured directions, so ``sigma_y = 0`` is the
pseudo-inverse limit, never a division by zero). One forward and one vector-Jacobian product per step.

Measurement noise: the release's ``pgdm.py`` ignores ``algo.sigma_y`` and always guides with ``A^+``; the
paper's eq. 8 (its noisy experiments) keeps ``sigma_y^2`` in the inverse, which is the default here
(``noise_aware = True``, the form above); ``noise_aware = False`` is the release's ``A^+`` at any ``sigma_y``.
The two agree at ``sigma_y = 0``. With ``N`` not dividing 1000 the release's ``range(0, 1000, 1000 // N)``
has more than ``N`` steps; the grid here keeps the budget (the lowest ``N`` of them).
``eta = 1`` (the example run and the paper's experiments; ``_configs/algo/pgdm.yaml`` defaults to 0).
Images in [-1, 1] as here. Parity: ``tests/test_parity.py`` (fixture ``tests/fixtures/parity/pigdm.npz``).
"""
from __future__ import annotations

import torch

from eps.methods import register_method

from ._loop import AncestralSampler, ddim_fraction, ddim_step, denoise_vjp, residual


@register_method("pigdm")
class PiGDM(AncestralSampler):
    eta = 1.0
    noise_aware = True
    time_grid = "ddim"

    def initial(self, sigma, z, problem):
        return problem.operator.pinv(problem.y) + sigma * z

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        r2 = sigma**2 / (1 + sigma**2)
        sigma_y2 = problem.sigma_y**2 if self.noise_aware else 0.0

        def guidance_vector(x0):  # r^2 A^T (r^2 A A^T + sigma_y^2 I)^(-1) (y - A x0_hat)
            gain = lambda s: torch.where(s > 0, r2 * s / (r2 * s**2 + sigma_y2), 0.0)  # noqa: E731
            return problem.operator.spectral_pullback(residual(problem, x0), gain)

        x0, guidance = denoise_vjp(prior, x, sigma, guidance_vector)
        x_next = ddim_step(x0, (x - x0) / sigma, sigma_next, ddim_fraction(sigma, sigma_next, self.eta), noise())
        return x_next + guidance
