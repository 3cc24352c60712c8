"""Provenance record written next to every results file, and the checks on committed ones.

``write_provenance("results/summary.csv", config=cfg, seeds=[0, 1])`` writes
``results/summary.csv.provenance.json`` (atomically, :mod:`eps.io`) holding

- ``command``, ``config`` (and ``config_hash``, the sha256 of its canonical JSON), ``seeds``;
- ``git``: the commit and whether the tree was dirty (a committed result must come from a clean commit:
  ``eps provenance publish`` refuses anything else);
- ``packages`` (versions of what shapes the numbers), ``python``, ``platform``, ``device``, ``date_utc``;
- ``modules``: the project source files declared to compute the result (paths only: :mod:`eps.fingerprint` compares
  them with the recorded commit when asked), and ``inputs``: the sha256 of every other file it was given (configs);
- ``table``: the sha256, size and row count of the results file itself (:func:`eps.io.file_record`), which
  :func:`eps.io.read_csv` verifies on every read.

``eps provenance check`` verifies committed records (table bytes == recorded sha256, clean commit that is an ancestor
of HEAD); ``eps provenance stale`` reports results whose declared modules changed since their commit (a report, not a
failure: regenerating is the job of the commit that changes what they measure); ``eps provenance publish`` copies a
run's report into the committed folder atomically (:mod:`eps.publish`).
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

from .fingerprint import ROOT, changed_since, git, has_commit, is_code, loaded_sources, repo_key
from .io import file_record, file_sha256, provenance_path, write_text

FORMAT = 2
# Packages whose versions can change a reported number.
PACKAGES = ("eps-bench", "torch", "torchvision", "numpy", "scipy", "piq", "lpips", "torch-fidelity",
            "scikit-image", "pandas")
RESULTS = ROOT / "results"


def config_hash(config: Mapping[str, Any] | None) -> str:
    """sha256 of ``config`` serialised as canonical JSON (sorted keys, no spaces; non-JSON values via str)."""
    text = json.dumps(config or {}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def git_commit(cwd: str | os.PathLike | None = None, ignore: Iterable[str | os.PathLike] = ()) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the repository containing ``cwd`` (tracked files only;
    changes to the files ``ignore`` do not count: a committed table being regenerated in place and its record)."""
    cwd = Path(cwd) if cwd is not None else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                             check=True, timeout=10).stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                 *(f":(exclude,top){repo_key(p)}" for p in ignore if repo_key(p))],
                                cwd=cwd, capture_output=True, text=True, check=True, timeout=10).stdout
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


