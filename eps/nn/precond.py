"""EDM preconditioning (Karras et al. 2022, Table 1, ``sigma_data = 0.5``) around a raw network ``F``.

    D(x; sigma) = c_skip(sigma) x + c_out(sigma) F(c_in(sigma) x, c_noise(sigma), cond, class_labels)

    c_skip = sigma_data^2 / (sigma^2 + sigma_data^2)        c_out   = sigma sigma_data / sqrt(sigma^2 + sigma_data^2)
    c_in   = 1 / sqrt(sigma^2 + sigma_data^2)               c_noise = ln(sigma) / 4

The same wrapper serves the unconditional prior, the EPS network (``x = mu_star``, ``sigma`` the scalar prior
noise level of the pivot, ``cond`` its conditioning maps) and Palette (``cond`` the degraded image), around
either architecture (DDPM++ :class:`eps.nn.UNet`, ADM :class:`eps.nn.adm.ADMUNet`); ``class_labels``
(``(B, label_dim)``, one-hot) reach a class-conditional ADM network.
"""
from __future__ import annotations

import torch
from torch import nn

Tensor = torch.Tensor


def edm_coefficients(sigma: Tensor, sigma_data: float = 0.5) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(c_skip, c_out, c_in, c_noise)`` of Table 1 at noise levels ``sigma`` (any shape, broadcast)."""
    sd2 = sigma_data**2
    return (sd2 / (sigma**2 + sd2), sigma * sigma_data / (sigma**2 + sd2).sqrt(), 1 / (sd2 + sigma**2).sqrt(),
            sigma.log() / 4)


class EDMPrecond(nn.Module):
    """``D(x, sigma, cond)`` for images ``(B, C, H, W)`` and noise levels of shape ``()``, ``(1,)`` or ``(B,)``."""

    sigma_data = 0.5

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, sigma: Tensor, cond: Tensor | None = None,
                class_labels: Tensor | None = None) -> Tensor:
        dtype = next(self.model.parameters()).dtype
        x_in = x.to(dtype)
        sigma = torch.as_tensor(sigma, device=x.device).to(dtype).reshape(-1, 1, 1, 1).expand(x.shape[0], 1, 1, 1)
        c_skip, c_out, c_in, c_noise = edm_coefficients(sigma, self.sigma_data)
        F_x = self.model(c_in * x_in, c_noise.flatten(), None if cond is None else cond.to(dtype), class_labels)
        return (c_skip * x_in + c_out * F_x).to(x.dtype)


__all__ = ["EDMPrecond", "edm_coefficients"]
