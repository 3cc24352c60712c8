"""Periodic (circular) blur ``A x = k * x`` applied to each channel, diagonalised by the Fourier transform.

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
    """Circular convolution with per-sample kernels of shape ``(B or 1, k, k)``."""

    task = "blur"

    def __init__(self, image_shape, kernel: Tensor):
        super().__init__(image_shape)
        if kernel.dim() != 3 or kernel.shape[1] != kernel.shape[2]:
            raise ValueError(f"{self.task}: kernel must have shape (B, k, k), got {tuple(kernel.shape)}")
        self.kernel = kernel
        _, H, W = self.image_shape
        k_hat = torch.fft.fft2(periodic_embed(kernel, H, W))[:, None]  # (B, 1, H, W)
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
