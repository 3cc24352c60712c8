"""Provenance record written next to every results file.

``write_provenance("results/summary.csv", config=cfg, seeds=[0, 1])`` writes
``results/summary.csv.provenance.json`` holding: git commit (and whether the tree was dirty), the sha256 of
the canonical JSON of ``config`` (``config_hash``), the seeds, versions of the packages that shape the
numbers, python/platform, the device, and the UTC date. Files are written atomically
(:mod:`eps.io`) so an interrupted run never leaves a truncated record.
"""
from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from .fingerprint import fingerprint, loaded_sources
from .io import write_text

# Packages whose versions can change a reported number.
PACKAGES = ("eps-bench", "torch", "torchvision", "numpy", "scipy", "piq", "lpips", "torch-fidelity",
            "scikit-image", "pandas")


def config_hash(config: Mapping[str, Any] | None) -> str:
    """sha256 of ``config`` serialised as canonical JSON (sorted keys, no spaces; non-JSON values via str)."""
    text = json.dumps(config or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def git_commit(cwd: str | os.PathLike | None = None) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository containing ``cwd``."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, check=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": sha, "dirty": bool(status.strip())}


def package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (None where it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def describe_device(device: str | torch.device = "cpu") -> str:
    """Human-readable device: ``"cpu (N threads)"`` or ``"cuda:0 (<GPU name>)"``."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({torch.get_num_threads()} threads)"


def provenance(config: Mapping[str, Any] | None = None, seeds: Iterable[int] = (),
               device: str | torch.device = "cpu", sources: Iterable[str | os.PathLike] | None = None,
               **extra: Any) -> dict[str, Any]:
    """The provenance record as a dict; ``sources`` are the files whose code made the result (default: the
    project modules imported so far); ``extra`` keys are stored verbatim (must be JSON-serialisable)."""
    return {
        "command": " ".join(["eps", *sys.argv[1:]]) if Path(sys.argv[0]).name == "eps" else " ".join(sys.argv),
        "code": fingerprint(loaded_sources() if sources is None else sources),
        "git": git_commit(),
        "config_hash": config_hash(config),
        "config": dict(config or {}),
        "seeds": sorted({int(s) for s in seeds}),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": describe_device(device),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }


def provenance_path(results_path: str | os.PathLike) -> Path:
    """Where the record of ``results_path`` lives: ``<results_path>.provenance.json``."""
    results_path = Path(results_path)
    return results_path.with_name(results_path.name + ".provenance.json")


def write_provenance(results_path: str | os.PathLike, config: Mapping[str, Any] | None = None,
                     seeds: Iterable[int] = (), device: str | torch.device = "cpu",
                     sources: Iterable[str | os.PathLike] | None = None, **extra: Any) -> Path:
    """Write ``provenance(...)`` next to ``results_path`` (atomically) and return the record's path."""
    record = provenance(config, seeds, device, sources, **extra)
    return write_text(provenance_path(results_path), json.dumps(record, indent=2, default=str) + "\n")
