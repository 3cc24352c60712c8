"""The project's own networks learned on an analytic GMM (``eps gmm-bench --prior learned``).

Per seed, the image workflow's trainings run on samples of the seed's GMM prior (``eps.training.train``: the same
objectives, loop, conditioning and checkpoints as ``eps train``):

    prior     the UNet denoiser, EDM loss on ``num_train`` exact draws ``x0 ~ p`` (kind ``prior``)
    eps       fine-tuned from it with L_EPS (kind ``eps``, joint ``(x~, y)`` pivot, the configured conditioning):
              one network per benchmarked task (the EPS paper's main tables, App. B), or with ``per_task = False``
              one network on every benchmarked task (its D.5 ablation)
    palette   (when Palette is benchmarked) one network per task fine-tuned from the same prior with the same
              budget (steps, batch, lr, sigma draw), its conditioning ``palette_conditioning`` (the EPS paper's
              Palette: [x_t, observation image])

Each is cached as ``<cache>/<prior key>/prior.pt``, ``<cache>/<prior key>/eps-<key>.pt`` and ``palette-<key>.pt``; a
key is the SHA-256 (16 hex digits) of everything that defines the network: the GMM's parameters (bytes of ``pi``,
means, covariances), the training-set size and its random stream and the prior's training config (``TrainConfig``
minus the device, checkpoint interval and paths), plus, for a fine-tune, its own training config (its tasks
included). A re-run with the same keys reuses (or resumes) the files; any change trains anew under other names.
The methods then sample with :class:`eps.nn.NetworkPrior` (one per task): baselines get the learned unconditional
denoiser, EPS the task's learned pivot denoiser, Palette the task's Palette network.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from .nn import NetworkPrior, load_network
from .priors import GaussianMixture
from .training import TrainConfig, train
from .training.trainer import log_path

NOT_KEYED = ("device", "ckpt_every", "data", "init")  # do not change what is learned (init: the cached prior itself)


@dataclass
class LearnedBudget:
    """What defines the learned networks besides the GMM (CLI options of ``eps gmm-bench --prior learned``).
    ``eps_steps`` is each fine-tune's budget: every per-task EPS network's and every Palette network's."""

    prior_steps: int = 800
    eps_steps: int = 800
    batch: int = 64
    lr: float = 2e-3
    num_train: int = 20000
    conditioning: str = "operator"
    precond: str = "edm"
    sigma_draw: str = "wide"
    per_task: bool = True
    palette_conditioning: str = "observation"
    net: dict = field(default_factory=lambda: dict(model_channels=16, channel_mult=[1, 2], num_blocks=1,
                                                   attn_resolutions=[], dropout=0.0))


