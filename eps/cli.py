"""``eps`` command line: one sub-command per stage, each a ``main(argv)`` in its own module.

The workflow calls these commands and nothing else. A command's arguments are parsed first by its parser in
:mod:`eps.parsers` (no torch), so ``--help`` and argument errors answer at once; only then is the command's module
imported (lazily: a broken optional dependency only affects its own command) and run.
"""
from __future__ import annotations

import importlib
import sys

COMMANDS: dict[str, tuple[str, str]] = {
    # name: (module:function, one-line help)
    "gmm-bench": ("eps.gmm_bench:main", "exact-posterior benchmark on an analytic Gaussian-mixture prior"),
    "frontier": ("eps.frontier:main", "accuracy vs NFE on the analytic GMM: every method x backbone solver, with timing"),
    "prepare-data": ("eps.data.cli:main", "write EDM-layout dataset zips (embedded patches or an image folder)"),
    "convert-edm": ("eps.nn.checkpoint:main", "convert a published EDM pickle (DDPM++, ADM) to an eps network file"),
    "train": ("eps.training.cli:main", "train a prior, EPS or Palette network (resumable, torchrun-ready)"),
    "evaluate": ("eps.metrics.evaluate:main", "score sample shards: per-image and summary metric CSVs"),
    "download-weights": ("eps.metrics.weights:main", "fetch the metric networks' weights (sha256-verified)"),
    "sample": ("eps.image_bench:main", "one shard of the image benchmark: measure test images, draw K posterior samples"),
    "cost-bench": ("eps.cost_bench:main", "cost ratio as a benchmark: method vs bare sampler, interleaved repeats, median"),
    "provenance": ("eps.provenance:main", "committed results: check integrity, report stale ones, publish a report"),
    "report": ("eps.report:main", "summary tables (CSV, Markdown, LaTeX), figures and the exact-posterior table"),
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        width = max(map(len, COMMANDS))
        print("usage: eps COMMAND [options]   (eps COMMAND --help for its options)\n\ncommands:")
        for name, (_, text) in COMMANDS.items():
            print(f"  {name:<{width}}  {text}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        from .args import unknown

        print(f"eps: error: {unknown('command', name, list(COMMANDS))}", file=sys.stderr)
        return 2
    from .parsers import build

    try:
        build(name).parse_args(rest)  # --help, argument errors: one line, before any heavy import
    except SystemExit as stop:
        return int(stop.code or 0)
    module, func = COMMANDS[name][0].split(":")
    try:
        return int(getattr(importlib.import_module(module), func)(rest) or 0)
    except (ValueError, KeyError, OSError, FloatingPointError) as err:  # bad input, a full disk, a value gone
        # non-finite: one clear line, no traceback (OSError covers missing files, read-only folders, no space)
        print(f"eps {name}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
