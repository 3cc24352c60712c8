"""One training step's gradient in float64, for ``test_train.py``: run alone or under ``torchrun``.

    python tests/ddp_gradient_driver.py OUT.pt            (one process)
    torchrun --nproc_per_node 2 tests/ddp_gradient_driver.py OUT.pt

Both draw the same global batch from the same seed (``eps.training.loop.run_steps``); under DDP each rank
keeps its slice and the gradients are averaged across ranks. Rank 0 saves the gradient of every parameter.
The step runs with ``lr = 0`` so the saved gradient is the only thing that differs between the two runs.
"""
import os
import sys

import torch
import torch.distributed as dist

from eps.training import TrainConfig
from eps.training.loop import new_state, run_steps
from eps.training.trainer import build_model

NET = dict(model_channels=8, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4])


def main(out: str) -> None:
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    torch.manual_seed(0)
    images = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    cfg = TrainConfig(kind="eps", batch=4, net=NET)
    state = new_state(build_model(cfg, tuple(images.shape[1:])).double(), lr=0.0, seed=cfg.seed)
    run_steps(state, images, 1, kind="eps", batch=cfg.batch, lr=0.0, lr_rampup=1, ema_halflife=2.0,
              sigma_y=cfg.sigma_y, tasks=cfg.task_params)
    if not distributed or dist.get_rank() == 0:
        torch.save({name: p.grad for name, p in state.net.named_parameters()}, out)
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
