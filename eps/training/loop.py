"""The training loop shared by every network of the project: Adam, learning-rate ramp-up, EMA, DDP.

Each step draws a GLOBAL batch (indices, noise levels, noise, operators) from the state's generator and
every data-parallel rank keeps its slice ``[rank B/W, (rank + 1) B/W)``: with gradients averaged across ranks
the update equals the single-process one with the same global batch, and the run is a pure function of
the seed and the state, so resuming from a checkpoint continues the exact same sequence.

    lr_k   = lr min(1, (k + 1) / lr_rampup)                                    (EDM's linear ramp-up)
    ema_k  = beta_k ema_{k-1} + (1 - beta_k) theta_k

    beta_k = 0.5^(1 / min(halflife, ema_rampup k))                 with ``ema_rampup`` (EDM's ramp-up ratio, Karras
                                                                   et al. 2022 training_loop.py: half-life in images
                                                                   min(ema_halflife_kimg 1000, ratio cur_nimg), here
                                                                   in steps: cur_nimg = k batch; beta_0 = 0)
    beta_k = min(0.5^(1/halflife), (k + 1) / (k + 10))             without (this project's earlier ramp)

with ``k`` the number of steps taken before this one, the half-life in steps (``eps train`` converts the budgets
in images: App. B of the EPS paper states the EDM stack, half-life 500 kimg and ratio 0.05).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from .objectives import denoising_loss, network_inputs

Tensor = torch.Tensor


@dataclass
class TrainState:
    """Everything a step changes (and a checkpoint must hold)."""

    net: torch.nn.Module
    ema: torch.nn.Module
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    step: int = 0


def new_state(net: torch.nn.Module, lr: float, seed: int) -> TrainState:
    """Fresh Adam state (betas 0.9/0.999, eps 1e-8 as in EDM), an EMA copy and a seeded generator."""
    g = torch.Generator().manual_seed(int(seed))
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    return TrainState(net, ema, torch.optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8), g)


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the initialised process group, ``(0, 1)`` without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def ema_beta(step: int, halflife: float, rampup: float | None = None) -> float:
    """``beta_k`` of the module doc (``step`` = k, ``halflife`` in steps, ``rampup`` EDM's ratio or None)."""
    if rampup is None:
        return min(0.5 ** (1.0 / halflife), (step + 1) / (step + 10))
    h = min(halflife, rampup * step)
    return 0.5 ** (1.0 / h) if h > 0 else 0.0


@torch.no_grad()
def update_ema(ema: torch.nn.Module, net: torch.nn.Module, step: int, halflife: float,
               rampup: float | None = None) -> None:
    beta = ema_beta(step, halflife, rampup)
    for p_ema, p in zip(ema.parameters(), net.parameters()):
        p_ema.lerp_(p.detach(), 1 - beta)


def run_steps(state: TrainState, images: Tensor, until: int, *, kind: str, batch: int, lr: float, lr_rampup: int,
              ema_halflife: float, sigma_y: float = 0.05, tasks={}, device="cpu",
              conditioning: str = "observation", precond: str = "edm", sigma_draw: str = "lognormal",
              ema_rampup: float | None = None, on_step: Callable[[TrainState, float], None] | None = None,
              labels: Tensor | None = None) -> TrainState:
    """Train ``state`` on ``images`` (``(N, C, H, W)`` in [-1, 1], on the CPU) up to step ``until``;
    ``tasks`` maps each operator task drawn (kinds eps, palette) to its parameters; ``labels`` (one class
    index per image) enter a class-conditional network as one-hot vectors; ``conditioning``, ``precond`` and
    ``sigma_draw`` are those of :func:`eps.training.objectives.network_inputs`."""
    rank, world_size = world()
    if batch % world_size:
        raise ValueError(f"batch {batch} is not divisible by the number of processes {world_size}")
    local = slice(rank * batch // world_size, (rank + 1) * batch // world_size)
    model = DistributedDataParallel(state.net) if world_size > 1 else state.net
    state.net.train()
    while state.step < until:
        index = torch.randint(len(images), (batch,), generator=state.generator)
        x0 = images[index]
        c = None if labels is None else F.one_hot(labels[index].long(), state.net.model.config.label_dim).float()
        x_in, sigma, cond, target = network_inputs(kind, x0, state.generator, sigma_y, tasks, conditioning, precond,
                                                   sigma_draw)
        to = lambda t: None if t is None else t[local].to(device)  # noqa: E731  (this rank's slice)
        for group in state.optimizer.param_groups:
            group["lr"] = lr * min(1.0, (state.step + 1) / max(lr_rampup, 1))
        loss = denoising_loss(model, to(target), to(x_in), to(sigma), to(cond), to(c))
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        update_ema(state.ema, state.net, state.step, ema_halflife, ema_rampup)
        state.step += 1
        if on_step is not None:
            value = loss.detach()
            if world_size > 1:
                dist.all_reduce(value)
                value /= world_size
            on_step(state, float(value))
    return state


__all__ = ["TrainState", "new_state", "run_steps", "ema_beta", "update_ema", "world"]
