"""Files on disk: atomic writes (a results file appears whole or not at all) and checked torch loads.

    with atomic_path("results/x.csv") as tmp:   # a temporary file in the target's folder
        frame.to_csv(tmp)                        # success: os.replace(tmp, target); failure: tmp is removed

    state = load_torch("weights/prior.pt", "checkpoint")   # FileNotFoundError / one-line ValueError naming it
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


def load_torch(path: str | os.PathLike, what: str):
    """``torch.load(path, weights_only=True)`` on the CPU; a missing file is a ``FileNotFoundError`` and an
    unreadable one a one-line ``ValueError``, both naming ``what`` and ``path``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch's own message spans many lines; keep its kind and first line
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ValueError(f"{what} {path} is corrupt or not a torch file ({type(err).__name__}: {first[:120]})") from err


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` through :func:`atomic_path`; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)