def train_configs(budget: LearnedBudget, tasks: list[str], sigma_y: float, seed: int,
                  kind: str = "eps") -> tuple[TrainConfig, TrainConfig]:
    """The ``prior`` config and one fine-tune config of ``kind`` (eps or palette) on ``tasks`` (EDM learning-rate
    ramp-up and EMA as ``eps train``'s defaults; the prior draws EDM's log-normal sigma)."""
    common = dict(batch=budget.batch, lr=budget.lr, seed=seed, ckpt_every=200)  # resumable; not part of the key
    prior = TrainConfig(kind="prior", steps=budget.prior_steps, net=dict(budget.net), **common)
    conditioning = budget.conditioning if kind == "eps" else budget.palette_conditioning
    tuned = TrainConfig(kind=kind, steps=budget.eps_steps, sigma_y=sigma_y, tasks=list(tasks),
                        conditioning=conditioning, precond=budget.precond if kind == "eps" else "edm",
                        sigma_draw=budget.sigma_draw, **common)
    return prior, tuned


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
                     cache: str | Path, generator: torch.Generator,
                     palette: bool = False) -> tuple[dict[str, NetworkPrior], dict]:
    """Train (or reuse) the seed's prior, EPS and (with ``palette``) Palette networks; returns one prior per task
    and ``{prior_steps, eps_steps, prior_loss, eps_loss: {task: loss}, palette_loss: {task: loss}, files}``.
    ``generator`` draws the training set (its initial seed is part of the key)."""
    prior_cfg, _ = train_configs(budget, tasks, sigma_y, seed)
    train_seed = generator.initial_seed()
    folder = Path(cache) / cache_key(gmm, train_seed, budget.num_train, prior_cfg)
    prior_out = folder / "prior.pt"
    images = gmm.sample(budget.num_train, generator).to(torch.float32)
    train(prior_cfg, prior_out, images)

    def fine_tune(kind: str, on: list[str]) -> Path:
        cfg = train_configs(budget, on, sigma_y, seed, kind)[1]
        out = folder / f"{kind}-{cache_key(gmm, train_seed, budget.num_train, prior_cfg, cfg)}.pt"
        train(replace(cfg, init=str(prior_out)), out, images)
        return out

    groups = [[t] for t in tasks] if budget.per_task else [list(tasks)]
    eps_files = {t: path for group in groups for path in [fine_tune("eps", group)] for t in group}
    palette_files = {t: fine_tune("palette", [t]) for t in tasks} if palette else {}
    backbone = load_network(prior_out)
    eps_nets = {path: load_network(path) for path in set(eps_files.values())}
    priors = {t: NetworkPrior(backbone, eps_nets[eps_files[t]],
                              load_network(palette_files[t]) if palette else None) for t in tasks}
    info = dict(prior_steps=prior_cfg.steps, eps_steps=budget.eps_steps, prior_loss=final_loss(prior_out, prior_cfg.steps),
                eps_loss={t: final_loss(p, budget.eps_steps) for t, p in eps_files.items()},
                palette_loss={t: final_loss(p, budget.eps_steps) for t, p in palette_files.items()},
                files=(str(prior_out), *sorted({str(p) for p in (*eps_files.values(), *palette_files.values())})))
    return priors, info


__all__ = ["LearnedBudget", "train_configs", "cache_key", "final_loss", "learned_networks"]


class BandHybrid:
    """The band attribution of a learned EPS network (``eps gmm-bench --hybrid-bands``): a prior whose pivot denoiser
    is ``inside`` (the learned network, or the exact GMM denoiser) for pivots with ``lo <= sigma <= hi`` and
    ``outside`` elsewhere, chosen per row; every other call goes to the learned prior. EPS driven by it isolates
    how much of the learned network's error comes from one band of noise levels."""

    def __init__(self, learned: NetworkPrior, exact: GaussianMixture, band: tuple[float, float], learned_inside: bool):
        self.learned, self.band = learned, band
        self.inside, self.outside = (learned, exact) if learned_inside else (exact, learned)

    def denoise_pivot(self, pivot) -> torch.Tensor:
        sigma = pivot.sigma.reshape(-1).to(pivot.mu_star.dtype)
        inside = (sigma >= self.band[0]) & (sigma <= self.band[1])
        if bool(inside.all()) or bool((~inside).all()):
            return (self.inside if bool(inside.all()) else self.outside).denoise_pivot(pivot).to(pivot.mu_star.dtype)
        a, b = self.inside.denoise_pivot(pivot), self.outside.denoise_pivot(pivot)
        return torch.where(inside.reshape(-1, 1, 1, 1), a.to(b.dtype), b).to(pivot.mu_star.dtype)

    def __getattr__(self, name):
        return getattr(self.learned, name)


def parse_bands(text: str) -> list[tuple[float, float]]:
    """``"0.1:2,10:80"`` -> ``[(0.1, 2.0), (10.0, 80.0)]`` (``lo < hi``, both > 0)."""
    bands = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            lo, hi = (float(v) for v in part.split(":"))
        except ValueError:
            raise ValueError(f"--hybrid-bands: {part!r} is not LO:HI (e.g. 0.1:2)") from None
        if not 0 < lo < hi:
            raise ValueError(f"--hybrid-bands: band {part!r} needs 0 < LO < HI")
        bands.append((lo, hi))
    return bands


__all__ += ["BandHybrid", "parse_bands"]
