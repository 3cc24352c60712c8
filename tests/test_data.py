"""Datasets: EDM zip layout round trip, embedded patches split by picture, folder route with its train/test
split (selection, class labels, refusal of overlapping sets by content hash), bad input."""
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


def _picture(rng, size=(20, 30)):
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def _ffhq_like(root, rng, folders=("00000", "01000"), per_folder=3):
    """A stand-in of FFHQ's images1024x1024 layout: ``00000/00000.png ...``, ``01000/01000.png ...``."""
    for folder in folders:
        (root / folder).mkdir(parents=True)
        for i in range(per_folder):
            Image.fromarray(_picture(rng)).save(root / folder / f"{int(folder) + i:05d}.png")
    return root


FFHQ_SELECT = json.dumps({"train": {"exclude": ["00000/*"]}, "test": {"include": ["00000/*"]}})


def test_prepare_data_folder_splits_one_folder_by_selection(tmp_path, capsys):
    """config/paper.yaml's FFHQ split: test = 00000/*, train = everything else, from one folder."""
    root = _ffhq_like(tmp_path / "images1024x1024", np.random.default_rng(1))
    out = [str(tmp_path / "train.zip"), str(tmp_path / "test.zip")]
    assert eps_main(["prepare-data", "--source", "folder", "--folders", str(root), str(root), "--select", FFHQ_SELECT,
                     "--resolution", "8", "--out", *out]) == 0
    (train, no_labels), (test, _) = read_image_zip(out[0]), read_image_zip(out[1])
    assert train.shape == test.shape == (3, 3, 8, 8) and no_labels is None and train.min() >= -1 and train.max() <= 1
    assert not {t.numpy().tobytes() for t in train} & {t.numpy().tobytes() for t in test}
    assert "share no image" in capsys.readouterr().out
    assert eps_main(["prepare-data", "--source", "embedded", "--out", str(tmp_path / "only_one.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--out: expected 2 arguments" in err[0]


@pytest.mark.parametrize("layout", ["folder", "zip"])
def test_overlapping_train_and_test_are_refused_by_content_not_name(tmp_path, capsys, layout):
    """The FFHQ split without its exclusion, and a renamed, re-encoded (uncompressed PNG) copy of one
    test image among the train images: both refused with one error line, and no zip is written. The stand-ins
    come in both layouts the project reads (image folders; an EDM-layout zip of PNGs unpacked to a folder)."""
    rng = np.random.default_rng(2)
    root = _ffhq_like(tmp_path / "images", rng)
    if layout == "zip":  # the EDM zip layout (00000/img00000000.png ...) of the same pictures, unpacked
        write_image_zip(np.stack([np.asarray(Image.open(f)) for f in sorted(root.rglob("*.png"))]), tmp_path / "d.zip")
        root = tmp_path / "unpacked"
        zipfile.ZipFile(tmp_path / "d.zip").extractall(root)
        (root / "dataset.json").unlink()
    pattern = "00000/*" if layout == "folder" else "00000/img0000000[0-2].png"  # the first three images
    test_select, train_select = {"include": [pattern]}, {"exclude": [pattern]}
    out = [str(tmp_path / "train.zip"), str(tmp_path / "test.zip")]

    def prepare(select):
        return eps_main(["prepare-data", "--source", "folder", "--folders", str(root), str(root),
                         "--select", json.dumps(select), "--resolution", "8", "--out", *out])

    assert prepare({"test": test_select}) == 2  # train = every image, test images included
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "train and test sets overlap: 3 train image(s)" in err
    first_test = sorted((root / "00000").iterdir())[0]
    copy = root / ("01000" if layout == "folder" else "00000") / "zz_renamed.png"
    Image.open(first_test).save(copy, compress_level=0)  # same pixels, other file name and bytes
    assert copy.read_bytes() != first_test.read_bytes()
    assert prepare({"train": train_select, "test": test_select}) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "1 train image(s)" in err and "zz_renamed.png" in err
    assert not any((tmp_path / name).exists() for name in ("train.zip", "test.zip"))
    copy.unlink()
    assert prepare({"train": train_select, "test": test_select}) == 0


def test_imagenet_like_split_one_test_image_per_class_with_train_class_labels(tmp_path, capsys):
    """config/paper.yaml's ImageNet split: train/<wnid>/*, val/<wnid>/* (validation images sorted into class
    folders), the first validation image of each class; labels = index of the wnid among the sorted train
    class folders (EDM dataset_tool's rule), the same index in both splits."""
    rng = np.random.default_rng(3)
    wnids = ["n01440764", "n01443537", "n01484850"]
    for split, per_class in (("train", 2), ("val", 3)):
        for wnid in wnids:
            (tmp_path / split / wnid).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(_picture(rng, (12, 9))).save(tmp_path / split / wnid / f"{split}_{wnid}_{i}.JPEG", quality=95)
    out = [str(tmp_path / "train.zip"), str(tmp_path / "test.zip")]
    argv = ["prepare-data", "--source", "folder", "--folders", str(tmp_path / "train"), str(tmp_path / "val"),
            "--select", json.dumps({"test": {"first_per_folder": 1}}), "--class-labels", "folders", "--resolution", "8",
            "--out", *out]
    assert eps_main(argv) == 0
    (train, train_labels), (test, test_labels) = read_image_zip(out[0]), read_image_zip(out[1])
    assert len(train) == 6 and train_labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert len(test) == 3 and test_labels.tolist() == [0, 1, 2]
    extra = tmp_path / "val" / "n99999999"
    extra.mkdir()
    Image.fromarray(_picture(rng, (12, 9))).save(extra / "x.JPEG")
    assert eps_main(argv) == 2
    assert "class folder(s) ['n99999999'] are not among the 3 class folders" in capsys.readouterr().err


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
    rng = np.random.default_rng(0)
    for split, files in (("train", (("e.png", "n03"), ("f.png", "n01"), ("g.png", "n02"))),
                         ("val", (("a.png", "n02"), ("b.png", "n01"), ("c.png", "n03"), ("d.png", "n01")))):
        for name, wnid in files:
            (tmp_path / split / wnid).mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / split / wnid / name)
    out = [str(tmp_path / "train.zip"), str(tmp_path / "test.zip")]
    argv = ["prepare-data", "--source", "folder", "--folders", str(tmp_path / "train"), str(tmp_path / "val"),
            "--resolution", "8", "--class-labels", "folders", "--out", *out]
    assert eps_main(argv) == 0
    _, labels = read_image_zip(out[1])  # files in sorted path order: n01/b, n01/d, n02/a, n03/c
    assert labels.tolist() == [0, 0, 1, 2]
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / "train" / "loose.png")
    assert eps_main(argv) == 2
    assert "class labels need the images in one folder per class" in capsys.readouterr().err
