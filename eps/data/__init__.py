"""Datasets in the EDM zip layout: embedded natural patches, image folders, and the loader for both."""
from .archive import read_image_zip, write_image_zip
from .embedded import TEST_PICTURES, TRAIN_PICTURES, embedded_patches

__all__ = ["read_image_zip", "write_image_zip", "embedded_patches", "TRAIN_PICTURES", "TEST_PICTURES"]
