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

import torch
import torch.nn.functional as F
from torch import nn

Tensor = torch.Tensor


@dataclass
class UNetConfig:
    """Architecture of :class:`UNet` (all fields are saved in checkpoints and must match on load)."""

    img_resolution: int = 32
    in_channels: int = 3
    out_channels: int = 3
    cond_channels: int = 0  # extra conditioning channels through the zero-initialised ``cond_conv``
    model_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    channel_mult_emb: int = 4
    num_blocks: int = 1
    attn_resolutions: tuple[int, ...] = (8,)
    dropout: float = 0.0

    def __post_init__(self):
        self.channel_mult = tuple(int(m) for m in self.channel_mult)
        self.attn_resolutions = tuple(int(r) for r in self.attn_resolutions)
        if self.img_resolution % (2 ** (len(self.channel_mult) - 1)):
            raise ValueError(f"img_resolution {self.img_resolution} is not divisible by "
                             f"2^{len(self.channel_mult) - 1} (channel_mult {self.channel_mult})")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "UNetConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown UNet config key(s) {sorted(unknown)}; valid: {sorted(cls.__dataclass_fields__)}")
        return cls(**d)


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with at most 32 groups of at least 4 channels, eps 1e-6 (the EDM convention)."""
    return nn.GroupNorm(num_groups=min(32, channels // 4), num_channels=channels, eps=1e-6)


def positional_embedding(c_noise: Tensor, channels: int, max_positions: int = 10000, dtype=torch.float32) -> Tensor:
    """Transformer sinusoids of ``c_noise``: frequencies ``max_positions^(-i / (channels/2 - 1))``, ``[sin | cos]``."""
    half = channels // 2
    freqs = (1.0 / max_positions) ** (torch.arange(half, dtype=dtype, device=c_noise.device) / (half - 1))
    angle = c_noise.to(dtype)[:, None] * freqs[None]
    return torch.cat([angle.sin(), angle.cos()], dim=1)


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
    """Residual block with noise-embedding shift, optional 2x resampling and optional single-head attention."""

    def __init__(self, in_channels: int, out_channels: int, emb_channels: int, up: bool = False, down: bool = False,
                 attention: bool = False, dropout: float = 0.0):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.norm0 = group_norm(in_channels)
        self.conv0 = Resample(in_channels, out_channels, 3, up=up, down=down)
        self.affine = nn.Linear(emb_channels, out_channels)
        self.norm1 = group_norm(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv1 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        if in_channels != out_channels or up or down:
            self.skip = Resample(in_channels, out_channels, 1, up=up, down=down)
        if attention:
            self.norm2 = group_norm(out_channels)
            self.qkv = nn.Conv2d(out_channels, 3 * out_channels, 1)
            self.proj = nn.Conv2d(out_channels, out_channels, 1)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        skip_scale = math.sqrt(0.5)
        h = self.conv0(F.silu(self.norm0(x)))
        h = F.silu(self.norm1(h + self.affine(emb)[:, :, None, None]))
        h = self.conv1(self.dropout(h))
        x = (h + (self.skip(x) if hasattr(self, "skip") else x)) * skip_scale
        if hasattr(self, "qkv"):
            B, C, H, W = x.shape
            q, k, v = self.qkv(self.norm2(x)).reshape(B, C, 3, H * W).unbind(2)
            w = torch.softmax(torch.einsum("bcq,bck->bqk", q, k) / math.sqrt(C), dim=2)
            a = torch.einsum("bqk,bck->bcq", w, v).reshape(B, C, H, W)
            x = (self.proj(a) + x) * skip_scale
        return x


class UNet(nn.Module):
    """``F(x_in, c_noise, cond) -> output`` — the raw network inside the EDM preconditioning."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = cfg = config
        mc = cfg.model_channels
        emb = mc * cfg.channel_mult_emb
        self.map_layer0 = nn.Linear(mc, emb)
        self.map_layer1 = nn.Linear(emb, emb)
        block = dict(emb_channels=emb, dropout=cfg.dropout)

        self.enc = nn.ModuleDict()
        skips, cout = [], cfg.in_channels
        for level, mult in enumerate(cfg.channel_mult):
            res = cfg.img_resolution >> level
            if level == 0:
                cout = mc
                self.enc[f"{res}x{res}_conv"] = nn.Conv2d(cfg.in_channels, cout, 3, padding=1)
            else:
                self.enc[f"{res}x{res}_down"] = UNetBlock(cout, cout, down=True, **block)
            skips.append(cout)
            for idx in range(cfg.num_blocks):
                cin, cout = cout, mc * mult
                self.enc[f"{res}x{res}_block{idx}"] = UNetBlock(cin, cout, attention=res in cfg.attn_resolutions,
                                                                **block)
                skips.append(cout)

        self.dec = nn.ModuleDict()
        for level, mult in reversed(list(enumerate(cfg.channel_mult))):
            res = cfg.img_resolution >> level
            if level == len(cfg.channel_mult) - 1:
                self.dec[f"{res}x{res}_in0"] = UNetBlock(cout, cout, attention=True, **block)
                self.dec[f"{res}x{res}_in1"] = UNetBlock(cout, cout, **block)
            else:
                self.dec[f"{res}x{res}_up"] = UNetBlock(cout, cout, up=True, **block)
            for idx in range(cfg.num_blocks + 1):
                cin, cout = cout + skips.pop(), mc * mult
                attn = idx == cfg.num_blocks and res in cfg.attn_resolutions
                self.dec[f"{res}x{res}_block{idx}"] = UNetBlock(cin, cout, attention=attn, **block)
        self.dec[f"{cfg.img_resolution}x{cfg.img_resolution}_aux_norm"] = group_norm(cout)
        self.dec[f"{cfg.img_resolution}x{cfg.img_resolution}_aux_conv"] = nn.Conv2d(cout, cfg.out_channels, 3,
                                                                                     padding=1)
        if cfg.cond_channels:
            self.cond_conv = nn.Conv2d(cfg.cond_channels, mc, 3, padding=1)
            zero_(self.cond_conv)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None) -> Tensor:
        cfg = self.config
        if (cond is None) != (cfg.cond_channels == 0):
            raise ValueError(f"this network expects {cfg.cond_channels} conditioning channels, got "
                             f"{'none' if cond is None else cond.shape[1]}")
        pos = positional_embedding(c_noise, cfg.model_channels, dtype=self.map_layer0.weight.dtype)
        emb = F.silu(self.map_layer1(F.silu(self.map_layer0(pos))))
        skips = []
        for name, module in self.enc.items():
            if isinstance(module, UNetBlock):
                x = module(x, emb)
            else:
                x = module(x)
                if cond is not None:
                    x = x + self.cond_conv(cond)
            skips.append(x)
        for name, module in self.dec.items():
            if name.endswith("aux_norm"):
                x = module(x)
            elif name.endswith("aux_conv"):
                x = module(F.silu(x))
            else:
                if x.shape[1] != module.in_channels:
                    x = torch.cat([x, skips.pop()], dim=1)
                x = module(x, emb)
        return x


def zero_(module: nn.Module) -> nn.Module:
    """Zero every parameter of ``module`` in place (zero-initialised layers)."""
    with torch.no_grad():
        for p in module.parameters():
            p.zero_()
    return module


def num_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["UNet", "UNetConfig", "UNetBlock", "positional_embedding", "num_parameters", "zero_"]
