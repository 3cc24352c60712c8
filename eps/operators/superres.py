"""Super-resolution by block averaging: each ``f x f`` block of every channel becomes its mean.

SVD: ``V^T`` is the block-wise 2-D orthonormal DCT-II. The DC coefficient of a block is ``sum / f``, so
``A x = DC / f``: one singular value ``1/f`` per block (at the DC position), zero for the other
``f^2 - 1`` coefficients. ``U`` is the identity on the low-resolution grid, embedded at the DC
positions of the spectral layout.
"""
from __future__ import annotations

import math

import torch

from .base import LinearOperator, Tensor


def dct_matrix(n: int, dtype=torch.float64) -> Tensor:
    """Orthonormal DCT-II matrix ``D[k, j] = sqrt(2/n) c_k cos(pi (2j+1) k / (2n))``, ``c_0 = 1/sqrt(2)``."""
    k = torch.arange(n, dtype=dtype)[:, None]
    j = torch.arange(n, dtype=dtype)[None, :]
    D = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * j + 1) * k / (2 * n))
    D[0] /= math.sqrt(2.0)
    return D


class SuperResolution(LinearOperator):
    """``f``-fold block-average down-sampling; ``factor`` is a ``(1,)`` float tensor (its dtype sets ``s``'s)."""

    task = "sr4"

    def __init__(self, image_shape, factor: Tensor):
        super().__init__(image_shape)
        self.factor = factor
        self.f = f = int(round(float(factor.reshape(-1)[0])))
        C, H, W = self.image_shape
        if H % f or W % f:
            raise ValueError(f"sr: image size {H}x{W} is not divisible by the factor {f}")
        s = torch.zeros(1, 1, H // f, f, W // f, f, dtype=factor.dtype, device=factor.device)
        s[:, :, :, 0, :, 0] = 1.0 / f
        self._s = s.reshape(1, 1, H, W)
        self._D = dct_matrix(f).to(device=factor.device)

    def _blocks(self, x: Tensor) -> Tensor:
        B, C, H, W = x.shape
        return x.reshape(B, C, H // self.f, self.f, W // self.f, self.f)

    @property
    def s(self):
        return self._s

    @property
    def measurement_shape(self):
        C, H, W = self.image_shape
        return (C, H // self.f, W // self.f)

    def V_T(self, x):
        D = self._D.to(x.dtype)
        return torch.einsum("kn,bchnwm,lm->bchkwl", D, self._blocks(x), D).reshape(x.shape)

    def V(self, c):
        D = self._D.to(c.dtype)
        return torch.einsum("kn,bchkwl,lm->bchnwm", D, self._blocks(c), D).reshape(c.shape)

    def U_T(self, y):
        B, C, h, w = y.shape
        c = y.new_zeros(B, C, h, self.f, w, self.f)
        c[:, :, :, 0, :, 0] = y
        return c.reshape(B, C, h * self.f, w * self.f)

    def U(self, c):
        return self._blocks(c)[:, :, :, 0, :, 0]

    def pixel_variance(self, var):
        D2 = self._D.to(var.dtype) ** 2
        var = var.expand(var.shape[0], *self.image_shape) if var.shape[1] == 1 else var
        return torch.einsum("kn,bchkwl,lm->bchnwm", D2, self._blocks(var), D2).reshape(var.shape)

    def params(self):
        return {"factor": self.factor}
