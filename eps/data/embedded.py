"""Natural RGB patches from the photographs shipped inside scikit-image and scikit-learn (no download).

Each picture is reduced by area averaging at ``scales`` (1, 2, 4) and cut into a regular grid of
non-overlapping ``resolution x resolution`` patches, in a fixed order: the dataset is deterministic.
Train and test are split BY SOURCE PICTURE: no test picture contributes a single training patch.
"""
from __future__ import annotations

import numpy as np

# picture name -> loader; all files ship inside the installed packages
TRAIN_PICTURES = ("astronaut", "coffee", "rocket", "immunohistochemistry", "motorcycle", "hubble_deep_field",
                  "retina", "china")
TEST_PICTURES = ("chelsea", "flower")
SCALES = (1, 2, 4)


def load_picture(name: str) -> np.ndarray:
    """One shipped photograph as uint8 ``(H, W, 3)``."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image
        return load_sample_image(f"{name}.jpg")
    import skimage.data
    if name == "motorcycle":
        return skimage.data.stereo_motorcycle()[0]
    if name not in TRAIN_PICTURES + TEST_PICTURES:
        raise ValueError(f"unknown picture {name!r}; valid: {', '.join(TRAIN_PICTURES + TEST_PICTURES)}")
    return getattr(skimage.data, name)()


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Area-average ``factor x factor`` blocks (crops the remainder)."""
    H, W, C = image.shape
    h, w = H // factor, W // factor
    blocks = image[: h * factor, : w * factor].astype(np.float64).reshape(h, factor, w, factor, C)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def patches(image: np.ndarray, resolution: int) -> np.ndarray:
    """Non-overlapping ``resolution``-sized patches on a grid, row-major, ``(N, r, r, C)``."""
    H, W, C = image.shape
    h, w = H // resolution, W // resolution
    grid = image[: h * resolution, : w * resolution].reshape(h, resolution, w, resolution, C)
    return grid.transpose(0, 2, 1, 3, 4).reshape(h * w, resolution, resolution, C)


def embedded_patches(pictures, resolution: int = 32, scales=SCALES) -> np.ndarray:
    """All patches of ``pictures`` at every scale, uint8 ``(N, r, r, 3)``."""
    if resolution < 4:
        raise ValueError(f"resolution must be >= 4, got {resolution}")
    out = [patches(downscale(load_picture(name), s), resolution) for name in pictures for s in scales]
    return np.concatenate(out)


__all__ = ["TRAIN_PICTURES", "TEST_PICTURES", "embedded_patches", "load_picture", "patches", "downscale"]
