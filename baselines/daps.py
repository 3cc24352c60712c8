"""DAPS — Decoupled Annealing Posterior Sampling (Zhang, Chu, Berner, Meng, Anandkumar, Song, 2024, Alg. 1).

An annealing loop over noise levels ``sigma_max = 100 > ... > sigma_min = 0.1 > 0`` (poly-7 EDM grid) in
which consecutive states are decoupled: from ``x~`` at ``sigma``

    1. x0_hat = probability-flow ODE from ``x~`` at ``sigma`` to 0 (``ode_steps`` Euler steps on the EDM
       grid down to ``ode_sigma_min``, the backbone sampler :func:`eps.samplers.sample`);
    2. Langevin dynamics in x0-space on ``p(x0 | x~, y)`` ∝ ``N(x0; x0_hat, r^2 I) N(y; A x0, tau^2 I)``,
       ``r = sigma``, from ``x0 = x0_hat``, ``langevin_steps`` steps of
       ``x0 <- x0 + lr_t ( (x0_hat - x0) / r^2 + w A^T (y - A x0) / tau^2 ) + sqrt(2 lr_t) xi``
       (``w = data_weight``, 1 as released in July 2024);
    3. ``x~_next = x0 + sigma_next z``.

Released code followed: ``zhangbingliang2019/DAPS`` at commit 74026ee3736c38b00f5858cc9fb7fa716b0511cf (2024-07-30),
``sampler.py`` (``DAPS.sample``, ``LangevinDynamics.sample``, ``Scheduler``; unchanged up to 25471a8, Aug 2024),
the version released with the paper (arXiv, July 2024). There the Langevin stage minimises
``||A x0 - y||^2 / (2 tau^2) + ||x0 - x0_hat||^2 / (2 r^2)`` by SGD, and the learning rate at annealing step
``i`` of ``N`` is ``lr (1 + (i / N) (lr_min_ratio - 1))`` (note ``i / N``, not ``i / (N - 1)``). From commit
a9bed9f (2025-03-18, ``cores/mcmc.py``) upstream takes the data term as ``-grad ||A x0 - y||^2 / tau^2``, i.e.
twice the above (equivalently ``tau / sqrt(2)``): option ``data_weight = 2`` reproduces that term; upstream's
other changes since (``num_steps - 1`` annealing iterations, no final re-noising, HMC and MH variants) are
not reproduced.
Parity: ``tests/test_parity.py`` replays the July-2024 release's own run (fixtures ``tests/fixtures/parity/daps_*``).

The Langevin stage is closed-form in ``A`` and costs no network evaluation; NFE is
``annealing steps x ode_steps``, so a budget ``nfe`` runs ``nfe // ode_steps`` annealing steps (a budget
below ``ode_steps`` is an error).
Published (DAPS-1K, released configs ``config/sampler/edm_daps.yaml`` and ``config/task/*.yaml`` at 74026ee,
pixel space): 200 annealing steps x 5 ODE steps, ``ode_sigma_min = 0.01``, 100 Langevin steps,
``tau = 0.01``, ``lr = 1e-4`` (SR, random inpainting, Gaussian blur) or ``5e-5`` (box inpainting, motion
blur), decayed linearly over the annealing steps to ``lr * lr_min_ratio`` with ``lr_min_ratio = 0.01``.
Note that ``tau`` is the likelihood width DAPS uses, not the true ``sigma_y`` (0.05 in its experiments).
DAPS is written on EDM's ``x~ = x0 + sigma eps`` with images in [-1, 1]: no conversion needed.
"""
from __future__ import annotations

from eps.interpolants import EDM
from eps.methods import register_method
from eps.samplers import sample

from ._loop import AncestralSampler, bound, residual


@register_method("daps")
class DAPS(AncestralSampler):
    sigma_max = 100.0
    sigma_min = 0.1
    ode_steps = 5
    ode_sigma_min = 0.01
    langevin_steps = 100
    lr = 1e-4
    lr_min_ratio = 0.01
    tau = 0.01
    data_weight = 1.0
    task_defaults = {"inpaint_box": {"lr": 5e-5}, "deblur_motion": {"lr": 5e-5}}

    def num_steps(self, nfe):
        if nfe < self.ode_steps:
            raise ValueError(f"daps: an annealing step costs ode_steps = {self.ode_steps} NFE; got a budget of {nfe}")
        return nfe // self.ode_steps

    def sample(self, problem, prior, nfe, generator, noise=None):
        """The lr schedule reads the number of annealing steps ``N``: bound once per call."""
        return super(DAPS, bound(self, _annealing_steps=self.num_steps(nfe))).sample(problem, prior, nfe, generator, noise)

    def step(self, x, sigma, sigma_next, noise, problem, prior):
        x0_hat = sample(prior.denoise, x / sigma, EDM(), self.ode_steps, "euler", sigma_min=self.ode_sigma_min,
                        sigma_max=float(sigma), rho=self.rho)
        N = self._annealing_steps
        ratio = self.annealing_progress(sigma) * (N - 1) / N  # i / N at annealing step i
        lr = self.setting("lr", problem) * (1 + ratio * (self.lr_min_ratio - 1))
        x0 = x0_hat
        for _ in range(self.langevin_steps):
            drift = ((x0_hat - x0) / sigma**2
                     + self.data_weight * problem.operator.A_T(residual(problem, x0)) / self.tau**2)
            x0 = x0 + lr * drift + (2 * lr) ** 0.5 * noise()
        return x0 + sigma_next * noise()

    def annealing_progress(self, sigma):
        """Position ``i / (N - 1)`` of ``sigma`` on the poly-rho annealing grid (0 at ``sigma_max``, 1 at ``sigma_min``)."""
        top, bottom = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (top - sigma ** (1 / self.rho)) / (top - bottom)
