"""A network-backed :class:`eps.methods.Prior`: the unconditional, EPS and Palette denoisers from checkpoints.

    denoise(x~, sigma)                 D_theta(x~; sigma)                            unconditional EDM denoiser
    denoise_pivot(pivot)               D_theta(mu_star; sigma, [x_y, c, r])          EPS network (eps.nn.conditioning;
                                                                                      [x_y, c] for a "pixel" network)
    denoise_palette(x~, sigma, cond)   D_theta(x~; sigma, x_y)                       Palette network

Gradients flow through ``denoise`` (the parameters are frozen, inputs are not), as DPS-style baselines need.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ..interpolants import EDM
from ..posterior import Pivot
from .checkpoint import load_network
from .conditioning import condition_for, conditioning_of
from .precond import EDMPrecond

Tensor = torch.Tensor


class NetworkPrior:
    """Denoisers of a trained prior; ``eps_net`` and ``palette_net`` are optional."""

    def __init__(self, net: EDMPrecond, eps_net: EDMPrecond | None = None, palette_net: EDMPrecond | None = None):
        cfg = net.model.config
        self.image_shape = (cfg.in_channels, cfg.img_resolution, cfg.img_resolution)
        self.interpolant = EDM()
        self.net, self.eps_net, self.palette_net = net, eps_net, palette_net
        for other, what in ((eps_net, "EPS"), (palette_net, "Palette")):
            if other is not None and other.model.config.img_resolution != cfg.img_resolution:
                raise ValueError(f"{what} network resolution {other.model.config.img_resolution} does not match "
                                 f"the prior's {cfg.img_resolution}")
        self.condition = None if eps_net is None else condition_for(
            conditioning_of(eps_net.model.config.cond_channels, cfg.in_channels))

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.net(x, sigma)

    def denoise_pivot(self, pivot: Pivot) -> Tensor:
        if self.eps_net is None:
            raise ValueError("this prior has no EPS network: pass eps_ckpt to load_prior")
        return self.eps_net(pivot.mu_star, pivot.sigma, self.condition(pivot))

    def denoise_palette(self, x: Tensor, sigma: Tensor, condition: Tensor) -> Tensor:
        if self.palette_net is None:
            raise ValueError("this prior has no Palette network: pass palette_ckpt to load_prior")
        return self.palette_net(x, sigma, condition)


def load_prior(prior_ckpt: str | Path, eps_ckpt: str | Path | None = None, palette_ckpt: str | Path | None = None,
               device: str | torch.device = "cpu") -> NetworkPrior:
    """A :class:`NetworkPrior` from network files or training checkpoints (EMA weights)."""
    return NetworkPrior(load_network(prior_ckpt, device),
                        None if eps_ckpt is None else load_network(eps_ckpt, device),
                        None if palette_ckpt is None else load_network(palette_ckpt, device))


__all__ = ["NetworkPrior", "load_prior"]
