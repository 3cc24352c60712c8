"""A folder of images (e.g. FFHQ or ImageNet) to the EDM-layout zip: centre-crop to a square, resize.

Files are taken in sorted relative-path order (``*.png, *.jpg, *.jpeg``, recursively), optionally narrowed by
a selection (glob patterns on the relative path; the first N files of every top-level folder). Resizing uses
PIL's ``LANCZOS`` filter after a centre crop, as EDM's ``dataset_tool.py --transform=center-crop`` does
(NVlabs/edm, commit 008a4e5, ``center_crop``). Class labels follow the same tool's rule: the index of the
file's top-level folder name among the sorted top-level folder names (``open_image_folder``).

A train/test overlap is looked for at the working resolution (:func:`overlap`): two images are the same picture
when their mean absolute pixel difference after the crop and resize is at most ``OVERLAP_TOLERANCE`` levels of 255.
That catches a test image stored again under another name or format, re-encoded lossily (JPEG), or rescaled before
the crop; it does not catch a shifted or different crop, a flip, a strong edit or another photo of the same scene.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg")
SELECTION_KEYS = ("include", "exclude", "first_per_folder")


@dataclass
class Selection:
    """Which files of a folder a split takes: relative paths matching any ``include`` pattern (all files when
    empty) and no ``exclude`` pattern, then at most ``first_per_folder`` files (by name) per top-level folder."""
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    first_per_folder: int | None = None

    @classmethod
    def from_dict(cls, spec: dict, name: str) -> "Selection":
        unknown = set(spec) - set(SELECTION_KEYS)
        if unknown:
            raise ValueError(f"selection of {name}: unknown key(s) {sorted(unknown)}; valid: {', '.join(SELECTION_KEYS)}")
        return cls(list(spec.get("include", [])), list(spec.get("exclude", [])), spec.get("first_per_folder"))


def top_folder(relative: str) -> str:
    return relative.split("/")[0] if "/" in relative else ""


def image_files(folder: str | Path, selection: Selection | None = None) -> list[str]:
    """The selected image files under ``folder`` as sorted posix paths relative to it."""
    folder, selection = Path(folder), selection or Selection()
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist")
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.suffix.lower() in EXTENSIONS)
    if selection.include:
        files = [f for f in files if any(fnmatch.fnmatchcase(f, pattern) for pattern in selection.include)]
    files = [f for f in files if not any(fnmatch.fnmatchcase(f, pattern) for pattern in selection.exclude)]
    if selection.first_per_folder is not None:
        taken: dict[str, int] = {}
        kept = []
        for f in files:
            taken[top_folder(f)] = taken.get(top_folder(f), 0) + 1
            if taken[top_folder(f)] <= selection.first_per_folder:
                kept.append(f)
        files = kept
    if not files:
        raise ValueError(f"image folder {folder} holds no selected {'/'.join(EXTENSIONS)} files")
    return files


# Mean absolute difference (levels of 255) at the working resolution below which two images count as one picture:
# a JPEG re-encode (quality >= 75) of the same source differs by about 1 level after the LANCZOS downscale, two
# different natural images by tens of levels.
OVERLAP_TOLERANCE = 3.0


def folder_images(folder: str | Path, files: list[str], resolution: int) -> np.ndarray:
    """``files`` (relative to ``folder``) as uint8 ``(N, r, r, 3)``, centre-cropped and resized."""
    out = []
    for f in files:
        try:
            img = Image.open(Path(folder) / f).convert("RGB")
        except OSError as err:
            raise ValueError(f"image {Path(folder) / f} is not a readable image: {err}") from err
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
        out.append(np.asarray(img))
    return np.stack(out)


def class_labels(files: list[str], classes: list[str], folder: str | Path) -> list[int]:
    """The index of each file's top-level folder in ``classes`` (sorted class folder names)."""
    index = {name: i for i, name in enumerate(classes)}
    unknown = sorted({top_folder(f) for f in files} - set(index))
    if unknown:
        raise ValueError(f"image folder {folder}: class folder(s) {unknown[:5]} are not among the {len(classes)} "
                         "class folders of the train split")
    return [index[top_folder(f)] for f in files]


def class_folders(files: list[str]) -> list[str]:
    """Sorted top-level folder names of ``files`` (EDM's label rule needs more than one)."""
    names = sorted({top_folder(f) for f in files})
    if len(names) < 2 or "" in names:
        raise ValueError(f"class labels need the images in one folder per class; found folders {names[:5]}")
    return names


def overlap(train: np.ndarray, test: np.ndarray, train_files: list[str], test_files: list[str],
            tolerance: float = OVERLAP_TOLERANCE) -> list[tuple[str, str]]:
    """``(train file, test file)`` pairs of images ``(N, r, r, C)`` whose mean absolute pixel difference is at most
    ``tolerance``. Only pairs whose mean brightness differs by at most ``tolerance`` can qualify
    (``|mean a - mean b| <= mean |a - b|``), so each test image is compared with that window of the sorted train
    images: exact, and far fewer than all pairs."""
    flat_train = train.reshape(len(train), -1).astype(np.float32)
    flat_test = test.reshape(len(test), -1).astype(np.float32)
    order = np.argsort(flat_train.mean(1))
    means = flat_train.mean(1)[order]
    pairs = []
    for j, image in enumerate(flat_test):
        lo, hi = (np.searchsorted(means, image.mean() + side * tolerance, how) for side, how in ((-1, "left"), (1, "right")))
        candidates = order[lo:hi]
        close = np.abs(flat_train[candidates] - image).mean(1) <= tolerance
        pairs += [(train_files[i], test_files[j]) for i in candidates[close]]
    return sorted(pairs)


__all__ = ["Selection", "image_files", "folder_images", "class_labels", "class_folders", "overlap", "OVERLAP_TOLERANCE"]
