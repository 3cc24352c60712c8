"""``eps train``: train the unconditional prior, the EPS network or Palette on an EDM-layout zip.

    eps train --kind prior --data data/embedded-16/train.zip --out weights/prior.pt --steps 600
    eps train --kind eps --data ... --init weights/prior.pt --out weights/eps.pt        (fine-tune EPS)
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
    cfg = TrainConfig(kind=a.kind, data=a.data, init=a.init, steps=a.steps, batch=a.batch, lr=a.lr,
                      lr_rampup=a.lr_rampup, ema_halflife=a.ema_halflife, seed=a.seed, sigma_y=a.sigma_y,
                      tasks=a.tasks,
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
