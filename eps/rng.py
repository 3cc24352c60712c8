"""Seeded randomness: every random draw in the project goes through an explicit ``torch.Generator``."""
from __future__ import annotations

import torch

Tensor = torch.Tensor


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    """A fresh generator seeded with ``seed`` on ``device``."""
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def randn_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """``N(0, I)`` noise with the shape, dtype and device of ``x`` drawn from ``generator``."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
