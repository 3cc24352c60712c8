"""``eps prepare-data``: write the train and test EDM-layout dataset zips of one dataset.

    eps prepare-data --source embedded --resolution 32 --out data/embedded-32/train.zip data/embedded-32/test.zip
    eps prepare-data --source folder --folders ~/ffhq/images1024x1024 ~/ffhq/images1024x1024 \\
        --select '{"train": {"exclude": ["00000/*"]}, "test": {"include": ["00000/*"]}}' \\
        --resolution 64 --out data/ffhq64/train.zip data/ffhq64/test.zip

``embedded`` splits by source picture. ``folder`` reads a train and a test folder (they may be the same
folder, split by ``--select``: per split ``include`` / ``exclude`` glob patterns on the relative path and
``first_per_folder``), with ``--class-labels folders`` the class index of each image's top-level folder among the
train split's class folders (EDM's rule). A configuration whose train and test images overlap -- the same picture at
the working resolution, whatever the file names and encodings (:func:`eps.data.folder.overlap`) -- is refused
with one error before anything is written.
"""
from __future__ import annotations

import json

from ..io import check_writable
from ..parsers import build
from .archive import write_image_zip
from .embedded import TEST_PICTURES, TRAIN_PICTURES, embedded_patches
from .folder import OVERLAP_TOLERANCE, Selection, class_folders, class_labels, folder_images, image_files, overlap

SPLITS = ("train", "test")


def selections(text: str) -> dict[str, Selection]:
    """``--select`` JSON -> a Selection per split."""
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"--select is not valid JSON: {err}") from err
    if not isinstance(spec, dict) or set(spec) - set(SPLITS):
        raise ValueError(f"--select must be a JSON object with keys among {SPLITS}, got {text}")
    return {split: Selection.from_dict(spec.get(split, {}), split) for split in SPLITS}


def prepare_folders(folders: list[str], select: dict[str, Selection], resolution: int, labels: bool,
                    out: list[str]) -> None:
    """Read both splits, refuse any train/test overlap at the working resolution (:func:`overlap`), then write
    both zips."""
    files = {split: image_files(folder, select[split]) for split, folder in zip(SPLITS, folders)}
    loaded = {split: folder_images(folder, files[split], resolution) for split, folder in zip(SPLITS, folders)}
    shared = overlap(loaded["train"], loaded["test"], files["train"], files["test"])
    if shared:
        pairs = ", ".join(f"{folders[0]}/{a} = {folders[1]}/{b}" for a, b in shared[:3])
        raise ValueError(f"train and test sets overlap: {len(shared)} train image(s) are a test image at the working "
                         f"resolution (mean difference <= {OVERLAP_TOLERANCE:g}/255) "
                         f"image ({pairs}{', ...' if len(shared) > 3 else ''}); exclude the test images from the "
                         "train split (--select / the config's datasets.<name>.select)")
    classes = class_folders(files["train"]) if labels else None
    for split, folder, path in zip(SPLITS, folders, out):
        images = loaded[split]
        write_image_zip(images, path, class_labels(files[split], classes, folder) if labels else None)
        print(f"{path}: {len(images)} images {resolution}x{resolution} from {folder}"
              + (f", labels of {len(classes)} class folders" if labels else ""))
    print(f"train and test share no image ({len(files['train'])} + {len(files['test'])} images compared at "
          f"{resolution}x{resolution}, mean difference > {OVERLAP_TOLERANCE:g}/255)")


def main(argv: list[str] | None = None) -> int:
    p = build("prepare-data")
    a = p.parse_args(argv)
    for out in a.out:
        check_writable(out, "--out")
    if a.source == "embedded":
        for pictures, out in ((TRAIN_PICTURES, a.out[0]), (TEST_PICTURES, a.out[1])):
            images = embedded_patches(pictures, a.resolution)
            write_image_zip(images, out)
            print(f"{out}: {len(images)} patches {a.resolution}x{a.resolution} from {', '.join(pictures)}")
    else:
        if a.folders is None:
            raise ValueError("--source folder needs --folders TRAIN_DIR TEST_DIR")
        prepare_folders(a.folders, selections(a.select), a.resolution, a.class_labels == "folders", a.out)
    return 0
