"""``eps_trained``: EPS with a pivot denoiser learned by ``L_EPS`` on samples of the analytic GMM prior
(the model and its training: :mod:`eps.nn.gmm_trained`), one model per task, trained on first use."""
from __future__ import annotations

import torch

from ..nn.gmm_trained import GaussianExperts, train_pivot_denoiser
from .eps import PivotSampler
from .registry import register_method


@register_method("eps_trained")
class EPSTrained(PivotSampler):
    """EPS with a mixture-of-Gaussian-experts pivot denoiser trained by ``L_EPS``, one model per task."""

    experts = 8
    rank = 8
    train_steps = 200
    train_batch = 64
    lr = 1e-4
    seed = 0

    def trained_net(self, prior, sigma_y: float, task: str) -> GaussianExperts:
        """Train (once per prior object, sigma_y and task) and return the model."""
        cache = self.__dict__.setdefault("_cache", [])
        for cached_prior, cached_sigma_y, cached_task, net in cache:
            if cached_prior is prior and cached_sigma_y == sigma_y and cached_task == task:
                return net
        net = train_pivot_denoiser(prior, task, sigma_y, experts=self.experts, rank=self.rank,
                                   steps=self.train_steps, batch=self.train_batch, lr=self.lr,
                                   sigma_min=self.sigma_min, sigma_max=self.sigma_max, seed=self.seed)
        cache.append((prior, sigma_y, task, net))
        return net

    def sample(self, problem, prior, nfe, generator):
        self.pivot_denoiser(problem, prior)  # train (with gradients) before sampling without them
        with torch.no_grad():
            return super().sample(problem, prior, nfe, generator)

    def pivot_denoiser(self, problem, prior):
        gmm = getattr(prior, "prior", prior)  # the prior behind the harness's counting wrapper (samples only)
        net = self.trained_net(gmm, problem.sigma_y, problem.operator.task)  # cached after the first call
        count = getattr(prior, "count", lambda out: out)
        return lambda pivot: count(net(pivot))


__all__ = ["EPSTrained"]
