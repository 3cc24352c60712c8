"""Seeded randomness: every random draw in the project goes through an explicit ``torch.Generator``."""
from __future__ import annotations

import zlib

import torch

Tensor = torch.Tensor


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh generator seeded with ``seed`` on ``device``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def stream_seed(*keys) -> int:
    """A 32-bit seed for an independent random stream named by ``keys`` (e.g. ``(seed, task, "operator")``):
    the CRC-32 of ``"k1/k2/..."``. Torch's CPU generator keeps only 32 bits of a seed, so bit-packing several
    numbers into one seed would collide; a stream's draws do not depend on what ran before it."""
    return zlib.crc32("/".join(map(str, keys)).encode())


def randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """``N(0, I)`` noise with the shape, dtype and device of ``x`` drawn from ``generator``."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
