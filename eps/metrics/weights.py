"""Pretrained weights of the metric networks: where they are looked up, and ``eps download-weights``.

Lookup (offline): the configured folder (``weights_dir``) first, then the torch hub cache
``torch.hub.get_dir()/checkpoints`` (``$TORCH_HOME/hub/checkpoints``), under the file names the packages
themselves use, so a cache filled by torchvision / torch-fidelity is found as is. A file that is absent
raises :class:`WeightsMissing`; the caller reports the metric missing, it never guesses. A file that is
present is verified (size and sha256) before every load: torch-fidelity unpickles the Inception file with
``weights_only=False``, so a planted file of that name would run code; a mismatch is refused.

Download: each file is fetched to ``<name>.part`` with HTTP ``Range`` resume, then its size and sha256 are
checked against the constants below before it is moved into place (``os.replace``). A mismatch is refused
with one clear message and the bad bytes are deleted. A published file whose sha256 its publisher does not
state (``--sha256 unknown``, e.g. the EDM checkpoints) is kept unverified and its digest printed.

The LPIPS linear-layer weights (``lpips/weights/v0.1/alex.pth``) ship inside the ``lpips`` wheel and need
no download.
"""
from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from eps.io import file_sha256
from eps.parsers import build

CHUNK = 1 << 20


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file: its cache file name, URL, size in bytes, sha256 (``None``: not
    published, so the file cannot be verified), and where the digest comes from."""
    filename: str
    url: str
    size: int | None
    sha256: str | None
    source: str


WEIGHTS: dict[str, WeightFile] = {
    # torch-fidelity 0.4.0, feature_extractor_inceptionv3.URL_INCEPTION_V3 (TF "inception-2015-12-05"
    # converted by torch-fidelity). The file name carries the torch.hub sha256 prefix 6726825d; the full
    # digest is the one recorded for this file in public pinned-weights manifests (not re-derived here).
    "inception": WeightFile(
        filename="weights-inception-2015-12-05-6726825d.pth",
        url="https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
            "weights-inception-2015-12-05-6726825d.pth",
        size=None,
        sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
        source="torch-fidelity URL_INCEPTION_V3; sha256 prefix in file name, full digest from public manifests",
    ),
    # torchvision AlexNet_Weights.IMAGENET1K_V1, the trunk lpips.LPIPS(net="alex") loads.
    "alexnet": WeightFile(
        filename="alexnet-owt-7be5be79.pth",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        size=244_408_911,
        sha256="7be5be791159472b1fbf3c69796f7cb30dca7ad8466c2df70058c37116cdee02",
        source="torchvision AlexNet_Weights.IMAGENET1K_V1; sha256 prefix in file name, full digest and "
               "size from public manifests",
    ),
}


class WeightsMissing(FileNotFoundError):
    """A metric's weight file is not available offline; the metric is reported missing."""


