"""``eps_trained``: EPS with a pivot denoiser LEARNED by ``L_EPS`` on samples of an analytic GMM prior.

The objective check of the training objective (METHOD.md §3-4). One small network per task (random operator
instances of that task, the problem's ``sigma_y``) learns ``D_theta(mu_star, Sigma_star) ~ E[x0 | mu_star]``
and drives the unchanged EPS sampler; its distance to the exact posterior, next to that of ``eps`` (the exact
``D_Sigma``), measures what training loses.

Everything lives in the operator's spectral basis (``A = U S V^T``), where ``Sigma_star = V diag(var) V^T``.
EDM's preconditioning (Karras et al. 2022, Table 1) is generalised from ``sigma_data^2 I`` to the data's own
mean ``m̄`` and covariance ``C̄`` (estimated from prior samples, in the spectral basis). Anisotropic Tweedie,
``D_Sigma(z) = z + Sigma grad log p_Sigma(z)``, with the score of that Gaussian fit plus a learned residual:

    D̄ = mū - var * K^-1 (mū - m̄) + c_out * F( [(D̄_G - m̄) / s, (mū - m̄) / sqrt(var + s^2), certainty], c_noise )
    K = C̄ + diag(var),   D̄_G = mū - var * K^-1 (mū - m̄)   (exact Gaussian posterior mean, "c_skip")
    c_out,i = sqrt(P_ii),  P = (C̄^-1 + diag(var)^-1)^-1,   P_ii = var_i (1 - var_i (K^-1)_ii),   s = sqrt(diag C̄)

At ``F = 0`` this is the exact denoiser of the data's Gaussian fit; measured directions (``var_i -> 0``) pass
through exactly (``c_out,i -> 0``), so the network only learns the non-Gaussian (mixture) correction. The loss is
``L_EPS`` with the per-direction weight ``w_i = 1 / c_out,i^2`` (EDM's ``lambda = 1 / c_out^2`` per direction),
i.e. the squared error of ``F`` against a unit-scale target at every noise level:

    L_EPS = E[ sum_i (D̄_i(mu_star) - x̄0_i)^2 / c_out,i^2 ] / d,   mu_star = x0 + Sigma_star^(1/2) xi  (draw_pivot)

with fresh prior samples ``x0`` every step and ``ln sigma ~ U(ln sigma_min, ln sigma_max)``, the whole range the
EDM Heun sampler queries (0.002 to 80). The trained EMA network is cached per (prior object, sigma_y, task) in
the method instance: the benchmark reuses one instance for all tasks of a seed.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..eps_sampler import _PivotSampler
from ..methods import register_method
from ..operators import make_operator
from ..posterior import Pivot, draw_pivot
from ..training.loop import new_state, update_ema
from .conditioning import R_MIN
from .unet import positional_embedding

Tensor = torch.Tensor


class SpectralPrecond(nn.Module):
    """EDM preconditioning with the data's covariance in place of ``sigma_data^2 I`` (see module docstring).

    ``mean`` (image-shaped) and ``cov`` (``d x d``) are the data's moments in the operator's spectral basis.
    """

    def __init__(self, mean: Tensor, cov: Tensor, width: int = 512, depth: int = 3, noise_channels: int = 32):
        super().__init__()
        self.image_shape = tuple(mean.shape[-3:])
        self.register_buffer("mean", mean.double().reshape(1, -1))
        self.register_buffer("cov", cov.double())
        self.model = PivotMLP(self.image_shape, width, depth, noise_channels)

    def spectral(self, pivot: Pivot):
        """``(D̄, c_out)``: the denoised spectral coefficients, flat ``(B, d)`` float64, and the output scale."""
        mu_bar = pivot.operator.V_T(pivot.mu_star).double().flatten(1)
        var = pivot.var.double().expand(pivot.var.shape[0], *self.image_shape).flatten(1)
        K_inv = torch.cholesky_inverse(torch.linalg.cholesky(self.cov + torch.diag_embed(var)))  # (C̄ + Sigmā)^-1
        d_gauss = mu_bar - var * (K_inv @ (mu_bar - self.mean)[..., None])[..., 0]  # mū + Sigmā * Gaussian score
        c_out = (var * (1 - var * K_inv.diagonal(dim1=-2, dim2=-1))).clamp_min(0).sqrt()  # sqrt(diag P)
        var, c_out = var.expand_as(mu_bar), c_out.expand_as(mu_bar)
        std, sigma = self.cov.diagonal().sqrt(), pivot.sigma.double().reshape(-1, 1)
        certainty = torch.log((var / sigma**2).clamp(R_MIN, 1.0)) / math.log(R_MIN)
        x_in = torch.cat([(d_gauss - self.mean) / std, (mu_bar - self.mean) / (var + std**2).sqrt(), certainty], 1)
        F = self.model(x_in.float(), (sigma.log() / 4).expand(mu_bar.shape[0], 1)[:, 0].float())
        return d_gauss + c_out * F.double(), c_out

    def forward(self, pivot: Pivot) -> Tensor:
        """``D_theta(mu_star, Sigma_star)`` as an image of ``mu_star``'s dtype."""
        d_bar, _ = self.spectral(pivot)
        return pivot.operator.V(d_bar.reshape(-1, *self.image_shape).to(pivot.mu_star.dtype))

    def loss(self, pivot: Pivot, x0: Tensor) -> Tensor:
        """``mean_{b,i} (D̄_i - x̄0_i)^2 / c_out,i^2`` (directions with ``c_out,i = 0`` are exact and excluded)."""
        d_bar, c_out = self.spectral(pivot)
        err = d_bar - pivot.operator.V_T(x0).double().flatten(1)
        return torch.where(c_out > 0, err / torch.where(c_out > 0, c_out, 1.0), 0.0).square().mean()


