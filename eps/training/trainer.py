"""A resumable training run on disk: ``out`` is the checkpoint, ``<out stem>.log.csv`` the loss log.

A checkpoint (``torch.load(weights_only=True)``-loadable plain dict, written atomically) holds

    format, kind, net (UNetConfig), config (TrainConfig, with every trained task's operator parameters), model, ema, optimizer, step,
    rng = {generator: the run's draws, torch: global CPU RNG (dropout), cuda: per-device RNG states}

If ``out`` exists the run resumes from it: the config must equal the saved one except ``steps`` (not below the
saved step), ``ckpt_every`` and ``device``, otherwise one ``ValueError`` names the file and the differing keys and
nothing is written. A step whose loss or weights are not finite stops the run (``FloatingPointError`` naming the
step) before it is logged or saved. Resuming replays the exact sequence of the uninterrupted run (tested bitwise).
"""
from __future__ import annotations

import csv
import functools
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist

from ..io import atomic_path, file_sha256, save_torch
from ..data import read_image_zip
from ..nn.checkpoint import TRAIN_FORMAT, build_network, load_network, network_from_state, read_checkpoint
from ..nn.anisotropic import check_precond
from ..nn.conditioning import CONDITIONINGS, check_conditioning, check_palette_conditioning
from ..nn.unet import UNetConfig
from ..operators import TASKS, check_task, task_params
from ..progress import Progress
from .loop import TrainState, new_state, run_steps, world
from .objectives import check_kind, check_sigma_draw

LOG_COLUMNS = ("step", "loss", "lr", "images_per_sec", "seconds")
RESUMABLE_CHANGES = ("steps", "ckpt_every", "device")


@dataclass
class TrainConfig:
    """One training run. ``net`` holds :class:`UNetConfig` fields (resolution and channels come from the data)."""

    kind: str = "prior"
    data: str = ""
    init: str | None = None  # prior checkpoint to fine-tune from (kinds "eps", "palette")
    steps: int = 1000
    batch: int = 32
    lr: float = 1e-3
    lr_rampup: int = 100  # steps (eps train --lr-rampup-images converts EDM's budget in images)
    ema_halflife: float = 50.0  # in steps (eps train --ema-halflife-images converts)
    ema_rampup: float | None = None  # EDM's EMA ramp-up ratio (0.05 in the EPS paper's App. B); None: (k+1)/(k+10)
    seed: int = 0
    sigma_y: float = 0.05
    tasks: list[str] = field(default_factory=lambda: list(TASKS))
    task_params: dict[str, dict] = field(default_factory=dict)  # task -> operator parameters (overrides of DEFAULTS)
    ckpt_every: int = 200
    class_labels: str = "none"  # "true_label": each training image's class (zip labels) for a class-conditional net
    device: str = "cpu"
    net: dict = field(default_factory=dict)
    conditioning: str = "observation"  # eps: CONDITIONINGS, palette: PALETTE_CONDITIONINGS (eps.nn.conditioning)
    precond: str = "edm"  # EPS preconditioning (eps.nn.anisotropic.PRECONDS); saved in the network's config
    sigma_draw: str = "lognormal"  # EDM's log-normal (the paper); "wide": half log-uniform (eps.training.objectives)

    def __post_init__(self):
        check_kind(self.kind)
        if self.kind == "palette":
            check_palette_conditioning(self.conditioning)
        else:
            check_conditioning(self.conditioning)
        check_sigma_draw(self.sigma_draw)
        if self.ema_rampup is not None and not self.ema_rampup > 0:
            raise ValueError(f"ema_rampup must be a positive ratio (or None), got {self.ema_rampup}")
        if check_precond(self.precond) != "edm" and self.kind != "eps":
            raise ValueError(f"--precond {self.precond} is for EPS networks (kind 'eps'), not {self.kind!r}")
        self.tasks = [check_task(t) for t in self.tasks]
        self.task_params = resolve_task_params(self.tasks, self.task_params)
        if self.init is not None and self.kind == "prior":
            raise ValueError("--init (fine-tuning) is for the conditional kinds 'eps' and 'palette', not 'prior'")
        if self.class_labels not in ("none", "true_label"):
            raise ValueError(f"class_labels must be 'none' or 'true_label', got {self.class_labels!r}")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training config key(s) {sorted(unknown)}")
        return cls(**d)


def resolve_task_params(tasks: list[str], overrides: dict) -> dict[str, dict]:
    """Every trained task's full operator parameters: ``eps.operators.task_params(task, **overrides[task])``
    (the mapping ``eps sample --task-params`` takes per task); unknown or untrained tasks or keys are errors."""
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ValueError(f"task params must map task -> {{parameter: value}}, got {overrides!r}")
    untrained = [check_task(t) for t in overrides if t not in tasks]
    if untrained:
        raise ValueError(f"task params given for {untrained}, which are not among the trained tasks {tasks}")
    return {t: task_params(t, **overrides.get(t, {})) for t in tasks}


