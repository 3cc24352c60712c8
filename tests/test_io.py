"""Atomic writes: a failed write leaves the old file (or nothing) and no temporary file behind."""
import pytest
import torch

from eps.io import atomic_path, save_torch, write_text


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "f.txt"
    write_text(target, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")

    with pytest.raises(TypeError):
        write_text(target, Boom())
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_failed_torch_save_leaves_nothing(tmp_path):
    target = tmp_path / "sub" / "shard.pt"
    with pytest.raises(Exception):
        save_torch({"bad": lambda: 0}, target)  # lambdas cannot be pickled
    assert list(target.parent.iterdir()) == []
    save_torch({"x": torch.ones(2)}, target)
    assert torch.equal(torch.load(target)["x"], torch.ones(2))


def test_temporary_path_keeps_the_suffix_and_is_replaced(tmp_path):
    with atomic_path(tmp_path / "fig.png") as tmp:
        assert tmp.suffix == ".png" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]


def test_checked_load_is_one_line_naming_the_file(tmp_path):
    from eps.io import load_torch

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(ValueError) as info:
        load_torch(bad, "checkpoint")
    assert str(info.value).startswith(f"checkpoint {bad} is corrupt") and "\n" not in str(info.value)
    with pytest.raises(FileNotFoundError, match="shard .*missing.pt does not exist"):
        load_torch(tmp_path / "missing.pt", "shard")
