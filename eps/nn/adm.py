"""ADM (Dhariwal & Nichol 2021) as configured by Karras et al. 2022 for class-conditional ImageNet-64, written here.

The architecture of EDM's published ``edm-imagenet-64x64-cond-adm.pkl`` (``EDMPrecond`` around ``DhariwalUNet``,
NVlabs/edm ``training/networks.py`` at commit 008a4e5, whose facts and equations this follows):

    embedding      e = SiLU(L1(SiLU(L0(pos(c_noise)))) + W_label c)        pos: 10000^(-i/(n/2)), [cos | sin];
                   c the one-hot class vector (``label_dim`` classes), ``W_label`` without bias
    residual block h = conv0(SiLU(GN0(x))) ;  h = SiLU(shift + GN1(h) (1 + scale)) ;  x' = conv1(h) + skip(x)
                   [scale | shift] = affine(e) (adaptive scale);  skip: 1x1 conv when the width changes, bare
                   resampling on a down/up block of unchanged width; skip scale 1; GroupNorm eps 1e-5
    attention      multi-head, ``channels / channels_per_head`` heads (64 channels each), at 32, 16 and 8 px,
                   in every encoder and decoder block of those resolutions, and in the middle block ``in0``
    output         out_conv(SiLU(out_norm(h)))

with EDM's ImageNet-64 hyper-parameters as defaults: 192 channels, multipliers (1, 2, 3, 4), 3 blocks per
resolution, embedding 4x192, dropout 0.10 (``train.py --arch=adm --dropout=0.10`` in the EDM README), label
dropout 0 (EDM's ``train.py`` has no option for it, so the published network never saw the zero label vector).
Module and parameter names are EDM's (``enc['32x32_block0'].affine``, ``map_label``, ``out_conv``) so a
converted state dict loads one to one; the skeleton and the blocks are those of :mod:`eps.nn.unet`.

Class labels: a ``(B, label_dim)`` vector (one-hot for a class). A network trained with label dropout
(``label_dropout > 0``) also denoises unconditionally at the zero vector; one trained without it (the
published ImageNet-64 network) refuses to run without labels rather than evaluate an input it never saw.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from .unet import EncoderDecoder, UNetBlock, UNetConfig, group_norm, positional_embedding

Tensor = torch.Tensor
ADM_GROUPNORM_EPS = 1e-5  # torch's default, which EDM's GroupNorm keeps for ADM (DDPM++ uses 1e-6)


@dataclass
class ADMConfig(UNetConfig):
    """Architecture of :class:`ADMUNet`; the defaults are EDM's ImageNet-64 network."""

    architecture: ClassVar[str] = "adm"
    img_resolution: int = 64
    model_channels: int = 192
    channel_mult: tuple[int, ...] = (1, 2, 3, 4)
    num_blocks: int = 3
    attn_resolutions: tuple[int, ...] = (32, 16, 8)
    dropout: float = 0.10
    label_dim: int = 0  # 1000 for ImageNet; 0 = unconditional
    label_dropout: float = 0.0
    channels_per_head: int = 64


class ADMUNet(EncoderDecoder):
    """``F(x_in, c_noise, cond, class_labels) -> output``, the raw network inside the EDM preconditioning."""

    def __init__(self, config: ADMConfig):
        super().__init__()
        self.config = cfg = config
        emb = cfg.model_channels * cfg.channel_mult_emb
        self.map_layer0 = nn.Linear(cfg.model_channels, emb)
        self.map_layer1 = nn.Linear(emb, emb)
        if cfg.label_dim:
            self.map_label = nn.Linear(cfg.label_dim, emb, bias=False)
        block = partial(adm_block, emb_channels=emb, dropout=cfg.dropout, channels_per_head=cfg.channels_per_head)
        cout = self.build_levels(block, cfg.model_channels * cfg.channel_mult[0], attend_every_decoder_block=True)
        self.out_norm = group_norm(cout, ADM_GROUPNORM_EPS)
        self.out_conv = nn.Conv2d(cout, cfg.out_channels, 3, padding=1)

    def embedding(self, c_noise, class_labels):
        cfg = self.config
        pos = positional_embedding(c_noise, cfg.model_channels, dtype=self.map_layer0.weight.dtype, endpoint=False,
                                   sin_first=False)
        e = self.map_layer1(F.silu(self.map_layer0(pos)))
        if not cfg.label_dim:
            if class_labels is not None:
                raise ValueError("this ADM network is unconditional (label_dim 0): it takes no class labels")
            return F.silu(e)
        if class_labels is None:
            if not cfg.label_dropout:
                raise ValueError(f"this ADM network is class-conditional ({cfg.label_dim} classes) and was trained "
                                 "without label dropout: it needs the class labels (no unconditional route)")
            class_labels = torch.zeros(1, cfg.label_dim, dtype=e.dtype, device=e.device)  # the dropped label
        c = class_labels.to(e.dtype).reshape(-1, cfg.label_dim)
        if self.training and cfg.label_dropout:
            c = c * (torch.rand(c.shape[0], 1, device=c.device) >= cfg.label_dropout).to(c.dtype)
        return F.silu(e + self.map_label(c))

    def output(self, x):
        return self.out_conv(F.silu(self.out_norm(x)))


def adm_block(in_channels: int, out_channels: int, emb_channels: int, up: bool = False, down: bool = False,
             attention: bool = False, dropout: float = 0.0, channels_per_head: int = 64) -> UNetBlock:
    """A :class:`UNetBlock` with ADM's settings: adaptive scale, skip scale 1, GroupNorm eps 1e-5, resampling
    skips without projection, ``out_channels // channels_per_head`` attention heads (none if that is 0, as in EDM)."""
    heads = out_channels // channels_per_head
    return UNetBlock(in_channels, out_channels, emb_channels, up=up, down=down, attention=attention and heads > 0,
                     dropout=dropout, num_heads=max(heads, 1), adaptive_scale=True, skip_scale=1.0,
                     eps=ADM_GROUPNORM_EPS, resample_proj=False)


__all__ = ["ADMConfig", "ADMUNet", "adm_block"]
