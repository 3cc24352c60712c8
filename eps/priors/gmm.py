"""Gaussian-mixture prior ``p(x0) = sum_k pi_k N(m_k, C_k)`` with every quantity in closed form (docs/method.md §4).

    isotropic denoiser    D(z, sigma) = E[x0 | x0 + sigma eps = z]
    anisotropic denoiser  D_Sigma(z)  = E[x0 | x0 + N(0, Sigma) = z]
                          weights ∝ pi_k N(z; m_k, C_k + Sigma),  means m_k + C_k (C_k + Sigma)^(-1) (z - m_k)
    exact posterior       p(x0 | y): weights ∝ pi_k N(y; A m_k, A C_k A^T + sigma_y^2 I),
                          means m_k + C_k A^T G_k^(-1) (y - A m_k),  covariances C_k - C_k A^T G_k^(-1) A C_k

The posterior is computed on the measured subspace ``Ã = S_r V_r^T`` (rows of the SVD with ``s > 0``):
the other components of ``U^T y`` carry no information on ``x0``, and ``G_k = Ã C_k Ã^T + sigma_y^2 I`` is
then positive definite even at ``sigma_y = 0``. Everything is in float64 on flattened images.
"""
from __future__ import annotations

import math

import torch

from ..interpolants import EDM, Interpolant
from ..operators import LinearOperator, make_operator
from ..posterior import Pivot

Tensor = torch.Tensor


class GaussianMixture:
    """``weights (K,)``, ``means (K, d)``, ``covs (K, d, d)`` on images of shape ``image_shape``.

    Implements the :class:`eps.methods.Prior` protocol (``denoise``, ``denoise_pivot``, ``interpolant``).
    """

    def __init__(self, weights: Tensor, means: Tensor, covs: Tensor, image_shape, interpolant: Interpolant | None = None):
        self.interpolant = interpolant or EDM()  # the backbone schedule samplers use with this prior
        self.weights, self.means, self.covs = weights.double(), means.double(), covs.double()
        self.image_shape = tuple(image_shape)
        self.d = math.prod(self.image_shape)
        if self.means.shape[1] != self.d or self.covs.shape[1:] != (self.d, self.d):
            raise ValueError(f"GMM dimensions do not match image shape {self.image_shape}")
        self._eigval, self._eigvec = torch.linalg.eigh(self.covs)  # C_k = Q diag(lam) Q^T
        self._chol = torch.linalg.cholesky(self.covs)

    def _flat(self, z: Tensor) -> Tensor:
        return z.reshape(z.shape[0], self.d).double()

    def _image(self, x: Tensor, like: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *self.image_shape).to(like.dtype)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, shape ``(n, C, H, W)``, float64."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        xi = torch.randn(n, self.d, 1, generator=generator, dtype=torch.float64)
        x = self.means[k] + (self._chol[k] @ xi)[..., 0]
        return x.reshape(n, *self.image_shape)

    def denoise(self, z: Tensor, sigma: Tensor) -> Tensor:
        """Isotropic ``D(z, sigma)`` for per-sample or scalar ``sigma`` (differentiable in ``z``)."""
        zf = self._flat(z)
        sig2 = torch.as_tensor(sigma, dtype=torch.float64, device=zf.device).reshape(-1, 1, 1) ** 2  # (B|1,1,1)
        w = torch.einsum("kij,bki->bkj", self._eigvec, zf[:, None, :] - self.means[None])  # Q^T (z - m)
        lam = self._eigval[None]  # (1, K, d)
        log_like = -0.5 * ((w**2 / (lam + sig2)).sum(-1) + torch.log(lam + sig2).sum(-1))
        resp = torch.softmax(torch.log(self.weights)[None] + log_like, dim=-1)  # (B, K)
        cond = self.means[None] + torch.einsum("kij,bkj->bki", self._eigvec, lam / (lam + sig2) * w)
        return self._image((resp[..., None] * cond).sum(1), z)

    def denoise_aniso(self, z: Tensor, Sigma: Tensor) -> Tensor:
        """Anisotropic ``D_Sigma(z)`` for a dense ``Sigma`` of shape ``(d, d)`` (shared) or ``(B, d, d)``.

        A shared ``Sigma`` factorises ``C_k + Sigma`` once per component and solves for the whole batch.
        """
        x = mixture_denoise(torch.log(self.weights), self.means, self.covs, self._flat(z), Sigma.double())
        return self._image(x, z)

    def denoise_pivot(self, pivot: Pivot) -> Tensor:
        """The exact EPS denoiser: ``D_{Sigma_star}(mu_star)`` with ``Sigma_star`` made dense from its spectrum."""
        return self.denoise_aniso(pivot.mu_star, dense_spectral(pivot.operator, pivot.var))

    def posterior(self, operator: LinearOperator, y: Tensor, sigma_y: float) -> "GaussianMixture":
        """The exact posterior ``p(x0 | y)`` for one measurement ``y`` of shape ``(1, *measurement_shape)``."""
        op = operator[0:1].to(dtype=torch.float64)
        V = dense_V(op)  # (d, d): columns are the spectral basis vectors
        s = op.s.expand(1, *op.image_shape).reshape(-1).double()
        keep = s > 0
        A_r = s[keep, None] * V[:, keep].T  # Ã = S_r V_r^T, (r, d)
        y_r = op.U_T(y.double()).reshape(-1)[keep]
        AC = A_r @ self.covs  # (K, r, d)
        G = AC @ A_r.T + sigma_y**2 * torch.eye(A_r.shape[0], dtype=torch.float64)
        L = torch.linalg.cholesky(G)
        resid = (y_r[None] - self.means @ A_r.T)[..., None]  # (K, r, 1)
        sol = torch.cholesky_solve(resid, L)
        logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
        log_w = torch.log(self.weights) - 0.5 * ((resid * sol)[..., 0].sum(-1) + logdet)
        gain = torch.cholesky_solve(AC, L)  # G^(-1) Ã C_k
        means = self.means + (AC.transpose(1, 2) @ sol)[..., 0]
        covs = self.covs - AC.transpose(1, 2) @ gain
        covs = 0.5 * (covs + covs.transpose(1, 2)) + 1e-12 * torch.eye(self.d, dtype=torch.float64)
        return GaussianMixture(torch.softmax(log_w, 0), means, covs, self.image_shape, self.interpolant)


