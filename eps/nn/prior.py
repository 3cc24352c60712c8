"""A network-backed :class:`eps.methods.Prior`: the unconditional, EPS and Palette denoisers from checkpoints.

    denoise(x~, sigma)                 D_theta(x~; sigma)                            unconditional EDM denoiser
    denoise_pivot(pivot)               D_theta(mu_star; sigma, observation image)    EPS network (eps.nn.conditioning:
                                                                                      its saved conditioning, e.g.
                                                                                      [x_y, c, r]; per-direction c_skip,
                                                                                      c_out for an "anisotropic" one)
    denoise_palette(x~, sigma, cond)   D_theta(x~; sigma, cond)                      Palette network (cond: palette_condition
                                                                                      with ``palette_conditioning``)

Gradients flow through ``denoise`` (the parameters are frozen, inputs are not), as DPS-style baselines need.

A class-conditional backbone (EDM's ImageNet-64 ADM, ``label_dim`` 1000) and the EPS network fine-tuned from it
take the class of each row: :meth:`NetworkPrior.with_class_labels` binds them (the true label of each test
image, repeated over its K samples) to every call of those networks; DDPM++ networks (Palette) take none.
"""
from __future__ import annotations

import copy
from pathlib import Path

import torch
import torch.nn.functional as F

from ..interpolants import EDM
from ..posterior import Pivot
from .anisotropic import anisotropic_denoised
from .checkpoint import load_network
from .conditioning import condition_for, conditioning_of
from .precond import EDMPrecond

Tensor = torch.Tensor


class NetworkPrior:
    """Denoisers of a trained prior; ``eps_net`` and ``palette_net`` are optional."""

    class_labels: Tensor | None = None  # one-hot (rows, label_dim), bound by with_class_labels

    def __init__(self, net: EDMPrecond, eps_net: EDMPrecond | None = None, palette_net: EDMPrecond | None = None):
        cfg = net.model.config
        self.image_shape = (cfg.in_channels, cfg.img_resolution, cfg.img_resolution)
        self.interpolant = EDM()
        self.net, self.eps_net, self.palette_net = net, eps_net, palette_net
        for other, what in ((eps_net, "EPS"), (palette_net, "Palette")):
            if other is not None and other.model.config.img_resolution != cfg.img_resolution:
                raise ValueError(f"{what} network resolution {other.model.config.img_resolution} does not match "
                                 f"the prior's {cfg.img_resolution}")
        self.condition = None if eps_net is None else condition_for(conditioning_of(eps_net.model.config))
        self.palette_conditioning = None if palette_net is None else conditioning_of(palette_net.model.config)

    @property
    def label_dim(self) -> int:
        """Classes of the backbone (0: unconditional)."""
        return getattr(self.net.model.config, "label_dim", 0)

    def with_class_labels(self, labels: Tensor | None) -> "NetworkPrior":
        """This prior with the class indices ``labels`` (one per row of every later call) bound as one-hot vectors."""
        bound = copy.copy(self)
        if labels is not None:
            if not self.label_dim:
                raise ValueError("class labels given, but the backbone is unconditional (label_dim 0)")
            if labels.min() < 0 or labels.max() >= self.label_dim:
                raise ValueError(f"class labels must lie in [0, {self.label_dim}), got {labels.min()}..{labels.max()}")
            labels = F.one_hot(labels.long(), self.label_dim).to(torch.float32)
        bound.class_labels = labels
        return bound

    def _labels(self, net: EDMPrecond, x: Tensor) -> Tensor | None:
        """The bound labels for a call of ``net`` on ``x`` (none for networks without classes)."""
        if not getattr(net.model.config, "label_dim", 0) or self.class_labels is None:
            return None
        if self.class_labels.shape[0] != x.shape[0]:
            raise ValueError(f"{self.class_labels.shape[0]} class labels bound, the call has {x.shape[0]} rows")
        return self.class_labels.to(x.device)

    def denoise(self, x: Tensor, sigma: Tensor) -> Tensor:
        return self.net(x, sigma, class_labels=self._labels(self.net, x))

    def denoise_pivot(self, pivot: Pivot) -> Tensor:
        if self.eps_net is None:
            raise ValueError("this prior has no EPS network: pass eps_ckpt to load_prior")
        D = self.eps_net(pivot.mu_star, pivot.sigma, self.condition(pivot),
                         class_labels=self._labels(self.eps_net, pivot.mu_star))
        return anisotropic_denoised(pivot, D) if self.eps_net.model.config.precond == "anisotropic" else D

    def denoise_palette(self, x: Tensor, sigma: Tensor, condition: Tensor) -> Tensor:
        if self.palette_net is None:
            raise ValueError("this prior has no Palette network: pass palette_ckpt to load_prior")
        return self.palette_net(x, sigma, condition, class_labels=self._labels(self.palette_net, x))


def load_prior(prior_ckpt: str | Path, eps_ckpt: str | Path | None = None, palette_ckpt: str | Path | None = None,
               device: str | torch.device = "cpu") -> NetworkPrior:
    """A :class:`NetworkPrior` from network files or training checkpoints (EMA weights)."""
    return NetworkPrior(load_network(prior_ckpt, device),
                        None if eps_ckpt is None else load_network(eps_ckpt, device),
                        None if palette_ckpt is None else load_network(palette_ckpt, device))


__all__ = ["NetworkPrior", "load_prior"]
