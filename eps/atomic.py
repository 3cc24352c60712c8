"""Atomic file writes: a results file appears whole or not at all (an interrupted job leaves nothing behind).

    with atomic_path("results/x.csv") as tmp:   # a temporary file in the target's folder
        frame.to_csv(tmp)                        # success: os.replace(tmp, target); failure: tmp is removed
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import torch


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so writers can infer the format); on success it
    replaces ``path``, on any error it is deleted and ``path`` is left as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` through :func:`atomic_path`; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