def cond_channels(kind: str, channels: int, conditioning: str = "observation") -> int:
    """EPS: its conditioning's channels (the observation image, or [x_y, c(, r)]); Palette: one image; prior: none."""
    return {"prior": 0, "eps": CONDITIONINGS[conditioning] * channels if kind == "eps" else 0,
            "palette": channels}[kind]


def network_fields(cfg: TrainConfig, channels: int) -> dict:
    """The network-config fields a training kind sets: conditioning channels, what they hold, the preconditioning."""
    return {"cond_channels": cond_channels(cfg.kind, channels, cfg.conditioning),
            "conditioning": cfg.conditioning if cfg.kind != "prior" else "", "precond": cfg.precond}


def build_model(cfg: TrainConfig, image_shape) -> torch.nn.Module:
    """The network of ``cfg``; for fine-tuning, the prior's architecture and EMA weights plus zero ``cond_conv``."""
    C, H, W = image_shape
    if H != W:
        raise ValueError(f"training images must be square, got {H}x{W}")
    if cfg.init is None:
        net_cfg = UNetConfig.from_dict({**cfg.net, "img_resolution": H, "in_channels": C, "out_channels": C,
                                        **network_fields(cfg, C)})
        return build_network(net_cfg)
    prior = load_network(cfg.init)
    pc = prior.model.config
    if (pc.in_channels, pc.img_resolution) != (C, H):
        raise ValueError(f"--init {cfg.init} is a {pc.in_channels}x{pc.img_resolution}px network; data is {C}x{H}px")
    net = build_network({**pc.to_dict(), **network_fields(cfg, C)})  # the prior's architecture
    missing, unexpected = net.load_state_dict(prior.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("model.cond_conv.") for k in missing), (missing, unexpected)
    return net.requires_grad_(True)


def log_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.stem + ".log.csv")


@functools.lru_cache(maxsize=4)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    return file_sha256(path)


def init_digest(init: str | None) -> str | None:
    """sha256 of the ``--init`` checkpoint (None without one): a resumed run compares what it fine-tunes from by
    content, so a moved folder (a moved ``gmm-bench --cache``) resumes, and a replaced file does not."""
    if init is None or not Path(init).is_file():
        return None
    stat = Path(init).stat()
    return _sha256(str(init), stat.st_mtime_ns, stat.st_size)


def save_checkpoint(state: TrainState, cfg: TrainConfig, out: Path) -> None:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    save_torch({"format": TRAIN_FORMAT, "kind": cfg.kind, "net": state.net.model.config.to_dict(),
                 "config": asdict(cfg), "init_sha256": init_digest(cfg.init), "model": state.net.state_dict(), "ema": state.ema.state_dict(),
                 "optimizer": state.optimizer.state_dict(), "step": state.step,
                 "rng": {"generator": state.generator.get_state(), "torch": torch.get_rng_state(), "cuda": cuda}}, out)


def upgraded(saved: dict) -> dict:
    """A saved training config with what files written before a field existed trained with: EPS conditioning
    ``pixel`` ([x_y, c]) before ``conditioning`` was saved, half log-uniform sigma (``wide``) before ``sigma_draw``;
    a Palette file of those versions saved an EPS conditioning and was conditioned on the degraded image."""
    config = {"conditioning": "pixel", "sigma_draw": "wide", **saved}
    if config.get("kind") == "palette" and config["conditioning"] not in ("observation", "degraded"):
        config["conditioning"] = "degraded"
    return config


