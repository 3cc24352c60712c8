"""Blur ``A x = k ⋆ x`` of each channel: a cross-correlation, like the ``Conv2d`` of DPS's ``Blurkernel``
(DPS2022/diffusion-posterior-sampling ``util/img_utils.py`` @ effbde7), with one of two boundaries.

Reflect (``boundary: reflect``, DPS/DAPS: ``nn.ReflectionPad2d(k // 2)`` then ``Conv2d``): the boundary of
``torch``'s reflect padding, ``x[-i] = x[i]``, ``x[n - 1 + i] = x[n - 1 - i]`` (scipy.ndimage ``mode='mirror'``).
A separable kernel ``k = g g^T`` gives ``A = B_g ⊗ B_g`` with the ``n x n`` matrix
``B_g[i, mirror(i + t - r)] += g[t]`` (``r = k // 2``), so the exact Kronecker SVD of ``separable.py`` applies.
The Gaussian of DPS is separable (``scipy.ndimage.gaussian_filter`` of a centred delta, see ``kernels.py``).
Reflection is extended periodically (period ``2 (n - 1)``) for kernels wider than the image, where
``ReflectionPad2d`` itself would refuse.

Periodic (``boundary: periodic``; the only exact route for the non-separable motion blur): circular
cross-correlation, diagonalised by the Fourier transform.

With ``F`` the unitary 2-D DFT, ``A = F^H diag(k_hat) F``. Write ``k_hat = phase * |k_hat|``. Because the
kernel is real, ``|k_hat|`` is symmetric under ``w -> -w`` and ``phase`` is Hermitian, so both
``H = Re F - Im F`` (the discrete Hartley transform: real, orthogonal and its own inverse) and
``P = F^H diag(phase) F`` (a real orthogonal all-pass filter) are real, and

    A = (P H) diag(|k_hat|) H,     i.e.  V = H,  U = P H,  s = |k_hat|.

All spectral coefficients are real, so spectral-space noise (DDRM) is ordinary Gaussian noise.
"""
from __future__ import annotations

import torch

from .base import LinearOperator, Tensor
from .separable import SeparableOperator

BOUNDARIES = ("reflect", "periodic")


def mirror_index(i: Tensor, n: int) -> Tensor:
    """Reflect (no edge repeat) indices into ``[0, n)``: ``-1 -> 1``, ``n -> n - 2``, period ``2 (n - 1)``."""
    if n == 1:
        return torch.zeros_like(i)
    i = torch.remainder(i, 2 * (n - 1))
    return torch.where(i < n, i, 2 * (n - 1) - i)


def reflect_correlation_matrix(g: Tensor, n: int) -> Tensor:
    """``(n, n)`` matrix of the 1-D cross-correlation with odd ``g`` under reflect padding (module doc)."""
    if g.dim() != 1 or len(g) % 2 == 0:
        raise ValueError(f"reflect blur: the 1-D kernel must be a vector of odd length, got {tuple(g.shape)}")
    r = len(g) // 2
    rows = torch.arange(n)[:, None].expand(n, len(g))
    columns = mirror_index(rows + torch.arange(len(g))[None, :] - r, n)
    B = torch.zeros(n, n, dtype=g.dtype)
    B.scatter_add_(1, columns, g[None, :].expand(n, len(g)).contiguous())
    return B


class ReflectGaussianBlur(SeparableOperator):
    """Gaussian blur with DPS's reflect boundary; ``A_h = A_w`` from :func:`reflect_correlation_matrix`."""

    task = "deblur_gauss"


def reflect_blur(image_shape, g: Tensor) -> ReflectGaussianBlur:
    """The reflect-boundary blur with the separable kernel ``g g^T`` (``g`` a 1-D float64 kernel)."""
    _, H, W = image_shape
    A_h, A_w = reflect_correlation_matrix(g, H)[None], reflect_correlation_matrix(g, W)[None]
    return ReflectGaussianBlur(image_shape, A_h, A_w)


def hartley(x: Tensor) -> Tensor:
    """Orthonormal 2-D discrete Hartley transform over the last two axes (an involution)."""
    X = torch.fft.fft2(x, norm="ortho")
    return X.real - X.imag


def periodic_embed(kernel: Tensor, H: int, W: int) -> Tensor:
    """Place ``(B, k, k)`` kernels on an ``H x W`` torus with their centre at pixel (0, 0).

    Kernels larger than the image wrap around (sum modulo the image size), which is exactly what a
    circular convolution does.
    """
    B, kh, kw = kernel.shape
    rows = (torch.arange(kh, device=kernel.device) - kh // 2) % H
    cols = (torch.arange(kw, device=kernel.device) - kw // 2) % W
    flat = (rows[:, None] * W + cols[None, :]).reshape(-1)
    out = kernel.new_zeros(B, H * W)
    out.index_add_(1, flat, kernel.reshape(B, -1))
    return out.reshape(B, H, W)


class Blur(LinearOperator):
    """Circular cross-correlation with per-sample kernels of shape ``(B or 1, k, k)``, ``k`` odd.

    ``(A x)[i, j] = sum_{a, b} k[a, b] x[(i + a - r) mod H, (j + b - r) mod W]``, ``r = k // 2``: the circular
    convolution with the kernel rotated by 180 degrees.
    """

    task = "blur"

    def __init__(self, image_shape, kernel: Tensor):
        super().__init__(image_shape)
        if kernel.dim() != 3 or kernel.shape[1] != kernel.shape[2] or kernel.shape[1] % 2 == 0:
            raise ValueError(f"{self.task}: kernel must have shape (B, k, k) with k odd, got {tuple(kernel.shape)}")
        self.kernel = kernel
        _, H, W = self.image_shape
        k_hat = torch.fft.fft2(periodic_embed(kernel.flip(-2, -1), H, W))[:, None]  # (B, 1, H, W)
        magnitude = k_hat.abs()
        self._s = magnitude
        self._phase = torch.where(magnitude > 0, k_hat / torch.where(magnitude > 0, magnitude, 1.0), 1.0 + 0j)

    @property
    def s(self):
        return self._s

    @property
    def measurement_shape(self):
        return self.image_shape

    def _allpass(self, y: Tensor, phase: Tensor) -> Tensor:
        return torch.fft.ifft2(phase * torch.fft.fft2(y)).real.to(y.dtype)

    def V_T(self, x):
        return hartley(x)

    def V(self, c):
        return hartley(c)

    def U_T(self, y):
        return hartley(self._allpass(y, self._phase.conj()))

    def U(self, c):
        return self._allpass(hartley(c), self._phase)

    def pixel_variance(self, var):
        """``V diag(var) V^T`` is circulant (``var`` is symmetric in frequency): its diagonal is ``mean(var)``."""
        mean = var.mean(dim=(-2, -1), keepdim=True)
        return mean.expand(var.shape[0], self.image_shape[0], *self.image_shape[1:])

    def params(self):
        return {"kernel": self.kernel}


class GaussianBlur(Blur):
    task = "deblur_gauss"


class MotionBlur(Blur):
    task = "deblur_motion"
