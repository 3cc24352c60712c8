"""Throughput of the metric pass (``eps.metrics.evaluate.evaluate``) on synthetic shards.

    OMP_NUM_THREADS=2 python benchmarks/metrics_throughput.py [--images 1000] [--samples 4] [--size 32]

Writes ``--images`` random 32x32 RGB ground-truth images with K posterior samples each into shards of
250, scores them with every metric whose weights are available offline, and prints images/second
(images = measurements; each carries K samples) and which metrics were missing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from eps.metrics.evaluate import evaluate

SHARD_SIZE = 250


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000, help="measurements (default 1000)")
    parser.add_argument("--samples", type=int, default=4, help="posterior samples K per measurement (default 4)")
    parser.add_argument("--size", type=int, default=32, help="image side in pixels (default 32)")
    parser.add_argument("--weights-dir", default=None, help="metric weights folder (default: torch hub cache)")
    args = parser.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for start in range(0, args.images, SHARD_SIZE):
            n = min(SHARD_SIZE, args.images - start)
            x0 = torch.rand(n, 3, args.size, args.size, generator=g) * 2 - 1
            samples = (x0[:, None] + 0.1 * torch.randn(n, args.samples, 3, args.size, args.size, generator=g))
            paths.append(Path(tmp) / f"shard{start}.pt")
            torch.save({"x0": x0, "y": x0, "samples": samples.clamp(-1, 1), "nfe": 20, "vjp": 0, "seconds": 1.0,
                        "seconds_uncond": 1.0, "meta": {"dataset": "synthetic", "task": "none", "method": "none",
                                                        "nfe": 20, "seed": 0, "sigma_y": 0.05}}, paths[-1])
        tic = time.perf_counter()
        result = evaluate(paths, weights_dir=args.weights_dir)
        seconds = time.perf_counter() - tic
    print(f"{args.images} images ({args.samples} samples each, {args.size}x{args.size}): {seconds:.1f} s, "
          f"{args.images / seconds:.0f} images/s on {torch.get_num_threads()} threads; "
          f"missing: {', '.join(result.missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