def resume_state(cfg: TrainConfig, out: Path) -> TrainState:
    """The state saved in ``out``; a mismatch or a damaged file is one error naming it (nothing is written)."""
    saved = read_checkpoint(out, (TRAIN_FORMAT,))
    try:
        old = asdict(TrainConfig.from_dict(upgraded(saved["config"])))
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {out}: unreadable training config: {err}") from err
    new = asdict(cfg)
    moved = saved.get("init_sha256") is not None and saved["init_sha256"] == init_digest(cfg.init)
    differ = sorted(k for k in new if k not in RESUMABLE_CHANGES and old.get(k) != new[k]
                    and not (k == "init" and moved))
    if differ:
        raise ValueError(f"checkpoint {out} was written by a different run: {', '.join(f'{k}={old.get(k)!r} (now {new[k]!r})' for k in differ)}; "
                         f"use a new --out or the same settings")
    net = network_from_state(saved, "model", out)
    state = new_state(net, cfg.lr, cfg.seed)
    try:
        state.ema.load_state_dict(saved["ema"])
        state.optimizer.load_state_dict(saved["optimizer"])
        state.generator.set_state(saved["rng"]["generator"])
        torch.set_rng_state(saved["rng"]["torch"])
        if saved["rng"]["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(saved["rng"]["cuda"])
        state.step = int(saved["step"])
    except (KeyError, RuntimeError, TypeError, ValueError) as err:
        raise ValueError(f"checkpoint {out}: damaged training state: {err}") from err
    return state


def check_finite(state: TrainState, loss: float, kind: str) -> None:
    """Stop the run at the step whose loss or updated weights are not finite (before anything of it is
    logged or saved), naming the step: a NaN model must never be written."""
    weights = torch.stack([torch.isfinite(p).all() for net in (state.net, state.ema) for p in net.parameters()])
    if not math.isfinite(loss) or not bool(weights.all()):  # one device sync per step
        what = f"loss {loss}" if not math.isfinite(loss) else "the updated weights"
        raise FloatingPointError(f"train {kind}: step {state.step} went non-finite ({what}); nothing of it was "
                                 f"written (lower --lr, check --sigma-y and the data)")


def _truncate_log(path: Path, step: int) -> None:
    """Keep the log rows up to ``step`` (rows of an interrupted run past its last checkpoint are dropped)."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        every = list(csv.DictReader(f))
    rows = [r for r in every if int(r["step"]) <= step]
    if len(rows) == len(every):  # nothing to drop: the file is left as it is (it may lie in a read-only cache)
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, LOG_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def train(cfg: TrainConfig, out: str | Path, images: torch.Tensor | None = None,
          callback: Callable[[int], None] | None = None, labels: torch.Tensor | None = None) -> TrainState:
    """Run (or resume) ``cfg`` writing checkpoints to ``out``; ``callback(step)`` runs after every step.
    With ``cfg.class_labels == "true_label"`` each image's class (``labels``, or the zip's) enters the network."""
    out = Path(out)
    rank, world_size = world()
    torch.manual_seed(cfg.seed)
    out.parent.mkdir(parents=True, exist_ok=True)  # the checkpoint's and the log's folder
    if images is None:
        images, labels = read_image_zip(cfg.data)
    if cfg.class_labels == "none":
        labels = None
    elif labels is None:
        raise ValueError(f"{cfg.data} holds no class labels (dataset.json labels null): "
                         "class_labels true_label needs them")
    if out.exists():
        state = resume_state(cfg, out)
        if state.step > cfg.steps:
            raise ValueError(f"checkpoint {out} is at step {state.step}, past --steps {cfg.steps} (a model cannot be "
                             f"un-trained): delete {out} to train {cfg.steps} steps from scratch, or use a new --out")
    else:
        state = new_state(build_model(cfg, tuple(images.shape[1:])), cfg.lr, cfg.seed)
    state.net.to(cfg.device)
    state.ema.to(cfg.device)
    for s in state.optimizer.state.values():  # Adam moments follow the parameters
        for k, v in s.items():
            if torch.is_tensor(v) and k != "step":
                s[k] = v.to(cfg.device)
    log = log_path(out)
    if rank == 0:
        _truncate_log(log, state.step)
    start_step, start_time = state.step, time.perf_counter()
    progress = Progress(f"train {cfg.kind}", cfg.steps, initial=state.step, enabled=rank == 0)

    def on_step(state: TrainState, loss: float) -> None:
        check_finite(state, loss, cfg.kind)
        seconds = time.perf_counter() - start_time
        ips = (state.step - start_step) * cfg.batch / seconds
        if rank == 0:
            new = not log.exists()
            with open(log, "a", newline="") as f:
                writer = csv.writer(f)
                if new:
                    writer.writerow(LOG_COLUMNS)
                writer.writerow([state.step, f"{loss:.6g}", f"{state.optimizer.param_groups[0]['lr']:.6g}",
                                 f"{ips:.2f}", f"{seconds:.2f}"])
            progress.update(state.step, loss=loss, img_per_s=round(ips, 1))
            if state.step % cfg.ckpt_every == 0 or state.step == cfg.steps:
                save_checkpoint(state, cfg, out)
        if world_size > 1 and (state.step % cfg.ckpt_every == 0 or state.step == cfg.steps):
            dist.barrier()
        if callback is not None:
            callback(state.step)

    try:
        run_steps(state, images, cfg.steps, kind=cfg.kind, batch=cfg.batch, lr=cfg.lr, lr_rampup=cfg.lr_rampup,
                  ema_halflife=cfg.ema_halflife, sigma_y=cfg.sigma_y, tasks=cfg.task_params, device=cfg.device,
                  conditioning=cfg.conditioning, precond=cfg.precond, sigma_draw=cfg.sigma_draw,
                  ema_rampup=cfg.ema_rampup, on_step=on_step, labels=labels)
    except BaseException:
        if rank == 0 and not out.exists():  # no checkpoint was written: a log of steps that no state holds goes too
            log.unlink(missing_ok=True)
        raise
    if rank == 0 and state.step > start_step:
        seconds = time.perf_counter() - start_time
        print(f"trained {cfg.kind} to step {state.step}: {(state.step - start_step) * cfg.batch / seconds:.1f} "
              f"images/s (global batch {cfg.batch}, {world_size} process(es), {cfg.device}, "
              f"{torch.get_num_threads()} threads); checkpoint {out}, log {log}")
    return state


__all__ = ["TrainConfig", "train", "resolve_task_params", "build_model", "save_checkpoint", "resume_state", "upgraded", "log_path", "cond_channels"]
