"""The prior as a method sees it: every denoiser call counted (NFE, vector-Jacobian products), optionally
checked for non-finite output, and nothing else reachable.

:class:`CountingPrior` spells out the :class:`~eps.methods.registry.Prior` protocol: the denoiser entry points
``denoise``, ``denoise_pivot``, ``denoise_palette`` are counted, ``image_shape`` and ``interpolant`` are read
through; there is no pass-through of other attributes, so a method that calls a denoiser entry point the wrapper
does not define fails with an ``AttributeError`` instead of running uncounted (a new entry point is one method
here). The prior itself stays reachable as ``.prior`` (e.g. to draw training samples of an analytic
prior, which is not a network evaluation).
"""
from __future__ import annotations

import torch

Tensor = torch.Tensor

class CountingPrior:
    """Counts network forward passes (``forward``) and vector-Jacobian products (``vjp``) per sample row.

    With ``what`` set, the first non-finite denoiser output stops the run with a ``FloatingPointError`` naming
    ``what`` and the call (one call per sampler step)."""

    def __init__(self, prior, what: str | None = None):
        self.prior, self.what, self.forward, self.vjp = prior, what, 0, 0

    @property
    def image_shape(self):
        return self.prior.image_shape

    @property
    def interpolant(self):
        return self.prior.interpolant

    def count(self, out: Tensor) -> Tensor:
        """Count one forward pass (also of a network the method holds itself, e.g. one it trained)."""
        self.forward += 1
        if self.what is not None and not torch.isfinite(out.detach()).all():
            raise FloatingPointError(f"{self.what}: denoiser call {self.forward} (sampler step) returned "
                                     "non-finite values; nothing written")
        if out.requires_grad:
            out.register_hook(self._count_vjp)
        return out

    def _count_vjp(self, grad: Tensor) -> None:
        self.vjp += 1

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.count(self.prior.denoise(x, sigma))

    def denoise_pivot(self, pivot) -> Tensor:
        return self.count(self.prior.denoise_pivot(pivot))

    def denoise_palette(self, x: Tensor, sigma: Tensor, condition: Tensor) -> Tensor:
        return self.count(self.prior.denoise_palette(x, sigma, condition))


__all__ = ["CountingPrior"]
