"""Image datasets in the EDM layout: a zip of PNGs plus ``dataset.json`` (labels or null).

    00000/img00000000.png, 00000/img00000001.png, ...      (1000 images per folder)
    dataset.json = {"labels": [["00000/img00000000.png", 3], ...]}  or  {"labels": null},
                   "sha256": digest of the images (names and PNG bytes, in order), checked on every read

The same loader reads the embedded patches and the paper datasets (FFHQ-64, ImageNet-64) prepared to this
layout. Images come back as float tensors ``(N, C, H, W)`` in [-1, 1].
"""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..io import atomic_path

Tensor = torch.Tensor


def image_name(index: int) -> str:
    return f"{index // 1000:05d}/img{index:08d}.png"


def write_image_zip(images: np.ndarray, path: str | Path, labels: list[int] | None = None) -> None:
    """Write uint8 images ``(N, H, W, C)`` (C = 1 or 3) as an EDM-layout zip, atomically."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"expected uint8 images of shape (N, H, W, 1|3), got {images.dtype} {images.shape}")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    digest = hashlib.sha256()
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(buf, format="PNG")
            zf.writestr(image_name(i), buf.getvalue())
            _feed(digest, image_name(i), buf.getvalue())
        meta = None if labels is None else [[image_name(i), int(l)] for i, l in enumerate(labels)]
        zf.writestr("dataset.json", json.dumps({"labels": meta, "sha256": digest.hexdigest()}))


def _feed(digest, name: str, data: bytes) -> None:
    digest.update(f"{name}:{len(data)}:".encode())
    digest.update(data)


def read_image_zip(path: str | Path) -> tuple[Tensor, Tensor | None]:
    """All images of an EDM-layout zip as ``(N, C, H, W)`` floats in [-1, 1], and their labels (or None)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset {path} does not exist")
    try:
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.lower().endswith(".png"))
            raw = [zf.read(n) for n in names]
            meta = json.loads(zf.read("dataset.json")) if "dataset.json" in zf.namelist() else {"labels": None}
            if "sha256" in meta:
                digest = hashlib.sha256()
                for name, data in zip(names, raw):
                    _feed(digest, name, data)
                if digest.hexdigest() != meta["sha256"]:
                    raise ValueError(f"dataset {path} is corrupt: its images do not match the sha256 in dataset.json")
            arrays = [np.asarray(Image.open(io.BytesIO(data))) for data in raw]
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError, KeyError, zlib.error) as err:
        raise ValueError(f"dataset {path} is not a readable EDM-layout zip: {' '.join(str(err).split())}") from err
    if not arrays:
        raise ValueError(f"dataset {path} holds no PNG images")
    if len({a.shape for a in arrays}) != 1:
        raise ValueError(f"dataset {path}: images differ in shape ({sorted({a.shape for a in arrays})[:3]} ...)")
    x = np.stack([a[..., None] if a.ndim == 2 else a for a in arrays])
    images = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1
    labels = meta.get("labels")
    if labels is None:
        return images, None
    by_name = dict((n, l) for n, l in labels)
    return images, torch.tensor([by_name[n] for n in names])


__all__ = ["write_image_zip", "read_image_zip", "image_name"]
