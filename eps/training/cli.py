"""``eps train``: train the unconditional prior, the EPS network or Palette on an EDM-layout zip.

    eps train --kind prior --data data/embedded-16/train.zip --out weights/prior.pt --steps 600
    eps train --kind eps --data ... --init weights/prior.pt --out weights/eps.pt        (fine-tune EPS)
    eps train --kind eps --tasks sr4 --images 12800000 --batch 512 --lr 1e-4 --lr-rampup-images 12000000 \
              --ema-halflife-images 500000 --ema-rampup 0.05 ...                       (the EPS paper's App. B stack)

Budgets may be given in images (``--images``, ``--lr-rampup-images``, ``--ema-halflife-images``, as EDM and the
EPS paper state them) or in steps; images convert to steps at the global batch, rounding up (``steps_of``).
    torchrun --nproc_per_node 2 -m eps.training.cli --kind prior ...                      (data parallel)

Re-running the same command after an interruption resumes from ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.distributed as dist

from ..args import fraction, int_list, nonnegative_float, nonnegative_int, positive_float, positive_int
from ..io import check_writable
from ..nn.anisotropic import PRECONDS
from ..nn.conditioning import CONDITIONINGS, PALETTE_CONDITIONINGS
from ..operators import TASKS
from .objectives import SIGMA_DRAWS
from .trainer import TrainConfig, train


def steps_of(images: int, batch: int) -> int:
    """Optimizer steps that see ``images`` training images at global batch ``batch`` (rounded up)."""
    return -(-int(images) // int(batch))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eps train", description=__doc__.split("\n\n")[0])
    d = TrainConfig()
    p.add_argument("--kind", required=True, choices=("prior", "eps", "palette"))
    p.add_argument("--data", required=True, help="EDM-layout training zip")
    p.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    p.add_argument("--init", help="prior checkpoint to fine-tune the EPS or Palette network from")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--steps", type=positive_int, help=f"optimizer steps (default {d.steps})")
    budget.add_argument("--images", type=positive_int, help="training images (steps = ceil(images / batch))")
    p.add_argument("--batch", type=positive_int, default=d.batch, help="global batch size")
    p.add_argument("--lr", type=positive_float, default=d.lr)
    rampup = p.add_mutually_exclusive_group()
    rampup.add_argument("--lr-rampup", type=nonnegative_int, help=f"linear lr warm-up in steps (default {d.lr_rampup})")
    rampup.add_argument("--lr-rampup-images", type=nonnegative_int, help="linear lr warm-up in images")
    halflife = p.add_mutually_exclusive_group()
    halflife.add_argument("--ema-halflife", type=positive_float, help=f"EMA half-life in steps (default {d.ema_halflife})")
    halflife.add_argument("--ema-halflife-images", type=positive_float, help="EMA half-life in images")
    p.add_argument("--ema-rampup", type=positive_float,
                   help="EDM's EMA ramp-up ratio (half-life = min(half-life, ratio x images seen); the paper: 0.05); "
                        "default: the ramp (k+1)/(k+10)")
    p.add_argument("--sigma-draw", default=d.sigma_draw, choices=SIGMA_DRAWS,
                   help="training noise levels: lognormal = EDM's (the EPS paper); wide = half of each conditional "
                        "batch log-uniform on [0.002, 80]")
    p.add_argument("--seed", type=nonnegative_int, default=d.seed)
    p.add_argument("--sigma-y", type=nonnegative_float, default=d.sigma_y, help="measurement noise (eps, palette)")
    p.add_argument("--tasks", default="all", help=f"'all' or comma-separated from {', '.join(TASKS)}")
    p.add_argument("--task-params", default="{}",
                   help='JSON task -> parameters overriding eps.operators.DEFAULTS, as eps sample takes them '
                        '(e.g. \'{"deblur_gauss": {"kernel_size": 9, "std": 1.5}}\')')
    p.add_argument("--conditioning", default=d.conditioning, choices=tuple(dict.fromkeys([*CONDITIONINGS, *PALETTE_CONDITIONINGS])),
                   help="observation = the EPS paper's [input, observation image] (eps and palette); eps options: "
                        "operator = [x_y, c, r], pixel = [x_y, c]; palette option: degraded (Saharia et al. 2022)")
    p.add_argument("--precond", default=d.precond, choices=PRECONDS,
                   help="EPS preconditioning: edm = EDM's scalar c_skip, c_out at sigma; anisotropic = per eigendirection "
                        "of Sigma_star (eps.nn.anisotropic)")
    p.add_argument("--ckpt-every", type=positive_int, default=d.ckpt_every)
    p.add_argument("--class-labels", choices=("none", "true_label"), default=d.class_labels,
                   help="class-conditional network (e.g. fine-tuned from EDM's ImageNet-64 ADM): 'true_label' feeds "
                        "each training image's class from the zip's labels")
    p.add_argument("--model-channels", type=positive_int, default=32)
    p.add_argument("--channel-mult", type=int_list(positive_int), default=[1, 2, 2])
    p.add_argument("--num-blocks", type=positive_int, default=1)
    p.add_argument("--attn-resolutions", type=int_list(positive_int, allow_empty=True), default=[8])
    p.add_argument("--dropout", type=fraction, default=0.0)
    p.add_argument("--threads", type=positive_int, help="torch intra-op threads")
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
    steps = steps_of(a.images, a.batch) if a.images else a.steps or d.steps
    lr_rampup = a.lr_rampup if a.lr_rampup is not None else (
        round(a.lr_rampup_images / a.batch) if a.lr_rampup_images is not None else d.lr_rampup)
    ema_halflife = a.ema_halflife or (a.ema_halflife_images / a.batch if a.ema_halflife_images else d.ema_halflife)
    cfg = TrainConfig(kind=a.kind, data=a.data, init=a.init, steps=steps, batch=a.batch, lr=a.lr,
                      lr_rampup=lr_rampup, ema_halflife=ema_halflife, ema_rampup=a.ema_rampup, seed=a.seed,
                      sigma_y=a.sigma_y, sigma_draw=a.sigma_draw,
                      tasks=list(TASKS) if a.tasks == "all" else [t.strip() for t in a.tasks.split(",")],
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