def describe_device(device="cpu") -> str:
    """Human-readable device: ``"cpu (N threads)"`` or ``"cuda:0 (<GPU name>)"``."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return f"{device} ({torch.get_num_threads()} threads)"


def provenance(config: Mapping[str, Any] | None = None, seeds: Iterable[int] = (), device="cpu",
               sources: Iterable[str | os.PathLike] | None = None, results_path: str | os.PathLike | None = None,
               **extra: Any) -> dict[str, Any]:
    """The provenance record as a dict. ``sources``: the files whose code made the result (default: the project
    modules imported so far); project source files are declared by path (``modules``), any other file by its
    sha256 (``inputs``). ``results_path``: the file described (``table``). ``extra`` keys are stored verbatim."""
    sources = [Path(s) for s in (loaded_sources() if sources is None else sources)]
    record = {
        "format": FORMAT,
        "command": " ".join(["eps", *sys.argv[1:]]) if Path(sys.argv[0]).name == "eps" else " ".join(sys.argv),
        "git": git_commit(ignore=[] if results_path is None else [results_path, provenance_path(results_path)]),
        "config_hash": config_hash(config),
        "config": dict(config or {}),
        "seeds": sorted({int(s) for s in seeds}),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": describe_device(device),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "modules": sorted({repo_key(s) for s in sources if is_code(s)}),
        "inputs": {repo_key(s) or str(s): file_sha256(s) for s in sources if not is_code(s)},
    }
    if results_path is not None:
        record["table"] = file_record(results_path)
    return {**record, **extra}


def write_provenance(results_path: str | os.PathLike, config: Mapping[str, Any] | None = None,
                     seeds: Iterable[int] = (), device="cpu",
                     sources: Iterable[str | os.PathLike] | None = None, **extra: Any) -> Path:
    """Write ``provenance(...)`` of the (already written) ``results_path`` next to it, atomically; returns its path."""
    record = provenance(config, seeds, device, sources, results_path, **extra)
    return write_text(provenance_path(results_path), json.dumps(record, indent=2, default=str) + "\n")


def read_record(results_path: str | os.PathLike) -> dict[str, Any]:
    path = provenance_path(results_path)
    if not path.is_file():
        raise FileNotFoundError(f"{results_path} has no provenance record ({path.name})")
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"provenance record {path} is not JSON ({err})") from None


def integrity(results_path: str | os.PathLike, root: Path = ROOT) -> list[str]:
    """What is wrong with a committed result (empty: nothing): the file differs from its recorded sha256, the record
    names no clean commit, or that commit is not an ancestor of HEAD. A clone without the history to tell (shallow)
    raises ``LookupError`` saying so."""
    record, problems = read_record(results_path), []
    table, commit = record.get("table"), record.get("git", {}).get("commit")
    if not table:
        problems.append("the record holds no table digest")
    elif file_sha256(results_path) != table["sha256"]:
        problems.append(f"the file is not the one recorded (sha256 {table['sha256'][:12]}, {table.get('rows')} rows)")
    if not commit or record["git"].get("dirty") is not False:
        problems.append(f"made from a dirty tree or no commit ({record.get('git')})")
    elif not has_commit(commit, root):
        shallow = git("rev-parse", "--is-shallow-repository", root=root).stdout.strip() == b"true"
        if shallow:
            raise LookupError(f"commit {commit} is not in this shallow clone: git fetch --unshallow to check ancestry")
        problems.append(f"commit {commit} does not exist in this repository")
    elif git("merge-base", "--is-ancestor", commit, "HEAD", root=root).returncode != 0:
        problems.append(f"commit {commit} is not an ancestor of HEAD")
    return problems


def staleness(results_path: str | os.PathLike, root: Path = ROOT) -> str:
    """One line on whether the declared code of a result changed since its recorded commit: ``current``,
    ``stale: N files changed (...); regenerate: COMMAND`` or ``unknown: REASON``. For reports and ``eps provenance
    stale``; never a test failure."""
    record = read_record(results_path)
    commit, modules = record.get("git", {}).get("commit"), record.get("modules")
    if not commit or modules is None:
        return "unknown: the record names no commit or declares no modules"
    try:
        changed = changed_since(commit, modules, root)
    except LookupError as err:
        return f"unknown: {err}"
    if not changed:
        return f"current: code unchanged since {commit[:12]}"
    shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
    return f"stale: {len(changed)} declared file(s) changed since {commit[:12]} ({shown}); regenerate: {record['command']}"


def committed_tables(root: Path = ROOT) -> list[Path]:
    """Every committed results table but the published reference numbers."""
    results = root / "results"
    return sorted(p for p in results.rglob("*.csv") if "reference" not in p.relative_to(results).parts)


def main(argv: list[str] | None = None) -> int:
    from .parsers import build

    a = build("provenance").parse_args(argv)
    if a.action == "publish":
        from .publish import publish

        publish(a.source, a.to, a.files, allow_dirty=a.allow_dirty)
        print(f"published {len(a.files)} files to {a.to}")
        return 0
    failed = False
    for table in a.tables or committed_tables():
        if a.action == "stale":
            print(f"{table}: {staleness(table)}")
            continue
        try:
            problems = integrity(table)
        except LookupError as err:
            problems = [f"cannot check: {err}"]
        failed |= bool(problems)
        print(f"{table}: {'; '.join(problems) or 'ok'}")
    return 1 if failed else 0


__all__ = ["FORMAT", "committed_tables", "config_hash", "describe_device", "git_commit", "integrity",
           "package_versions", "provenance", "provenance_path", "read_record", "staleness", "write_provenance"]
