"""Publishing a run's report into the committed folder: every file or none, only from a clean commit.

    publish("runs/default/report", "results/default/report", ["summary.csv", ...])

The files are copied into a temporary sibling folder ``.<name>.publish``, checked against their sources (sha256),
and swapped in with two renames: ``<name>`` -> ``.<name>.old``, ``.<name>.publish`` -> ``<name>``, then the old
copy is deleted. A kill before the swap leaves the committed folder untouched (and the next publish starts over);
a kill between the two renames leaves the old folder whole under ``.<name>.old``, restored by the next publish.
The committed folder is not a Snakemake output, so Snakemake never deletes it before the job. Results whose
provenance records say they were made from a dirty tree (or a dirty tree now) are refused: a committed number must
name the commit that made it. ``allow_dirty`` exists for the workflow tests, which run on uncommitted code.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .io import check_recorded, file_sha256
from .provenance import git_commit


def _sibling(dest: Path, tag: str) -> Path:
    return dest.with_name(f".{dest.name}.{tag}")


def recover(dest: Path) -> None:
    """Finish or undo an interrupted swap: restore ``.<name>.old`` when ``<name>`` is missing, drop leftovers."""
    old, new = _sibling(dest, "old"), _sibling(dest, "publish")
    if old.is_dir() and not dest.exists():
        os.rename(old, dest)
    for leftover in (old, new):
        if leftover.exists():
            shutil.rmtree(leftover)


def check_clean(source: Path, files: list[str]) -> None:
    """Refuse a dirty tree now, and any provenance record among ``files`` that names a dirty tree or no commit."""
    now = git_commit()
    if now["dirty"] is not False:
        raise ValueError(f"publish: the working tree is dirty or not a git checkout ({now}); commit first, re-run "
                         "the workflow, then publish")
    for name in files:
        if name.endswith(".provenance.json"):
            made = json.loads((source / name).read_text()).get("git", {})
            if not made.get("commit") or made.get("dirty") is not False:
                raise ValueError(f"publish: {source / name} was made from a dirty tree ({made}); re-run the "
                                 "workflow on a clean commit, then publish")


def publish(source: str | os.PathLike, dest: str | os.PathLike, files: Iterable[str], allow_dirty: bool = False) -> Path:
    """Replace folder ``dest`` by the ``files`` of ``source`` (paths relative to it), all at once; returns ``dest``."""
    source, dest, files = Path(source), Path(dest), list(files)
    missing = [f for f in files if not (source / f).is_file()]
    if missing:
        raise FileNotFoundError(f"publish: {len(missing)} file(s) missing in {source}: {', '.join(missing[:5])}")
    if not allow_dirty:
        check_clean(source, files)
    dest.parent.mkdir(parents=True, exist_ok=True)
    recover(dest)
    staging = _sibling(dest, "publish")
    for name in files:
        (staging / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, staging / name)
        if file_sha256(staging / name) != file_sha256(source / name):
            raise OSError(f"publish: {staging / name} differs from {source / name} after copying")
        check_recorded(staging / name, "publish:")  # a table cut or edited since its record was written
    old = _sibling(dest, "old")
    if dest.exists():
        os.rename(dest, old)
    os.rename(staging, dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest
