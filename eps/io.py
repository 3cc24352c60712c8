"""Files on disk: atomic writes (a results file appears whole or not at all), content digests, checked loads.

    with atomic_path("results/x.csv") as tmp:   # a temporary file in the target's folder
        frame.to_csv(tmp)                        # success: os.replace(tmp, target); failure: tmp is removed

    save_torch({"x0": x0, ...}, "results/shard.pt")        # stores content_sha256 of the dict, views compacted
    state = load_torch("weights/prior.pt", "checkpoint")   # FileNotFoundError / one-line ValueError naming it;
                                                           # a dict whose content_sha256 differs is refused
    frame = read_csv("summary.csv", "summary", columns=["psnr"])   # truncated rows, missing columns: refused
                                                                   # and, when summary.csv.provenance.json records
                                                                   # its sha256 and rows, any other content too

Written files get the permissions ``0666 & ~umask`` (what ``open`` would give), not ``mkstemp``'s 0600.
"""
from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import torch

DIGEST_KEY = "content_sha256"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path`` (same suffix, so writers can infer the format); on success it
    replaces ``path``, on any error it is deleted and ``path`` is left as it was. An ``OSError`` that names no file
    (a full disk while writing: ``[Errno 28]``) is re-raised naming ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, f"{err.strerror or err} (writing {path})") from err
    finally:
        Path(tmp).unlink(missing_ok=True)


