"""A DDPM++-style UNet (Song et al. 2021, as configured by Karras et al. 2022 for FFHQ-64), written here.

    noise embedding  e = SiLU(L1(SiLU(L0(pos(c_noise)))))      pos: sinusoidal, 10000^(-i/(n/2-1)), [sin | cos]
    residual block   h = conv0(SiLU(GN0(x))) ;  h = SiLU(GN1(h + affine(e))) ;  x' = (conv1(h) + skip(x)) / sqrt 2
                     optional self-attention: x'' = (proj(attn(qkv(GN2(x')))) + x') / sqrt 2
    down / up        2x2 average pooling / nearest up-sampling (the [1, 1] resampling filter) before conv0
    output           conv(SiLU(GN(h))) at full resolution

Module and parameter names follow the published EDM checkpoints (``enc['64x64_block0'].conv0.weight``,
``map_layer0``, ``dec['64x64_aux_conv']``, ...) so a converted state dict of the official DDPM++ weights loads
into it one to one (see :mod:`eps.nn.checkpoint`). Width and depth are config: ``model_channels=16,
channel_mult=(1, 2), num_blocks=1`` is a ~0.3M-parameter CPU net; ``128, (1, 2, 2, 2), 4`` is the paper's.

Extra conditioning images (EPS: measurement and certainty maps; Palette: the degraded image) enter through
``cond_conv``, a zero-initialised 3x3 convolution added to the first feature map: with zero weights the
network is exactly the unconditional one, which is what makes fine-tuning start at the pretrained denoiser.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import partial
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


@dataclass
class UNetConfig:
    """Architecture of :class:`UNet` (all fields are saved in checkpoints and must match on load)."""

    architecture: ClassVar[str] = "ddpmpp"  # saved with the fields; names the network class (eps.nn.checkpoint)
    img_resolution: int = 32
    in_channels: int = 3
    out_channels: int = 3
    cond_channels: int = 0  # extra conditioning channels through the zero-initialised ``cond_conv``
    precond: str = "edm"  # how an EPS network's output is read (eps.nn.anisotropic.PRECONDS): saved with it
    conditioning: str = ""  # what cond_conv reads (eps.nn.conditioning); "" = unconditional, or an older file
    model_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    channel_mult_emb: int = 4
    num_blocks: int = 1
    attn_resolutions: tuple[int, ...] = (8,)
    dropout: float = 0.0

    def __post_init__(self):
        from .anisotropic import check_precond  # the preconditionings live beside the pivot (eps.nn.anisotropic)

        check_precond(self.precond)
        self.channel_mult = tuple(int(m) for m in self.channel_mult)
        self.attn_resolutions = tuple(int(r) for r in self.attn_resolutions)
        if self.img_resolution % (2 ** (len(self.channel_mult) - 1)):
            raise ValueError(f"img_resolution {self.img_resolution} is not divisible by "
                             f"2^{len(self.channel_mult) - 1} (channel_mult {self.channel_mult})")

    def to_dict(self) -> dict:
        return {"architecture": self.architecture,
                **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}}

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        d = dict(d)
        architecture = d.pop("architecture", cls.architecture)
        if architecture != cls.architecture:
            raise ValueError(f"a {architecture!r} network config given to {cls.__name__} ({cls.architecture!r})")
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown {cls.architecture} config key(s) {sorted(unknown)}; "
                             f"valid: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)


def group_norm(channels: int, eps: float = 1e-6) -> nn.GroupNorm:
    """GroupNorm with at most 32 groups of at least 4 channels (the EDM convention; eps 1e-6 in DDPM++, 1e-5 in ADM)."""
    return nn.GroupNorm(num_groups=min(32, channels // 4), num_channels=channels, eps=eps)


def positional_embedding(c_noise: Tensor, channels: int, max_positions: int = 10000, dtype=torch.float32,
                         endpoint: bool = True, sin_first: bool = True) -> Tensor:
    """Transformer sinusoids of ``c_noise``: frequencies ``max_positions^(-i / (channels/2 - endpoint))``,
    ``i = 0 .. channels/2 - 1``, concatenated ``[sin | cos]`` (DDPM++: endpoint, sin first) or ``[cos | sin]``
    (ADM: no endpoint, cos first)."""
    half = channels // 2
    freqs = (1.0 / max_positions) ** (torch.arange(half, dtype=dtype, device=c_noise.device) / (half - int(endpoint)))
    angle = c_noise.to(dtype)[:, None] * freqs[None]
    parts = [angle.sin(), angle.cos()]
    return torch.cat(parts if sin_first else parts[::-1], dim=1)


class Resample(nn.Module):
    """2x down (average pooling) or up (nearest) sampling, optionally followed by a convolution."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, up: bool = False, down: bool = False):
        super().__init__()
        self.up, self.down = up, down
        if kernel:
            conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2)
            self.weight, self.bias = conv.weight, conv.bias

    def forward(self, x: Tensor) -> Tensor:
        if self.up:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        if self.down:
            x = F.avg_pool2d(x, 2)
        if hasattr(self, "weight"):
            x = F.conv2d(x, self.weight, self.bias, padding=self.weight.shape[-1] // 2)
        return x


class UNetBlock(nn.Module):
    """Residual block with noise-embedding conditioning, optional 2x resampling and optional attention.

    One block serves both EDM architectures (the DDPM++ defaults; ADM in :mod:`eps.nn.adm`):

        h  = conv0(SiLU(GN0(x)))
        h  = SiLU(GN1(h + affine(e)))                      shift (DDPM++)
        h  = SiLU(shift + GN1(h) (1 + scale)),  [scale | shift] = affine(e)       adaptive_scale (ADM)
        x' = (conv1(h) + skip(x)) skip_scale
        x''= (proj(attn(qkv(GN2(x')))) + x') skip_scale     attention over ``num_heads`` heads of C/num_heads channels

    ``skip`` is a 1x1 convolution when the width changes, or with ``resample_proj`` on a resampling block;
    otherwise a resampling block skips through bare resampling (ADM).
    """

    def __init__(self, in_channels: int, out_channels: int, emb_channels: int, up: bool = False, down: bool = False,
                 attention: bool = False, dropout: float = 0.0, *, num_heads: int = 1, adaptive_scale: bool = False,
                 skip_scale: float = math.sqrt(0.5), eps: float = 1e-6, resample_proj: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.adaptive_scale, self.skip_scale = adaptive_scale, skip_scale
        self.num_heads = num_heads if attention else 0
        self.norm0 = group_norm(in_channels, eps)
        self.conv0 = Resample(in_channels, out_channels, 3, up=up, down=down)
        self.affine = nn.Linear(emb_channels, out_channels * (2 if adaptive_scale else 1))
        self.norm1 = group_norm(out_channels, eps)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels or up or down:
            kernel = 1 if resample_proj or in_channels != out_channels else 0
            self.skip = Resample(in_channels, out_channels, kernel, up=up, down=down)
        if self.num_heads:
            if out_channels % self.num_heads:
                raise ValueError(f"{out_channels} channels do not split into {self.num_heads} attention heads")
            self.norm2 = group_norm(out_channels, eps)
            self.qkv = nn.Conv2d(out_channels, 3 * out_channels, 1)
            self.proj = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv0(F.silu(self.norm0(x)))
        params = self.affine(emb)[:, :, None, None]
        if self.adaptive_scale:
            scale, shift = params.chunk(2, dim=1)
            h = F.silu(torch.addcmul(shift, self.norm1(h), scale + 1))
        else:
            h = F.silu(self.norm1(h + params))
        h = self.conv1(self.dropout(h))
        x = (h + (self.skip(x) if hasattr(self, "skip") else x)) * self.skip_scale
        if self.num_heads:
            B, C, H, W = x.shape
            c = C // self.num_heads  # channels per head; qkv channels are ordered (head, channel, q|k|v)
            q, k, v = self.qkv(self.norm2(x)).reshape(B * self.num_heads, c, 3, H * W).unbind(2)
            w = torch.softmax(torch.einsum("ncq,nck->nqk", q, k) / math.sqrt(c), dim=2)
            a = torch.einsum("nqk,nck->ncq", w, v).reshape(B, C, H, W)
            x = (self.proj(a) + x) * self.skip_scale
        return x


class EncoderDecoder(nn.Module):
    """The U-Net skeleton EDM's DDPM++ (:class:`UNet`) and ADM (:class:`eps.nn.adm.ADMUNet`) share.

    encoder   level 0: 3x3 conv to ``first_channels``; level l > 0: a down block; then ``num_blocks`` blocks
              of width ``model_channels * channel_mult[l]``, attention where the resolution is in
              ``attn_resolutions``; every output is kept as a skip
    decoder   lowest level: ``in0`` (attention) and ``in1``; other levels: an up block; then ``num_blocks + 1``
              blocks on ``[x | skip]``, attention at ``attn_resolutions`` in the last block of a level
              (DDPM++) or in every block (ADM, ``attend_every_decoder_block``)

    Subclasses set ``config``, the mapping network (:meth:`embedding`), the output head (:meth:`output`) and
    ``cond_conv`` (extra conditioning channels, zero-initialised, added to the first feature map).
    """

    def build_levels(self, block, first_channels: int, attend_every_decoder_block: bool) -> int:
        """Fill ``self.enc`` and ``self.dec`` with ``block(cin, cout, up=, down=, attention=)``; the final width."""
        cfg = self.config
        self.enc, self.dec = nn.ModuleDict(), nn.ModuleDict()
        skips, cout = [], cfg.in_channels
        for level, mult in enumerate(cfg.channel_mult):
            res = cfg.img_resolution >> level
            if level == 0:
                cout = first_channels
                self.enc[f"{res}x{res}_conv"] = nn.Conv2d(cfg.in_channels, cout, 3, padding=1)
            else:
                self.enc[f"{res}x{res}_down"] = block(cout, cout, down=True)
            skips.append(cout)
            for idx in range(cfg.num_blocks):
                cin, cout = cout, cfg.model_channels * mult
                self.enc[f"{res}x{res}_block{idx}"] = block(cin, cout, attention=res in cfg.attn_resolutions)
                skips.append(cout)
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            res = cfg.img_resolution >> level
            if level == len(cfg.channel_mult) - 1:
                self.dec[f"{res}x{res}_in0"] = block(cout, cout, attention=True)
                self.dec[f"{res}x{res}_in1"] = block(cout, cout)
            else:
                self.dec[f"{res}x{res}_up"] = block(cout, cout, up=True)
            for idx in range(cfg.num_blocks + 1):
                cin, cout = cout + skips.pop(), cfg.model_channels * mult
                attn = res in cfg.attn_resolutions and (attend_every_decoder_block or idx == cfg.num_blocks)
                self.dec[f"{res}x{res}_block{idx}"] = block(cin, cout, attention=attn)
        if cfg.cond_channels:
            self.cond_conv = zero_(nn.Conv2d(cfg.cond_channels, first_channels, 3, padding=1))
        return cout

    def embedding(self, c_noise: Tensor, class_labels: Tensor | None) -> Tensor:
        raise NotImplementedError

    def output(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None,
                class_labels: Tensor | None = None) -> Tensor:
        cfg = self.config
        if (cond is None) != (cfg.cond_channels == 0):
            raise ValueError(f"this network expects {cfg.cond_channels} conditioning channels, got "
                             f"{'none' if cond is None else cond.shape[1]}")
        emb = self.embedding(c_noise, class_labels)
        skips = []
        for module in self.enc.values():
            if isinstance(module, UNetBlock):
                x = module(x, emb)
            else:
                x = module(x)
                if cond is not None:
                    x = x + self.cond_conv(cond)
            skips.append(x)
        for module in self.dec.values():
            if isinstance(module, UNetBlock):
                if x.shape[1] != module.in_channels:
                    x = torch.cat([x, skips.pop()], dim=1)
                x = module(x, emb)
        return self.output(x)


class UNet(EncoderDecoder):
    """DDPM++: ``F(x_in, c_noise, cond) -> output``, the raw network inside the EDM preconditioning (unconditional:
    no class labels)."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        emb = cfg.model_channels * cfg.channel_mult_emb
        self.map_layer0 = nn.Linear(cfg.model_channels, emb)
        self.map_layer1 = nn.Linear(emb, emb)
        block = partial(UNetBlock, emb_channels=emb, dropout=cfg.dropout)
        cout = self.build_levels(block, cfg.model_channels, attend_every_decoder_block=False)
        res = cfg.img_resolution
        self.dec[f"{res}x{res}_aux_norm"] = group_norm(cout)
        self.dec[f"{res}x{res}_aux_conv"] = nn.Conv2d(cout, cfg.out_channels, 3, padding=1)

    def embedding(self, c_noise, class_labels):
        if class_labels is not None:
            raise ValueError("this DDPM++ network is unconditional: it takes no class labels")
        pos = positional_embedding(c_noise, self.config.model_channels, dtype=self.map_layer0.weight.dtype)
        return F.silu(self.map_layer1(F.silu(self.map_layer0(pos))))

    def output(self, x):
        res = self.config.img_resolution
        return self.dec[f"{res}x{res}_aux_conv"](F.silu(self.dec[f"{res}x{res}_aux_norm"](x)))


def zero_(module: nn.Module) -> nn.Module:
    """Zero every parameter of ``module`` in place (zero-initialised layers)."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    return module


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["UNet", "UNetConfig", "UNetBlock", "EncoderDecoder", "Resample", "group_norm", "positional_embedding",
           "num_parameters", "zero_"]
