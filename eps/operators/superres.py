"""4x super-resolution: the bicubic antialiased resizer of DPS (default) or block averaging (``filter: box``).

Bicubic (``filter: bicubic``): the 1-D down-sampling matrix of the ``Resizer`` that DPS and DAPS use
(DPS2022/diffusion-posterior-sampling ``util/resizer.py`` @ effbde7, itself from assafshocher/resizer; DAPS
``forward_operator/__init__.py`` @ 098df6b imports the same class), built here from its equations and applied
as ``A = A_h ⊗ A_w`` with the exact Kronecker SVD of ``separable.py``. For output pixel ``o = 1..m``
(``m = ceil(n / f)``) the resizer centres a Keys cubic (``a = -0.5``) stretched by ``f`` (antialiasing:
``k_f(t) = k(t / f) / f``, support ``4 f``) at input coordinate ``c_o = f (o - (m - n / f) / 2) + (1 - f) / 2``
(1-based), takes the ``ceil(4 f) + 2`` integer positions from ``floor(c_o - 2 f)``, normalises the weights
to sum one and folds positions outside ``[1, n]`` back by half-sample symmetric reflection
(``0 -> 1``, ``n + 1 -> n``).

Block average (``filter: box``): ``V^T`` is the block-wise 2-D orthonormal DCT-II. The DC coefficient of a
block is ``sum / f``, so ``A x = DC / f``: one singular value ``1/f`` per block (at the DC position), zero
for the other ``f^2 - 1`` coefficients. ``U`` is the identity on the low-resolution grid, embedded at the DC
positions of the spectral layout.
"""
from __future__ import annotations

import math

import torch

from .base import LinearOperator, Tensor
from .separable import SeparableOperator

FILTERS = ("bicubic", "box")


def keys_cubic(t: Tensor) -> Tensor:
    """Keys' cubic convolution kernel with ``a = -0.5`` (support ``|t| < 2``)."""
    t = t.abs()
    return torch.where(t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1,
                       torch.where(t <= 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, torch.zeros_like(t)))


def bicubic_matrix(n: int, factor: int, dtype=torch.float64) -> Tensor:
    """The ``(ceil(n / f), n)`` matrix of the resizer's antialiased bicubic down-sampling by ``f`` (module doc)."""
    scale = 1.0 / factor
    m = math.ceil(n * scale)
    width = 4.0 / scale
    out = torch.arange(1, m + 1, dtype=torch.float64)
    centre = (out - (m - n * scale) / 2) / scale + 0.5 * (1 - 1 / scale)
    left = torch.floor(centre - width / 2)
    positions = left[:, None] + torch.arange(math.ceil(width) + 2, dtype=torch.float64) - 1  # 0-based
    weights = scale * keys_cubic(scale * (centre[:, None] - positions - 1))
    total = weights.sum(dim=1, keepdim=True)
    weights = weights / torch.where(total == 0, 1.0, total)
    mirror = torch.cat([torch.arange(n), torch.arange(n - 1, -1, -1)])
    columns = mirror[torch.remainder(positions.long(), 2 * n)]
    M = torch.zeros(m, n, dtype=torch.float64)
    M.scatter_add_(1, columns, weights)
    return M.to(dtype)


class BicubicSuperResolution(SeparableOperator):
    """Antialiased bicubic down-sampling (DPS ``Resizer``); ``A_h``, ``A_w`` from :func:`bicubic_matrix`."""

    task = "sr4"


def bicubic_superresolution(image_shape, factor: int) -> BicubicSuperResolution:
    _, H, W = image_shape
    if H % factor or W % factor:  # as the box filter: a partial low-resolution pixel is no measurement of the task
        raise ValueError(f"sr4 (filter bicubic): image size {H}x{W} is not divisible by the factor {factor}")
    return BicubicSuperResolution(image_shape, bicubic_matrix(H, factor)[None], bicubic_matrix(W, factor)[None])


def dct_matrix(n: int, dtype=torch.float64) -> Tensor:
    """Orthonormal DCT-II matrix ``D[k, j] = sqrt(2/n) c_k cos(pi (2j+1) k / (2n))``, ``c_0 = 1/sqrt(2)``."""
    k = torch.arange(n, dtype=dtype)[:, None]
    j = torch.arange(n, dtype=dtype)[None, :]
    D = math.sqrt(2.0 / n) * torch.cos(math.pi * (2 * j + 1) * k / (2 * n))
    D[0] /= math.sqrt(2.0)
    return D


class SuperResolution(LinearOperator):
    """``filter: box``: ``f``-fold block averaging; ``factor`` is a ``(1,)`` float tensor (its dtype sets ``s``'s)."""

    task = "sr4"

    def __init__(self, image_shape, factor: Tensor):
        super().__init__(image_shape)
        self.factor = factor
        self.f = f = int(round(float(factor.reshape(-1)[0])))
        C, H, W = self.image_shape
        if H % f or W % f:
            raise ValueError(f"sr4 (filter box): image size {H}x{W} is not divisible by the factor {f}")
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