def mixture_denoise(log_weights: Tensor, means: Tensor, covs: Tensor, z: Tensor, Sigma: Tensor) -> Tensor:
    """``E[x0 | x0 + N(0, Sigma) = z]`` for ``x0 ~ sum_k pi_k N(m_k, C_k)`` (flattened, any orthonormal basis):

        D_Sigma(z) = z - Sigma sum_k w_k (C_k + Sigma)^(-1) (z - m_k),   w_k ∝ pi_k N(z; m_k, C_k + Sigma)

    (= sum_k w_k [m_k + C_k (C_k + Sigma)^(-1) (z - m_k)], written so that directions with zero noise pass
    through exactly). ``z`` is ``(B, d)``, ``Sigma`` ``(d, d)`` or ``(S, d, d)`` with ``S`` = 1 (shared: one
    Cholesky per component for the whole batch) or ``B``; ``log_weights`` need not be normalised.
    """
    d = z.shape[1]
    Sigma = Sigma.reshape(-1, d, d)
    S, B = Sigma.shape[0], z.shape[0]
    L = torch.linalg.cholesky(covs[None] + Sigma[:, None])  # (S, K, d, d)
    # the inverses once per component, then matrix products for the batch: half the time of B triangular solves
    P = torch.cholesky_inverse(L)  # (C_k + Sigma)^(-1), symmetric
    r = z.reshape(S, 1, B // S, d) - means[None, :, None, :]  # (S, K, n, d)
    sol = r @ P  # rows: (C_k + Sigma)^(-1) (z - m_k)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)  # (S, K)
    log_w = torch.log_softmax(log_weights, 0)[None, :, None] - 0.5 * ((r * sol).sum(-1) + logdet[..., None])
    step = torch.einsum("skn,sknd->snd", torch.softmax(log_w, dim=1), sol)  # (S, n, d)
    return z - (step @ Sigma).reshape(B, d)  # Sigma symmetric


def dense_V(operator: LinearOperator) -> Tensor:
    """``V`` as a dense ``(d, d)`` float64 matrix (columns = spectral basis vectors) of a batch-1 operator."""
    d = math.prod(operator.image_shape)
    basis = torch.eye(d, dtype=torch.float64).reshape(d, *operator.image_shape)
    return operator.to(dtype=torch.float64).V(basis).reshape(d, d).T


def dense_spectral(operator: LinearOperator, var: Tensor) -> Tensor:
    """Dense ``V diag(var) V^T`` — shared ``(d, d)`` when ``var`` has batch 1, else ``(B, d, d)``."""
    V = dense_V(operator[0:1])
    if operator.batch_size != 1:
        raise ValueError("dense_spectral needs an operator shared by the batch (batch size 1)")
    v = var.expand(var.shape[0], *operator.image_shape).reshape(var.shape[0], -1).double()
    out = (V[None] * v[:, None, :]) @ V.T[None]
    return out[0] if var.shape[0] == 1 else out


def random_gmm(image_shape, num_components: int = 6, rank: int = 8, generator: torch.Generator | None = None,
               mean_scale: float = 0.5, factor_scale: float = 0.3, diag_scale: float = 0.05) -> GaussianMixture:
    """A seeded image-like mixture: smooth random means and low-rank-plus-diagonal covariances.

    Means and covariance factors are white noise smoothed by a periodic Gaussian blur (std 1 px), so the
    prior has the decaying spectrum of natural images and blur/super-resolution are genuinely ill-posed.
    ``C_k = W_k W_k^T + diag(delta_k^2)`` with ``W_k`` of rank ``rank``.
    """
    C, H, W = image_shape
    d = C * H * W
    smooth = make_operator("deblur_gauss", image_shape, kernel_size=min(H, W) | 1, std=1.0,
                           boundary="periodic").to(dtype=torch.float64)

    def smooth_fields(n: int) -> Tensor:
        f = smooth.A(torch.randn(n, *image_shape, generator=generator, dtype=torch.float64)).reshape(n, d)
        return f / f.std(dim=1, keepdim=True)

    pi = _dirichlet(num_components, generator)
    means = mean_scale * smooth_fields(num_components)
    factors = factor_scale / math.sqrt(rank) * smooth_fields(num_components * rank).reshape(num_components, rank, d)
    delta2 = (diag_scale * (0.5 + torch.rand(num_components, d, generator=generator, dtype=torch.float64))) ** 2
    covs = factors.transpose(1, 2) @ factors + torch.diag_embed(delta2)
    return GaussianMixture(pi, means, covs, image_shape)


def _dirichlet(k: int, generator) -> Tensor:
    """Mixture weights: normalised Gamma(4) draws via sums of exponentials (seeded, no global RNG)."""
    g = -torch.log(torch.rand(k, 4, generator=generator, dtype=torch.float64)).sum(1)
    return g / g.sum()


def mixture_moments(gmm: GaussianMixture) -> tuple[Tensor, Tensor]:
    """Mean ``sum_k pi_k m_k`` and covariance ``sum_k pi_k (C_k + m_k m_k^T) - m m^T`` of a mixture."""
    m = (gmm.weights[:, None] * gmm.means).sum(0)
    second = (gmm.weights[:, None, None] * (gmm.covs + gmm.means[:, :, None] * gmm.means[:, None, :])).sum(0)
    return m, second - m[:, None] * m[None, :]
