"""The pivot denoiser of ``eps_trained`` (:mod:`eps.methods.eps_trained`), LEARNED by ``L_EPS`` on samples of
an analytic GMM prior.

The objective check of the training objective (docs/method.md §3-4). The pivot denoiser is a learned
mixture of Gaussian experts — the anisotropic Tweedie form of a K-component Gaussian mixture:

    D_theta(mu*, Sigma*) = sum_k w_k [ m_k + C_k (C_k + Sigma*)^-1 (mu* - m_k) ]
                         = mu* - Sigma* sum_k w_k (C_k + Sigma*)^-1 (mu* - m_k)
    w_k ∝ pi_k N(mu*; m_k, C_k + Sigma*),    C_k = W_k W_k^T + diag(exp(2 delta_k)),   W_k of rank ``rank``

with ``theta = (pi_k, m_k, W_k, delta_k)`` learned (the second line is the same expression, written so that
measured directions, ``Sigma*_ii = 0``, pass through exactly). Training minimises

    L_EPS = E[ lambda(sigma) || D_theta(mu*, Sigma*) - x0 ||^2 ] / d,   mu* = x0 + Sigma*^(1/2) xi  (draw_pivot)

over fresh prior samples ``x0`` (``prior.sample`` only: the true mixture's parameters are never read),
random operator instances of the task, the problem's ``sigma_y`` and ``ln sigma ~ U(ln 0.002, ln 80)`` (the
range the EDM Heun sampler queries), with EDM's weight ``lambda = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2``
(Karras et al. 2022, Table 1; ``sigma_data^2`` = the prior samples' mean per-pixel variance). ``theta`` is
initialised from data: k-means on prior samples, then per cluster its weight, mean and the probabilistic-PCA
fit of its covariance (top-``rank`` eigenvectors, the remaining variance on the diagonal).

What this checks: for ``K`` at least the prior's number of components the family contains the true prior,
whose exact posterior denoiser ``E[x0 | mu*]`` minimises ``L_EPS`` for any positive ``lambda``; so a sampler
driven by the trained ``D_theta`` matching ``eps`` (the exact ``D_Sigma``) shows that the ``L_EPS``
minimiser found in budget recovers the exact posterior denoiser. It is a check of the objective, not a
claim about generic networks.

Everything is computed in the operator's spectral basis ``A = U S V^T`` (``Sigma* = V diag(var) V^T``; ``V``
depends on the task, not on the instance), in float64. The trained model is cached per (prior object,
sigma_y, task) in the method instance: the benchmark reuses one instance for all tasks of a seed.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..operators import make_operator
from ..posterior import Pivot, draw_pivot
from ..priors.gmm import dense_V, mixture_denoise

Tensor = torch.Tensor

VAR_FLOOR = 1e-6  # smallest initial per-pixel variance of an expert (images in [-1, 1])


class GaussianExperts(nn.Module):
    """``D_theta`` of the module docstring: ``K`` Gaussian experts with learned weights, means and covariances.

    ``V`` (``d x d``, columns = the task's spectral basis vectors) maps the pixel-space parameters to the
    operator's spectral basis, where ``Sigma*`` is diagonal.
    """

    def __init__(self, weights: Tensor, means: Tensor, factors: Tensor, log_std: Tensor, V: Tensor, image_shape):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.logits = nn.Parameter(weights.double().log())  # ln pi_k (up to a constant)
        self.means = nn.Parameter(means.double())  # m_k, (K, d)
        self.factors = nn.Parameter(factors.double())  # W_k, (K, d, rank)
        self.log_std = nn.Parameter(log_std.double())  # delta_k, (K, d)
        self.register_buffer("V", V.double())

    def covs(self) -> Tensor:
        """``C_k = W_k W_k^T + diag(exp(2 delta_k))`` in pixel space, ``(K, d, d)``."""
        return self.factors @ self.factors.transpose(1, 2) + torch.diag_embed(torch.exp(2 * self.log_std))

    def spectral(self, mu_bar: Tensor, var: Tensor) -> Tensor:
        """``V^T D_theta`` from ``mu_bar = V^T mu*`` ``(B, d)`` and ``var`` ``(S, d)``, ``S`` = 1 (shared) or ``B``.

        A shared ``Sigma*`` factorises ``C_k + Sigma*`` once per expert and solves for the whole batch.
        """
        m_bar = self.means @ self.V  # (K, d): V^T m_k
        C_bar = self.V.T @ self.covs() @ self.V  # (K, d, d): V^T C_k V
        return mixture_denoise(self.logits, m_bar, C_bar, mu_bar, torch.diag_embed(var))

    def forward(self, pivot: Pivot) -> Tensor:
        """``D_theta(mu*, Sigma*)`` as an image of ``mu*``'s dtype."""
        op = pivot.operator
        mu_bar = op.V_T(pivot.mu_star).double().flatten(1)
        var = pivot.var.double().expand(pivot.var.shape[0], *self.image_shape).flatten(1)
        out = self.spectral(mu_bar, var)
        return op.V(out.reshape(-1, *self.image_shape).to(pivot.mu_star.dtype))


def kmeans(x: Tensor, k: int, generator: torch.Generator, iterations: int = 50) -> Tensor:
    """Cluster labels of the rows of ``x``: Lloyd iterations from a k-means++ seeding (Arthur & Vassilvitskii 2007)."""
    centres = x[torch.randint(x.shape[0], (1,), generator=generator)]
    for _ in range(k - 1):
        dist2 = torch.cdist(x, centres).min(1).values ** 2
        centres = torch.cat([centres, x[torch.multinomial(dist2, 1, generator=generator)]])
    for _ in range(iterations):
        labels = torch.cdist(x, centres).argmin(1)
        counts = torch.bincount(labels, minlength=k).clamp_min(1)[:, None]
        centres = torch.zeros_like(centres).index_add_(0, labels, x) / counts
    return torch.cdist(x, centres).argmin(1)


def init_experts(samples: Tensor, k: int, rank: int, V: Tensor, image_shape, generator) -> GaussianExperts:
    """Data-driven ``theta``: k-means clusters -> weight, mean and probabilistic-PCA covariance of each cluster."""
    x = samples.double().flatten(1)
    labels = kmeans(x, k, generator)
    weights, means, factors, log_std = [], [], [], []
    for j in range(k):
        xj = x[labels == j]
        mean = xj.mean(0)
        cov = (xj - mean).T @ (xj - mean) / max(xj.shape[0] - 1, 1)
        lam, Q = torch.linalg.eigh(cov)  # ascending
        # PPCA: the variance outside the top-rank eigenvectors, spread evenly (none when rank = d)
        noise = (lam[:-rank].sum() / max(lam.shape[0] - rank, 1)).clamp_min(VAR_FLOOR)
        W = Q[:, -rank:] * (lam[-rank:] - noise).clamp_min(0).sqrt()
        weights.append(xj.shape[0] / x.shape[0])
        means.append(mean)
        factors.append(W)
        log_std.append(0.5 * (cov.diagonal() - (W**2).sum(1)).clamp_min(VAR_FLOOR).log())
    return GaussianExperts(torch.tensor(weights, dtype=torch.float64).clamp_min(1e-6), torch.stack(means),
                           torch.stack(factors), torch.stack(log_std), V, image_shape)


def train_pivot_denoiser(prior, task: str, sigma_y: float, *, experts: int, rank: int, steps: int, batch: int,
                         lr: float, sigma_min: float, sigma_max: float, seed: int,
                         init_samples: int = 10_000) -> GaussianExperts:
    """Initialise from ``prior.sample`` and minimise ``L_EPS`` (module docstring) on ``task``'s random instances.

    Adam with a linear learning-rate decay to 0.
    """
    shape = tuple(prior.image_shape)
    g = torch.Generator().manual_seed(seed)
    V = dense_V(make_operator(task, shape, 1, g))  # V depends only on the task, not on the instance
    samples = prior.sample(init_samples, g).double()
    net = init_experts(samples, experts, rank, V, shape, g)
    sigma_data2 = samples.flatten(1).var(0).mean()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    log_min, log_max = math.log(sigma_min), math.log(sigma_max)
    for k in range(steps):
        x0 = prior.sample(batch, g).double()
        sigma = torch.exp(log_min + (log_max - log_min) * torch.rand(batch, generator=g, dtype=torch.float64))
        op = make_operator(task, shape, batch, g).to(dtype=torch.float64)
        pivot = draw_pivot(op, x0, None, sigma, sigma_y, g)
        weight = (sigma**2 + sigma_data2) / (sigma**2 * sigma_data2)  # EDM lambda(sigma)
        loss = (weight * (net(pivot) - x0).flatten(1).square().mean(1)).mean()
        for group in optimizer.param_groups:
            group["lr"] = lr * (1 - k / steps)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return net.eval()


__all__ = ["GaussianExperts", "init_experts", "kmeans", "train_pivot_denoiser"]
