"""The project's own networks learned on an analytic GMM (``eps gmm-bench --prior learned``).

Per seed, the image workflow's two trainings run on samples of the seed's GMM prior (``eps.training.train``:
the same objectives, loop, conditioning and checkpoints as ``eps train``):

    prior   the UNet denoiser, EDM loss on ``num_train`` exact draws ``x0 ~ p`` (kind ``prior``)
    eps     fine-tuned from it with L_EPS on operator draws of every benchmarked task (kind ``eps``,
            joint ``(x~, y)`` pivot, the configured conditioning)

Both are cached as ``<cache>/<prior key>/prior.pt`` and ``<cache>/<prior key>/eps-<eps key>.pt``; a key is the
SHA-256 (16 hex digits) of everything that defines the network: the GMM's parameters (bytes of ``pi``, means,
covariances), the training-set size and its random stream and the prior's training config (``TrainConfig`` minus
the device, checkpoint interval and paths), plus, for the EPS key, the EPS training config. A re-run with the same
keys reuses (or resumes) the files; any change trains anew under other names (an EPS ablation, e.g. another
conditioning, reuses the prior). The methods then sample with
:class:`eps.nn.NetworkPrior`: baselines get the learned unconditional denoiser, EPS the learned pivot denoiser.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from .nn import NetworkPrior, load_network
from .priors import GaussianMixture
from .training import TrainConfig, train
from .training.trainer import log_path

NOT_KEYED = ("device", "ckpt_every", "data", "init")  # do not change what is learned (init: the cached prior itself)


@dataclass
class LearnedBudget:
    """What defines the learned networks besides the GMM (CLI options of ``eps gmm-bench --prior learned``)."""

    prior_steps: int = 800
    eps_steps: int = 800
    batch: int = 64
    lr: float = 2e-3
    num_train: int = 20000
    conditioning: str = "operator"
    precond: str = "edm"
    net: dict = field(default_factory=lambda: dict(model_channels=16, channel_mult=[1, 2], num_blocks=1,
                                                   attn_resolutions=[], dropout=0.0))


def train_configs(budget: LearnedBudget, tasks: list[str], sigma_y: float, seed: int) -> tuple[TrainConfig, TrainConfig]:
    """The ``prior`` and ``eps`` training configs (EDM learning-rate ramp-up and EMA as ``eps train``'s defaults)."""
    common = dict(batch=budget.batch, lr=budget.lr, seed=seed, ckpt_every=200)  # resumable; not part of the key
    prior = TrainConfig(kind="prior", steps=budget.prior_steps, net=dict(budget.net), **common)
    eps = TrainConfig(kind="eps", steps=budget.eps_steps, sigma_y=sigma_y, tasks=list(tasks),
                      conditioning=budget.conditioning, precond=budget.precond, **common)
    return prior, eps


def cache_key(gmm: GaussianMixture, train_seed: int, num_train: int, *configs: TrainConfig) -> str:
    """SHA-256 (16 hex digits) of the GMM's parameters, the training set and the training configs (in order)."""
    h = hashlib.sha256()
    for t in (gmm.weights, gmm.means, gmm.covs):
        h.update(t.detach().cpu().contiguous().to(torch.float64).numpy().tobytes())
    keyed = [{k: v for k, v in asdict(cfg).items() if k not in NOT_KEYED} for cfg in configs]
    h.update(json.dumps({"image_shape": list(gmm.image_shape), "num_train": num_train, "train_seed": train_seed,
                         "configs": keyed}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def final_loss(out: Path, steps: int) -> float:
    """Mean training loss over the last 10% of the logged steps (one step's loss is one noisy batch). The log of a
    finished run holds one row per step: any other count (a log cut at a line boundary) is refused, naming it."""
    with open(log_path(out)) as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    if len(losses) != steps:
        raise ValueError(f"training log {log_path(out)} holds {len(losses)} rows for a {steps}-step run: cut or "
                         f"damaged; delete {out.parent} to train again")
    tail = losses[-max(1, len(losses) // 10):]
    return sum(tail) / len(tail)


def learned_networks(gmm: GaussianMixture, tasks: list[str], sigma_y: float, seed: int, budget: LearnedBudget,
                     cache: str | Path, generator: torch.Generator) -> tuple[NetworkPrior, dict]:
    """Train (or reuse) the seed's prior and EPS networks; returns the prior and ``{prior_steps, eps_steps,
    prior_loss, eps_loss, files}``. ``generator`` draws the training set (its initial seed is part of the key)."""
    prior_cfg, eps_cfg = train_configs(budget, tasks, sigma_y, seed)
    train_seed = generator.initial_seed()
    folder = Path(cache) / cache_key(gmm, train_seed, budget.num_train, prior_cfg)
    prior_out = folder / "prior.pt"
    eps_out = folder / f"eps-{cache_key(gmm, train_seed, budget.num_train, prior_cfg, eps_cfg)}.pt"
    images = gmm.sample(budget.num_train, generator).to(torch.float32)
    train(prior_cfg, prior_out, images)
    eps_cfg.init = str(prior_out)
    train(eps_cfg, eps_out, images)
    info = dict(prior_steps=prior_cfg.steps, eps_steps=eps_cfg.steps, prior_loss=final_loss(prior_out, prior_cfg.steps),
                eps_loss=final_loss(eps_out, eps_cfg.steps), files=(str(prior_out), str(eps_out)))
    return NetworkPrior(load_network(prior_out), load_network(eps_out)), info


__all__ = ["LearnedBudget", "train_configs", "cache_key", "final_loss", "learned_networks"]
