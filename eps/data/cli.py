"""``eps prepare-data``: write EDM-layout dataset zips.

    eps prepare-data --source embedded --resolution 32 --out data/embedded-32/train.zip data/embedded-32/test.zip
    eps prepare-data --source folder --folder ~/ffhq --resolution 64 --out data/ffhq-64.zip

``embedded`` needs two outputs (train, test; split by source picture); ``folder`` writes one.
"""
from __future__ import annotations

import argparse

from .archive import write_image_zip
from .embedded import TEST_PICTURES, TRAIN_PICTURES, embedded_patches
from .folder import folder_class_labels, folder_images


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="eps prepare-data", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, choices=("embedded", "folder"))
    p.add_argument("--resolution", type=int, default=32)
    p.add_argument("--folder", help="image folder (--source folder)")
    p.add_argument("--out", nargs="+", required=True, help="embedded: TRAIN.zip TEST.zip; folder: OUT.zip")
    p.add_argument("--class-labels", choices=("none", "folders"), default="none",
                   help="folder: 'folders' labels each image by its top-level class folder (EDM's dataset tool rule)")
    a = p.parse_args(argv)
    if a.source == "embedded":
        if len(a.out) != 2:
            raise ValueError(f"--source embedded writes a train and a test zip: give two --out paths, got {a.out}")
        for pictures, out in ((TRAIN_PICTURES, a.out[0]), (TEST_PICTURES, a.out[1])):
            images = embedded_patches(pictures, a.resolution)
            write_image_zip(images, out)
            print(f"{out}: {len(images)} patches {a.resolution}x{a.resolution} from {', '.join(pictures)}")
    else:
        if a.folder is None or len(a.out) != 1:
            raise ValueError("--source folder needs --folder DIR and exactly one --out path")
        labels = folder_class_labels(a.folder) if a.class_labels == "folders" else None
        images = folder_images(a.folder, a.resolution)
        write_image_zip(images, a.out[0], labels)
        print(f"{a.out[0]}: {len(images)} images {a.resolution}x{a.resolution} from {a.folder}")
    return 0