class PivotMLP(nn.Module):
    """``F(x_in, c_noise)``: an MLP on ``[x_in (3d features), sinusoids(c_noise)]``, SiLU, zero last layer."""

    def __init__(self, image_shape, width: int = 512, depth: int = 3, noise_channels: int = 32):
        super().__init__()
        self.image_shape, self.noise_channels = tuple(image_shape), noise_channels
        d = math.prod(image_shape)
        layers, n_in = [], 3 * d + noise_channels
        for _ in range(depth):
            layers += [nn.Linear(n_in, width), nn.SiLU()]
            n_in = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(width, d)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, c_noise: Tensor) -> Tensor:
        emb = positional_embedding(c_noise, self.noise_channels, dtype=x.dtype)
        return self.out(self.body(torch.cat([x, emb], dim=1)))


def train_pivot_denoiser(prior, task: str, sigma_y: float, *, steps: int, batch: int, lr: float, width: int,
                         depth: int, ema_halflife: float, sigma_min: float, sigma_max: float, seed: int,
                         stat_samples: int = 10_000) -> SpectralPrecond:
    """Minimise ``L_EPS`` (module docstring) on ``task``'s random operator instances; returns the EMA network.

    Adam with EDM's linear learning-rate ramp-up over the first 5% of steps, then a linear decay to 0.
    """
    shape = tuple(prior.image_shape)
    g = torch.Generator().manual_seed(seed)
    basis = make_operator(task, shape, 1, g)  # V depends only on the task, not on the instance
    coeffs = basis.V_T(prior.sample(stat_samples, g)).flatten(1)
    state = new_state(SpectralPrecond(coeffs.mean(0).reshape(shape), coeffs.T.cov(), width, depth), lr, seed)
    rampup = max(steps // 20, 1)
    log_min, log_max = math.log(sigma_min), math.log(sigma_max)
    state.net.train()
    for k in range(steps):
        x0 = prior.sample(batch, g).float()
        sigma = torch.exp(log_min + (log_max - log_min) * torch.rand(batch, generator=g))
        op = make_operator(task, shape, batch, g).to(dtype=torch.float32)
        loss = state.net.loss(draw_pivot(op, x0, None, sigma, sigma_y, g), x0)
        for group in state.optimizer.param_groups:
            group["lr"] = lr * min((k + 1) / rampup, (steps - k) / (steps - rampup + 1), 1.0)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        update_ema(state.ema, state.net, k, ema_halflife)
    return state.ema.eval()


@register_method("eps_trained")
class EPSTrained(_PivotSampler):
    """EPS with a pivot denoiser trained by ``L_EPS`` on the GMM prior's samples, one network per task."""

    train_steps = 1500
    train_batch = 256
    lr = 2e-3
    width = 512
    depth = 3
    ema_halflife = 100.0
    seed = 0

    def trained_net(self, prior, sigma_y: float, task: str) -> SpectralPrecond:
        """Train (once per prior object, sigma_y and task) and return the EMA network."""
        cache = self.__dict__.setdefault("_cache", [])
        for cached_prior, cached_sigma_y, cached_task, net in cache:
            if cached_prior is prior and cached_sigma_y == sigma_y and cached_task == task:
                return net
        net = train_pivot_denoiser(prior, task, sigma_y, steps=self.train_steps, batch=self.train_batch,
                                   lr=self.lr, width=self.width, depth=self.depth, ema_halflife=self.ema_halflife,
                                   sigma_min=self.sigma_min, sigma_max=self.sigma_max, seed=self.seed)
        cache.append((prior, sigma_y, task, net))
        return net

    def sample(self, problem, prior, nfe, generator):
        gmm = getattr(prior, "prior", prior)  # the analytic prior behind the harness's counting wrapper
        self._net = self.trained_net(gmm, problem.sigma_y, problem.operator.task)
        return super().sample(problem, prior, nfe, generator)

    def pivot_denoiser(self, prior):
        net, count = self._net, getattr(prior, "count", lambda out: out)
        return lambda pivot: count(net(pivot))


__all__ = ["EPSTrained", "PivotMLP", "SpectralPrecond", "train_pivot_denoiser"]
