"""A folder of images (e.g. FFHQ or ImageNet) to the EDM-layout zip: centre-crop to a square, resize.

Files are taken in sorted path order (``*.png, *.jpg, *.jpeg``, recursively); resizing uses PIL's
``LANCZOS`` filter, as EDM's dataset tool does for its centre-crop transform.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg")


def folder_images(folder: str | Path, resolution: int) -> np.ndarray:
    """Every image under ``folder`` as uint8 ``(N, r, r, 3)``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)
    if not files:
        raise ValueError(f"image folder {folder} holds no {'/'.join(EXTENSIONS)} files")
    out = []
    for f in files:
        try:
            img = Image.open(f).convert("RGB")
        except (OSError, SyntaxError, ValueError) as err:  # PIL: unidentified, truncated or broken image
            raise ValueError(f"image folder {folder}: cannot read {f} ({' '.join(str(err).split())})") from None
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
        out.append(np.asarray(img))
    return np.stack(out)


__all__ = ["folder_images"]