def check_writable(path: str | os.PathLike, flag: str, nbytes: int = 0) -> Path:
    """Refuse, before any computation, an output ``path`` that cannot be written (folder not creatable or
    read-only, ``path`` a folder) or whose folder has less than ``nbytes`` free; one line naming ``flag``."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a folder, not a file path")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ValueError(f"{flag} {path}: cannot write there ({blocking} is a file, not a folder)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"{flag} {path}: cannot write there ({err.strerror or err})") from None
    free = shutil.disk_usage(path.parent).free
    if nbytes > free:
        raise ValueError(f"{flag} {path}: needs about {nbytes / 2**20:.1f} MiB, only {free / 2**20:.1f} MiB free")
    return path


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _feed(digest, obj) -> None:
    """Feed ``obj`` (nested dicts/lists/tuples of tensors and plain values) to ``digest`` canonically."""
    if torch.is_tensor(obj):
        t = obj.detach().cpu().contiguous()
        digest.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, Mapping):
        digest.update(b"{")
        for key in sorted(obj, key=repr):
            digest.update(repr(key).encode() + b":")
            _feed(digest, obj[key])
        digest.update(b"}")
    elif isinstance(obj, (list, tuple)):
        digest.update(b"[")
        for item in obj:
            _feed(digest, item)
            digest.update(b",")
        digest.update(b"]")
    else:
        digest.update(f"{type(obj).__name__}:{obj!r};".encode())


def content_digest(obj) -> str:
    """sha256 of the content of ``obj`` (tensor dtypes, shapes and bytes; plain values by ``repr``), ignoring a
    top-level :data:`DIGEST_KEY`."""
    if isinstance(obj, Mapping):
        obj = {k: v for k, v in obj.items() if k != DIGEST_KEY}
    digest = hashlib.sha256()
    _feed(digest, obj)
    return digest.hexdigest()


def _compact(obj):
    """``obj`` with every tensor that views a larger storage replaced by a copy of what it holds (``torch.save``
    writes whole storages); containers are rebuilt only where something changed."""
    if torch.is_tensor(obj):
        return obj.clone() if obj.untyped_storage().nbytes() > obj.numel() * obj.element_size() else obj
    if isinstance(obj, (dict, list, tuple)):
        items = list(obj.items()) if isinstance(obj, dict) else list(obj)
        new = [(k, _compact(v)) for k, v in items] if isinstance(obj, dict) else [_compact(v) for v in items]
        old = [v for _, v in items] if isinstance(obj, dict) else items
        if all(a is (b[1] if isinstance(obj, dict) else b) for a, b in zip(old, new)):
            return obj
        if isinstance(obj, dict):
            out = type(obj)(new)
            if hasattr(obj, "_metadata"):  # state dicts carry module versions
                out._metadata = obj._metadata
            return out
        return type(obj)(new)
    return obj


def save_torch(obj, path: str | os.PathLike) -> None:
    """``torch.save`` through :func:`atomic_path`; views are saved as what they hold, and a dict gets its
    :func:`content_digest` under :data:`DIGEST_KEY` (checked by :func:`load_torch`). A failed write is an
    ``OSError`` naming ``path``."""
    obj = _compact(obj)
    if isinstance(obj, dict):
        obj = {**obj, DIGEST_KEY: content_digest(obj)}
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError as err:  # torch reports a failed write (a full disk) as a multi-line RuntimeError
            last = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
            raise OSError(errno.EIO, f"torch.save failed: {last[:160]}") from err  # atomic_path names the file


def load_torch(path: str | os.PathLike, what: str, data: bytes | None = None):
    """``torch.load(path, weights_only=True)`` on the CPU (of ``data``, the bytes already read and verified from
    ``path``, when given); a missing file is a ``FileNotFoundError``, an unreadable one or a dict whose content no
    longer matches its stored digest a one-line ``ValueError``, each naming ``what`` and ``path``. The digest key
    is removed from what is returned."""
    path = Path(path)
    if data is None and not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    try:
        obj = torch.load(path if data is None else io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as err:  # torch's own message spans many lines; keep its kind and first line
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ValueError(f"{what} {path} is corrupt or not a torch file ({type(err).__name__}: {first[:120]})") from err
    if isinstance(obj, dict) and DIGEST_KEY in obj:
        stored = obj.pop(DIGEST_KEY)
        if content_digest(obj) != stored:
            raise ValueError(f"{what} {path} is corrupt: its content does not match the sha256 stored in it")
    return obj


def provenance_path(path: str | os.PathLike) -> Path:
    """Where the provenance record of results file ``path`` lives: ``<path>.provenance.json``."""
    path = Path(path)
    return path.with_name(path.name + ".provenance.json")


def file_record(path: str | os.PathLike) -> dict:
    """What a provenance record holds of the file it describes: ``{"sha256", "bytes"}`` and, for a CSV, ``"rows"``
    (data rows below the header), so a file cut at a line boundary or edited is told apart from what was written."""
    path = Path(path)
    record = {"sha256": file_sha256(path), "bytes": path.stat().st_size}
    if path.suffix == ".csv":
        with open(path, newline="") as f:
            record["rows"] = max(sum(1 for _ in csv.reader(f)) - 1, 0)
    return record


def check_recorded(path: str | os.PathLike, what: str, data: bytes | None = None) -> None:
    """Refuse ``path`` (its bytes ``data`` if already read) when its provenance record holds a ``table`` digest the
    file no longer matches: one ``ValueError`` naming the file, the rows recorded and found. No record, or a record
    without a ``table`` entry (an older format), checks nothing."""
    path = Path(path)
    record_file = provenance_path(path)
    if not record_file.is_file():
        return
    try:
        recorded = json.loads(record_file.read_text()).get("table")
    except (ValueError, AttributeError) as err:
        raise ValueError(f"{what} {path}: its provenance record {record_file} is unreadable ({err})") from None
    if not recorded:
        return
    data = path.read_bytes() if data is None else data
    if hashlib.sha256(data).hexdigest() != recorded["sha256"]:
        rows = max(len(list(csv.reader(io.StringIO(data.decode(errors="replace"))))) - 1, 0)
        raise ValueError(f"{what} {path} is not the file its provenance record describes ({recorded.get('rows', '?')} "
                         f"rows, sha256 {recorded['sha256'][:12]}; now {rows} rows): truncated or edited, re-make it")


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` through :func:`atomic_path`; returns ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def read_csv(path: str | os.PathLike, what: str, columns: Iterable[str] = (), numeric: Iterable[str] = ()):
    """A pandas frame from a CSV written whole: a missing file is a ``FileNotFoundError``; a file that differs from
    the sha256 its provenance record holds (:func:`check_recorded`: cut at a line boundary, edited), one not ending in
    a newline (truncated), a row whose field count differs from the header's, a missing column of ``columns``
    or a non-numeric value in ``numeric`` (empty cells are missing values) is one ``ValueError`` naming it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} does not exist")
    data = path.read_bytes()
    check_recorded(path, what, data)
    text = data.decode()
    if not text.endswith("\n"):
        raise ValueError(f"{what} {path} is truncated (its last line is incomplete)")
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise ValueError(f"{what} {path} is empty")
    bad = [i + 1 for i, row in enumerate(rows) if len(row) != len(rows[0])]
    if bad:
        raise ValueError(f"{what} {path}: line {bad[0]} has {len(rows[bad[0] - 1])} fields, the header "
                         f"{len(rows[0])} (truncated or damaged)")
    missing = [c for c in columns if c not in rows[0]]
    if missing:
        raise ValueError(f"{what} {path} lacks column(s) {', '.join(missing)}")
    frame = pd.read_csv(io.StringIO(text))
    for column in numeric:
        if column in frame and pd.to_numeric(frame[column], errors="coerce").isna().ne(frame[column].isna()).any():
            raise ValueError(f"{what} {path}: column {column} holds non-numeric values")
    return frame
