"""``eps train``: train the unconditional prior, the EPS network or Palette on an EDM-layout zip.

    eps train --kind prior --data data/embedded-16/train.zip --out weights/prior.pt --steps 600
    eps train --kind eps --data ... --init weights/prior.pt --out weights/eps.pt        (fine-tune EPS)
    eps train --kind eps --tasks sr4 --images 12800000 --batch 512 --lr 1e-4 --lr-rampup-images 12000000 \
              --ema-halflife-images 500000 --ema-rampup 0.05 ...                       (the EPS paper's App. B stack)

Budgets may be given in images (``--images``, ``--lr-rampup-images``, ``--ema-halflife-images``, as EDM and the
EPS paper state them) or in steps; images convert to steps at the global batch (:func:`steps_of`).
    torchrun --nproc_per_node 2 -m eps.training.cli --kind prior ...                      (data parallel)

Re-running the same command after an interruption resumes from ``--out``.
"""
from __future__ import annotations

import json
import os
import sys

import torch
import torch.distributed as dist

from ..io import check_writable
from ..parsers import build
from .trainer import TrainConfig, train


def steps_of(images: int, batch: int) -> int:
    """Optimizer steps that see ``images`` training images at global batch ``batch`` (rounded up)."""
    return -(-int(images) // int(batch))


def main(argv: list[str] | None = None) -> int:
    p = build("train")
    a = p.parse_args(argv)
    try:
        params = json.loads(a.task_params)
    except json.JSONDecodeError as err:
        raise ValueError(f"--task-params is not valid JSON ({err}): {a.task_params!r}") from err
    if a.threads:
        torch.set_num_threads(a.threads)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    device = "cpu"
    if distributed:
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            device = f"cuda:{local_rank}"
            torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl" if device != "cpu" else "gloo")
    elif torch.cuda.is_available():
        device = "cuda"
    steps = steps_of(a.images, a.batch) if a.images else a.steps
    lr_rampup = round(a.lr_rampup_images / a.batch) if a.lr_rampup_images is not None else a.lr_rampup
    ema_halflife = a.ema_halflife_images / a.batch if a.ema_halflife_images else a.ema_halflife
    cfg = TrainConfig(kind=a.kind, data=a.data, init=a.init, steps=steps, batch=a.batch, lr=a.lr,
                      lr_rampup=lr_rampup, ema_halflife=ema_halflife, ema_rampup=a.ema_rampup, seed=a.seed,
                      sigma_y=a.sigma_y, sigma_draw=a.sigma_draw, tasks=a.tasks,
                      task_params=params, ckpt_every=a.ckpt_every, class_labels=a.class_labels, device=device,
                      conditioning=a.conditioning, precond=a.precond,
                      net={} if a.init else dict(model_channels=a.model_channels, channel_mult=a.channel_mult,
                                                 num_blocks=a.num_blocks, attn_resolutions=a.attn_resolutions,
                                                 dropout=a.dropout))
    check_writable(a.out, "--out")
    try:
        train(cfg, a.out)
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
