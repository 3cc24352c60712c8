"""Datasets: EDM zip layout round trip, embedded patches split by picture, folder route, bad input."""
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from eps.cli import main as eps_main
from eps.data import TEST_PICTURES, TRAIN_PICTURES, embedded_patches, read_image_zip, write_image_zip


def test_zip_round_trip_with_labels_and_edm_layout(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    write_image_zip(images, tmp_path / "a.zip", labels=[0, 1, 2, 1, 0])
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert "00000/img00000003.png" in zf.namelist()
        assert json.loads(zf.read("dataset.json"))["labels"][3] == ["00000/img00000003.png", 1]
    x, labels = read_image_zip(tmp_path / "a.zip")
    assert x.shape == (5, 3, 4, 4) and labels.tolist() == [0, 1, 2, 1, 0]
    np.testing.assert_allclose(((x + 1) * 127.5).round().permute(0, 2, 3, 1).numpy(), images)


def test_embedded_split_is_by_source_picture_and_deterministic():
    assert not set(TRAIN_PICTURES) & set(TEST_PICTURES)
    train, test = embedded_patches(TRAIN_PICTURES, 16, scales=(4,)), embedded_patches(TEST_PICTURES, 16, scales=(4,))
    assert train.shape[1:] == (16, 16, 3) and len(train) > len(test) > 0
    seen = {p.tobytes() for p in train}
    assert not any(p.tobytes() in seen for p in test)  # no test patch appears in training
    np.testing.assert_array_equal(embedded_patches(TEST_PICTURES, 16, scales=(4,)), test)


def test_prepare_data_embedded_and_folder(tmp_path, capsys):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i, size in enumerate([(20, 30), (40, 25), (16, 16)]):
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(folder / ("sub" if i else "") / f"{i}.png")
    assert eps_main(["prepare-data", "--source", "folder", "--folder", str(folder), "--resolution", "8",
                     "--out", str(tmp_path / "f.zip")]) == 0
    x, labels = read_image_zip(tmp_path / "f.zip")
    assert x.shape == (3, 3, 8, 8) and labels is None and x.min() >= -1 and x.max() <= 1
    assert eps_main(["prepare-data", "--source", "embedded", "--out", str(tmp_path / "only_one.zip")]) == 2
    assert "two --out paths" in capsys.readouterr().err


def test_bad_dataset_files_are_one_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.zip"):
        read_image_zip(tmp_path / "nope.zip")
    (tmp_path / "bad.zip").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="bad.zip"):
        read_image_zip(tmp_path / "bad.zip")
    with pytest.raises(ValueError, match="uint8"):
        write_image_zip(np.zeros((2, 4, 4, 3)), tmp_path / "f.zip")


def test_folder_class_labels_follow_edms_dataset_tool(tmp_path, capsys):
    """``--class-labels folders``: the class is the index of the top-level folder among the sorted names (EDM's
    dataset_tool.py rule, which gives ImageNet's standard wnid order); a loose image is one clear error."""
    from eps.data import read_image_zip
    rng = np.random.default_rng(0)
    for name, wnid in (("a.png", "n02"), ("b.png", "n01"), ("c.png", "n03"), ("d.png", "n01")):
        (tmp_path / "val" / wnid).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "val" / wnid / name)
    out = tmp_path / "test.zip"
    assert eps_main(["prepare-data", "--source", "folder", "--folder", str(tmp_path / "val"), "--resolution", "8",
                     "--class-labels", "folders", "--out", str(out)]) == 0
    _, labels = read_image_zip(out)  # files in sorted path order: n01/b, n01/d, n02/a, n03/c
    assert labels.tolist() == [0, 0, 1, 2]
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "val" / "loose.png")
    assert eps_main(["prepare-data", "--source", "folder", "--folder", str(tmp_path / "val"), "--resolution", "8",
                     "--class-labels", "folders", "--out", str(out)]) == 2
    assert "need every image inside a class folder" in capsys.readouterr().err
