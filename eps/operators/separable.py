"""Separable operators ``A = A_h ⊗ A_w`` (per channel ``Y = A_h X A_w^T``) with an exact Kronecker SVD.

With the 1-D SVDs ``A_h = U_h S_h V_h^T`` (``m_h x H``, ``m_h <= H``) and ``A_w = U_w S_w V_w^T``,

    A = (U_h ⊗ U_w) (S_h ⊗ S_w) (V_h ⊗ V_w)^T,

so in the spectral layout (same shape as the image) ``V^T x = V_h^T X V_w``, the singular values are
``s[i, j] = s_h[i] s_w[j]`` for ``i < m_h, j < m_w`` and zero elsewhere, ``U^T y`` is ``U_h^T Y U_w`` placed in
the top-left ``m_h x m_w`` block, and the diagonal of ``V diag(v) V^T`` is ``(V_h∘V_h) v (V_w∘V_w)^T``.
The 1-D SVDs are computed once, in float64, by ``torch.linalg.svd``; ``Sigma_star`` and every other
function of ``A^T A`` is therefore exact. Used by bicubic super-resolution (``superres.py``) and by the
reflect-boundary Gaussian blur (``blur.py``).
"""
from __future__ import annotations

import torch

from .base import LinearOperator, Tensor


class SeparableOperator(LinearOperator):
    """``A = A_h ⊗ A_w`` applied to every channel; ``A_h`` is ``(1, m_h, H)``, ``A_w`` is ``(1, m_w, W)``."""

    task = "separable"

    def __init__(self, image_shape, A_h: Tensor, A_w: Tensor):
        super().__init__(image_shape)
        _, H, W = self.image_shape
        for name, M, n in (("A_h", A_h, H), ("A_w", A_w, W)):
            if M.dim() != 3 or M.shape[0] != 1 or M.shape[2] != n or M.shape[1] > n:
                raise ValueError(f"{self.task}: {name} must have shape (1, m <= {n}, {n}), got {tuple(M.shape)}")
        self.A_h, self.A_w = A_h, A_w
        U_h, s_h, Vt_h = torch.linalg.svd(A_h.to(torch.float64), full_matrices=True)
        U_w, s_w, Vt_w = torch.linalg.svd(A_w.to(torch.float64), full_matrices=True)
        m_h, m_w = A_h.shape[1], A_w.shape[1]
        s = torch.zeros(1, 1, H, W, dtype=torch.float64, device=A_h.device)
        s[0, 0, :m_h, :m_w] = s_h[0, :, None] * s_w[0, None, :]
        dtype = A_h.dtype
        self._s = s.to(dtype)
        self._U_h, self._U_w = U_h[:, None].to(dtype), U_w[:, None].to(dtype)  # (1, 1, m, m)
        self._V_h, self._V_w = Vt_h.mT[:, None].to(dtype), Vt_w.mT[:, None].to(dtype)  # (1, 1, n, n)
        self._m = (m_h, m_w)

    @property
    def s(self):
        return self._s

    @property
    def measurement_shape(self):
        return (self.image_shape[0], *self._m)

    def V_T(self, x):
        return self._V_h.to(x.dtype).mT @ x @ self._V_w.to(x.dtype)

    def V(self, c):
        return self._V_h.to(c.dtype) @ c @ self._V_w.to(c.dtype).mT

    def U_T(self, y):
        _, H, W = self.image_shape
        m_h, m_w = self._m
        return torch.nn.functional.pad(self._U_h.to(y.dtype).mT @ y @ self._U_w.to(y.dtype), (0, W - m_w, 0, H - m_h))

    def U(self, c):
        m_h, m_w = self._m
        return self._U_h.to(c.dtype) @ c[..., :m_h, :m_w] @ self._U_w.to(c.dtype).mT

    def pixel_variance(self, var):
        var = var.expand(var.shape[0], *self.image_shape) if var.shape[1] == 1 else var
        return self._V_h.to(var.dtype) ** 2 @ var @ (self._V_w.to(var.dtype) ** 2).mT

    def params(self):
        return {"A_h": self.A_h, "A_w": self.A_w}
