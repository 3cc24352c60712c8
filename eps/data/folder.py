"""A folder of images (e.g. FFHQ or ImageNet) to the EDM-layout zip: centre-crop to a square, resize.

Files are taken in sorted path order (``*.png, *.jpg, *.jpeg``, recursively); resizing uses PIL's
``LANCZOS`` filter, as EDM's dataset tool does for its centre-crop transform.

Class labels (for a class-conditional backbone) follow EDM's dataset tool (``dataset_tool.py``, NVlabs/edm
008a4e5): the class of a file is the index of its top-level folder among the sorted top-level folder names,
so ImageNet's ``train/<wnid>/...`` gives the standard class order EDM's ImageNet-64 network was trained with;
a test folder must hold the same class folders (e.g. ``val1000/<wnid>/``, one image for each of the 1000).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg")


def image_files(folder: str | Path) -> list[Path]:
    """The image files under ``folder`` in sorted path order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)
    if not files:
        raise ValueError(f"image folder {folder} holds no {'/'.join(EXTENSIONS)} files")
    return files


def folder_class_labels(folder: str | Path) -> list[int]:
    """The class of every image of :func:`image_files`: the index of its top-level folder among the sorted names."""
    relative = [f.relative_to(folder).parts for f in image_files(folder)]
    if any(len(parts) < 2 for parts in relative):
        raise ValueError(f"image folder {folder}: class labels need every image inside a class folder "
                         f"(<class>/<image>), found {Path(*next(p for p in relative if len(p) < 2))}")
    classes = {name: index for index, name in enumerate(sorted({parts[0] for parts in relative}))}
    return [classes[parts[0]] for parts in relative]


def folder_images(folder: str | Path, resolution: int) -> np.ndarray:
    """Every image under ``folder`` as uint8 ``(N, r, r, 3)``."""
    out = []
    for f in image_files(folder):
        img = Image.open(f).convert("RGB")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
        out.append(np.asarray(img))
    return np.stack(out)


__all__ = ["folder_images", "folder_class_labels", "image_files"]