def search_dirs(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Folders searched for weight files, in order: ``weights_dir`` then the torch hub checkpoint cache."""
    dirs = [Path(weights_dir)] if weights_dir is not None else []
    return dirs + [Path(torch.hub.get_dir()) / "checkpoints"]


def find_weights(name: str, weights_dir: str | os.PathLike | None = None) -> tuple[Path, bytes]:
    """Path and bytes of the weight file ``name`` (a key of :data:`WEIGHTS`), verified (:func:`verify`) on the very
    bytes returned, so what is loaded is what was hashed (no window for the file to change in between);
    :class:`WeightsMissing` if absent."""
    if name not in WEIGHTS:
        raise ValueError(f"unknown weights {name!r}; known: {', '.join(WEIGHTS)}")
    filename = WEIGHTS[name].filename
    dirs = search_dirs(weights_dir)
    for folder in dirs:
        if (folder / filename).is_file():
            data = (folder / filename).read_bytes()
            verify(folder / filename, WEIGHTS[name], data)
            return folder / filename, data
    raise WeightsMissing(f"{filename} not found in {', '.join(map(str, dirs))} (run `eps download-weights`)")


sha256_of = file_sha256  # hex sha256 of a file


def verify(path: Path, entry: WeightFile, data: bytes | None = None) -> None:
    """Refuse ``path`` (its bytes ``data``, when already read) unless its size and sha256 (each when known) are
    those of ``entry``."""
    size = path.stat().st_size if data is None else len(data)
    if entry.size is not None and size != entry.size:
        raise ValueError(f"{path}: size {size} bytes, expected {entry.size} for {entry.filename}")
    got = sha256_of(path) if data is None else hashlib.sha256(data).hexdigest()
    if entry.sha256 is not None and got != entry.sha256:
        raise ValueError(f"{path}: sha256 {got} does not match the known {entry.sha256} of {entry.filename} "
                         f"({entry.source}); refusing it")


def fetch(entry: WeightFile, dest: str | os.PathLike, opener: Callable[..., object] | None = None) -> Path:
    """Download ``entry`` into ``dest`` (resuming ``<file>.part``), verify it, move it into place.

    ``opener(request)`` returns a response with ``read(n)`` and, for a resumed range, ``status == 206``
    (``urllib.request.urlopen`` by default; tests pass a local one). A file already at ``dest`` is
    verified instead of downloaded again.
    """
    opener = opener or urllib.request.urlopen
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    final, part = dest / entry.filename, dest / (entry.filename + ".part")
    if final.is_file():
        verify(final, entry)
        return final
    if entry.sha256 is None:  # a resumed file cannot be checked: a stale .part is never trusted
        part.unlink(missing_ok=True)
    offset = part.stat().st_size if part.is_file() else 0
    if offset == 0 or offset != entry.size:  # a complete .part (interrupted before the move) is only verified
        request = urllib.request.Request(entry.url, headers={"Range": f"bytes={offset}-"} if offset else {})
        with opener(request) as response:
            resumed = offset > 0 and getattr(response, "status", None) == 206
            with open(part, "ab" if resumed else "wb") as f:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
    try:
        verify(part, entry)
    except ValueError:
        part.unlink()
        raise
    os.replace(part, final)
    return final


def main(argv: list[str] | None = None) -> int:
    """``eps download-weights [--dest DIR] [--only NAME ...]`` fetches the metric weights;
    ``eps download-weights --url URL --sha256 HEX --out FILE`` fetches one published file (backbones, FID
    statistics). Both resume and verify sha256."""
    parser = build("download-weights")
    args = parser.parse_args(argv)
    if args.url or args.out or args.sha256:
        if not (args.url and args.out and args.sha256):
            raise ValueError("--url, --sha256 and --out go together")
        unknown = args.sha256 == "unknown"
        if not unknown and (len(args.sha256) != 64 or any(c not in "0123456789abcdef" for c in args.sha256.lower())):
            raise ValueError(f"--sha256 {args.sha256!r} is not 64 hex digits (or 'unknown')")
        out = Path(args.out)
        jobs = [(out.parent, WeightFile(out.name, args.url, None, None if unknown else args.sha256.lower(),
                                        "command line"))]
    else:
        only = args.only or sorted(WEIGHTS)
        if bad := [name for name in only if name not in WEIGHTS]:
            raise ValueError(f"--only: unknown metric weights {bad}; valid: {', '.join(sorted(WEIGHTS))}")
        jobs = [(Path(args.dest) if args.dest else search_dirs()[-1], WEIGHTS[name]) for name in only]
    for dest, entry in jobs:
        try:
            path = fetch(entry, dest)
        except (urllib.error.URLError, OSError) as err:
            print(f"eps download-weights: cannot fetch {entry.url}: {getattr(err, 'reason', err)}", file=sys.stderr)
            return 1
        print(f"{path} (sha256 verified)" if entry.sha256 else
              f"{path} (sha256 {sha256_of(path)}: no published digest, not verified)")
    return 0
