"""Fault injection: every input a hostile user or a faulty machine gives ends in one line naming the problem
(and the flag or key), exit status 2, and nothing written or trusted (issue 13). The commands run in process
through ``eps.cli.main``; workflow-level checks (quoting, interrupted jobs) are in test_workflow_faults.py."""
from __future__ import annotations

import errno
import json
import math
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from eps.cli import main
from eps.data import read_image_zip, write_image_zip
from eps.io import atomic_path, check_writable, content_digest, load_torch, read_csv, save_torch, write_text
from eps.nn.checkpoint import build_network, load_network, save_network
from eps.nn.unet import UNetConfig
from eps.report.tables import COLUMNS

TINY = dict(img_resolution=8, model_channels=8, channel_mult=(1,), num_blocks=1, attn_resolutions=())
NET_FLAGS = ["--model-channels", "8", "--channel-mult", "1", "--attn-resolutions", "", "--num-blocks", "1"]


def run(capsys, *argv: str) -> tuple[int, str]:
    """``eps ARGV`` in process: (exit status, the last line of stderr); argparse errors exit through SystemExit."""
    capsys.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1] if err else ""


def refused(capsys, *argv: str, says: str, out=None) -> str:
    """Assert ``eps ARGV`` exits 2 with one error line containing ``says`` and ``out`` (if given) not written."""
    code, line = run(capsys, *argv)
    assert code == 2 and "error:" in line and says in line, (code, line)
    assert out is None or not out.exists()
    return line


@pytest.fixture
def data(tmp_path):
    """An EDM-layout zip of six 8x8 RGB images."""
    images = np.random.default_rng(0).integers(0, 256, (6, 8, 8, 3), dtype=np.uint8)
    write_image_zip(images, tmp_path / "data.zip")
    return tmp_path / "data.zip"


@pytest.fixture
def prior(tmp_path):
    torch.manual_seed(0)
    save_network(build_network(UNetConfig(**TINY)), tmp_path / "prior.pt")
    return tmp_path / "prior.pt"


def sample_args(data, prior, out, *extra):
    return ["sample", "--data", str(data), "--prior", str(prior), "--task", "sr4", "--method", "dps", "--nfe", "2",
            "--count", "2", "--num-samples", "2", "--device", "cpu", "--out", str(out), *extra]


# --- 1. non-finite values stop the job that made them; NaN/inf/negative refused where a finite value is meant -----

@pytest.mark.parametrize("flag, value", [("--sigma-y", "nan"), ("--sigma-y", "inf"), ("--sigma-y", "-0.1"),
                                         ("--num-samples", "0"), ("--count", "0"), ("--nfe", "0"),
                                         ("--batch-size", "0"), ("--device", "foo")])
def test_sample_refuses_bad_numbers_before_any_work(capsys, data, prior, tmp_path, flag, value):
    out = tmp_path / "shard.pt"
    refused(capsys, *sample_args(data, prior, out, flag, value), says=f"argument {flag}:", out=out)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_cuda_without_a_gpu_is_one_line(capsys, data, prior, tmp_path):
    refused(capsys, *sample_args(data, prior, tmp_path / "s.pt", "--device", "cuda"), says="no CUDA GPU")


@pytest.mark.parametrize("flag, value", [("--batch", "0"), ("--lr", "nan"), ("--lr", "-1"), ("--steps", "0"),
                                         ("--threads", "-1"), ("--sigma-y", "inf"), ("--dropout", "1.5")])
def test_train_refuses_bad_numbers(capsys, data, tmp_path, flag, value):
    out = tmp_path / "net.pt"
    refused(capsys, "train", "--kind", "prior", "--data", str(data), "--out", str(out), flag, value,
            says=f"argument {flag}:", out=out)


def test_training_that_goes_non_finite_stops_at_the_named_step_and_writes_no_model(capsys, data, tmp_path):
    out = tmp_path / "net.pt"
    line = refused(capsys, "train", "--kind", "prior", "--data", str(data), "--out", str(out), "--steps", "20",
                   "--batch", "2", "--lr", "1e12", "--lr-rampup", "0", "--ckpt-every", "1000", *NET_FLAGS,
                   says="went non-finite", out=out)
    assert "train prior: step " in line


def test_sampling_that_goes_non_finite_names_method_task_and_step(capsys, data, tmp_path):
    net = build_network(UNetConfig(**TINY))
    with torch.no_grad():
        next(net.parameters()).fill_(float("nan"))
    save_network(net, tmp_path / "nan.pt")
    out = tmp_path / "shard.pt"
    line = refused(capsys, *sample_args(data, tmp_path / "nan.pt", out), says="dps on sr4", out=out)
    assert "denoiser call 1 (sampler step)" in line


# --- 2. a checkpoint is always the configured one --------------------------------------------------------------

def test_fewer_steps_than_the_saved_state_is_refused_with_the_way_out(capsys, data, tmp_path):
    out = tmp_path / "net.pt"
    args = ["train", "--kind", "prior", "--data", str(data), "--out", str(out), "--batch", "2", *NET_FLAGS]
    assert run(capsys, *args, "--steps", "2")[0] == 0
    before = out.read_bytes()
    line = refused(capsys, *args, "--steps", "1", says="is at step 2, past --steps 1")
    assert f"delete {out}" in line and out.read_bytes() == before
    refused(capsys, *args, "--steps", "2", "--lr", "0.5", says="written by a different run")


# --- 3. content digests in what we write, verified on load -------------------------------------------------------

def flip_inside(path, tensor: torch.Tensor) -> None:
    """Overwrite 16 bytes inside ``tensor``'s data as stored in ``path`` (torch zips store tensors raw)."""
    blob, data = bytearray(path.read_bytes()), tensor.contiguous().numpy().tobytes()
    at = blob.find(data)
    assert at >= 0
    blob[at + 8: at + 24] = bytes(255 - b for b in blob[at + 8: at + 24])
    path.write_bytes(bytes(blob))


def test_a_tampered_checkpoint_is_refused(tmp_path, prior):
    state = load_torch(prior, "checkpoint")
    weight = max(state["model"].values(), key=torch.numel)
    flip_inside(prior, weight)
    with pytest.raises(ValueError, match="does not match the sha256 stored in it"):
        load_network(prior)


def test_a_tampered_shard_is_refused(tmp_path):
    from eps.metrics.shards import load_shard
    from test_metrics_shards import make_shard

    shard = make_shard(n=2, k=2)
    save_torch(shard, tmp_path / "s.pt")
    assert load_shard(tmp_path / "s.pt")["samples"].shape == (2, 2, 3, 16, 16)
    flip_inside(tmp_path / "s.pt", shard["samples"])
    with pytest.raises(ValueError, match="s.pt is corrupt"):
        load_shard(tmp_path / "s.pt")


def test_a_data_zip_with_a_replaced_image_is_refused(tmp_path, data):
    """A member rewritten with a valid CRC (so zipfile accepts it) is caught by the digest in dataset.json."""
    assert read_image_zip(data)[0].shape == (6, 3, 8, 8)
    with zipfile.ZipFile(data) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    first = sorted(n for n in members if n.endswith(".png"))[0]
    members[first] = members[sorted(n for n in members if n.endswith(".png"))[1]]
    with zipfile.ZipFile(data, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    with pytest.raises(ValueError, match="do not match the sha256 in dataset.json"):
        read_image_zip(data)


def test_digest_covers_values_dtypes_and_shapes():
    x = torch.arange(6.0)
    base = content_digest({"x": x, "k": 1})
    assert content_digest({"x": x.clone(), "k": 1}) == base
    for other in ({"x": x.double(), "k": 1}, {"x": x.view(2, 3), "k": 1}, {"x": x, "k": 2},
                  {"x": x + torch.tensor([0, 0, 0, 0, 0, 1e-6]), "k": 1}):
        assert content_digest(other) != base


# --- 4. eps report refuses truncated or incomplete tables; a truncated shard goes through the checked loader --------

def summary_csv(path, text_edit=lambda t: t):
    row = [{"dataset": "embedded", "task": "sr4", "method": "eps", "nfe": "3", "num_samples": "2",
            "crps_estimator": "fair", "sample_set": "all"}.get(column, "0.5") for column in COLUMNS]
    path.write_text(text_edit(",".join(COLUMNS) + "\n" + ",".join(row) + "\n"))
    return path


@pytest.mark.parametrize("edit, says", [
    (lambda t: t[:-3], "is truncated"),
    (lambda t: t.replace(",0.5\n", "\n"), f"line 2 has {len(COLUMNS) - 1} fields, the header {len(COLUMNS)}"),
    (lambda t: t.replace("psnr,", "").replace("0.5,", "", 1), "lacks column(s) psnr"),
    (lambda t: t.replace("0.5", "abc", 1), "holds non-numeric values"),
])
def test_report_refuses_damaged_summaries(capsys, tmp_path, edit, says):
    bad = summary_csv(tmp_path / "s.csv", edit)
    refused(capsys, "report", "--summaries", str(bad), "--shards", str(tmp_path / "x.pt"), "--out",
            str(tmp_path / "report"), says=says)
    assert not (tmp_path / "report" / "summary.csv").exists()


def test_report_refuses_a_truncated_shard(capsys, tmp_path):
    from test_metrics_shards import make_shard

    save_torch(make_shard(n=2, k=2), tmp_path / "s.pt")
    blob = (tmp_path / "s.pt").read_bytes()
    (tmp_path / "s.pt").write_bytes(blob[: len(blob) // 2])
    refused(capsys, "report", "--summaries", str(summary_csv(tmp_path / "a.csv")), "--shards", str(tmp_path / "s.pt"),
            "--out", str(tmp_path / "report"), says="s.pt is corrupt or not a torch file")


def test_read_csv_accepts_missing_values(tmp_path):
    frame = read_csv(summary_csv(tmp_path / "s.csv", lambda t: t.replace("0.5", "", 1)), "summary", COLUMNS, ["psnr"])
    assert math.isnan(frame.loc[0, "psnr"]) and frame.loc[0, "ssim"] == 0.5


# --- 5, 6. eps gmm-bench: a row describes what ran; degenerate sizes are refused ---------------------------------

GMM = ["gmm-bench", "--tasks", "sr4", "--seeds", "0", "--nfe", "2", "--num-samples", "8", "--shape", "1,8,8"]


@pytest.mark.parametrize("interpolant", ["vp", "flow"])
def test_gmm_bench_refuses_baselines_that_ignore_the_interpolant(capsys, tmp_path, interpolant):
    out = tmp_path / "g.csv"
    refused(capsys, *GMM, "--methods", "eps,dps", "--interpolant", interpolant, "--out", str(out),
            says=f"--interpolant {interpolant}: dps samples on its own EDM schedule", out=out)
    assert run(capsys, *GMM, "--methods", "eps", "--interpolant", interpolant, "--out", str(out))[0] == 0
    assert set(read_csv(out, "gmm")["interpolant"]) == {interpolant}


@pytest.mark.parametrize("flag, value, says", [
    ("--num-projections", "0", "argument --num-projections"), ("--nfe", ",", "argument --nfe"),
    ("--num-samples", "1", "the sample covariance needs two samples"), ("--shape", "0,8,8", "argument --shape"),
    ("--shape", "1,-8,8", "argument --shape"), ("--shape", "1,1,1", "--shape 1,1,1"),
    ("--shape", "3,128,128", "the exact posterior needs about"), ("--threads", "-1", "argument --threads"),
    ("--sigma-y", "nan", "argument --sigma-y"), ("--methods", ",", "name at least one method"),
])
def test_gmm_bench_refuses_degenerate_sizes(capsys, tmp_path, flag, value, says):
    out = tmp_path / "g.csv"
    args = [*GMM, "--methods", "eps", "--out", str(out)]
    refused(capsys, *args, flag, value, says=says, out=out)


# --- 8. weights and pickles: verified before every load ------------------------------------------------------------

def test_a_planted_metric_weight_file_is_refused_before_loading(tmp_path, monkeypatch):
    from eps.metrics.weights import WEIGHTS, find_weights

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / WEIGHTS["inception"].filename).write_bytes(b"planted")
    with pytest.raises(ValueError, match="does not match the known .* refusing it"):
        find_weights("inception", tmp_path / "w")


def test_weights_and_pickles_are_loaded_from_the_bytes_that_were_hashed(tmp_path, monkeypatch):
    """Hash, then load the same bytes: a file swapped after its check is never what gets loaded."""
    import dataclasses

    import eps.metrics.weights as weights
    from eps.nn import checkpoint

    good = tmp_path / "w" / weights.WEIGHTS["alexnet"].filename
    good.parent.mkdir()
    torch.save({"features.0.weight": torch.ones(2)}, good)
    monkeypatch.setitem(weights.WEIGHTS, "alexnet", dataclasses.replace(
        weights.WEIGHTS["alexnet"], size=good.stat().st_size, sha256=weights.sha256_of(good)))
    real_verify = weights.verify

    def verify_then_swap(path, entry, data=None):
        real_verify(path, entry, data)
        path.write_bytes(b"planted after the check")

    monkeypatch.setattr(weights, "verify", verify_then_swap)
    path, data = weights.find_weights("alexnet", good.parent)
    assert load_torch(path, "AlexNet weights", data)["features.0.weight"].sum() == 2

    pkl = tmp_path / "edm.pkl"
    pkl.write_bytes(pickle.dumps({"ema": "network"}))
    digest = weights.sha256_of(pkl)
    real_verify_pickle = checkpoint.verify_pickle

    def verify_pickle_then_swap(pickle_path, data, sha256, allow):
        out = real_verify_pickle(pickle_path, data, sha256, allow)
        pickle_path.write_bytes(pickle.dumps(_Runs(tmp_path / "ran")))
        return out

    monkeypatch.setattr(checkpoint, "verify_pickle", verify_pickle_then_swap)
    with pytest.raises(ValueError, match="'ema' entry is not an EDM network"):  # the verified bytes were unpickled
        checkpoint.convert_edm_pickle(pkl, tmp_path / "net.pt", sha256=digest)
    assert not (tmp_path / "ran").exists()


class _Runs:
    """Unpickling this touches a file: the code-execution a pickle can carry."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_an_unverified_edm_pickle_is_not_unpickled(capsys, tmp_path):
    marker = tmp_path / "code_ran"
    (tmp_path / "edm.pkl").write_bytes(pickle.dumps({"ema": _Runs(marker)}))
    out = tmp_path / "net.pt"
    args = ["convert-edm", "--pkl", str(tmp_path / "edm.pkl"), "--out", str(out)]
    line = refused(capsys, *args, says="is not verified and unpickling runs code", out=out)
    assert "--allow-unverified" in line and not marker.exists()
    refused(capsys, *args, "--sha256", "0" * 64, says="does not match --sha256", out=out)
    assert not marker.exists()


def test_a_non_edm_pickle_is_one_line(capsys, tmp_path):
    (tmp_path / "x.pkl").write_bytes(pickle.dumps({"ema": 3}))
    refused(capsys, "convert-edm", "--pkl", str(tmp_path / "x.pkl"), "--out", str(tmp_path / "n.pt"),
            "--allow-unverified", says="is not an EDM network", out=tmp_path / "n.pt")


def test_a_stale_part_of_an_unverifiable_download_is_not_resumed(tmp_path):
    import io

    from eps.metrics.weights import WeightFile, fetch

    payload, requests = b"published bytes" * 100, []

    def opener(request):
        requests.append(request.get_header("Range"))
        response = io.BytesIO(payload)
        response.status = 200
        return response

    (tmp_path / "edm.pkl.part").write_bytes(b"stale and corrupt")
    path = fetch(WeightFile("edm.pkl", "https://example.invalid/edm.pkl", None, None, "test"), tmp_path, opener)
    assert requests == [None] and path.read_bytes() == payload


# --- 9. inputs that used to end in a traceback ---------------------------------------------------------------------

def test_method_options_of_the_wrong_type(capsys, data, prior, tmp_path):
    refused(capsys, *sample_args(data, prior, tmp_path / "s.pt", "--options", '{"zeta": "abc"}'),
            says="dps: option zeta must be a finite float")


def test_task_that_does_not_fit_the_images(capsys, data, prior, tmp_path):
    refused(capsys, *sample_args(data, prior, tmp_path / "s.pt", "--task-params", '{"factor": 3, "filter": "box"}'),
            says="is not divisible by the factor 3", out=tmp_path / "s.pt")


def test_evaluate_batch_size_zero(capsys, tmp_path):
    refused(capsys, "evaluate", "--shards", "a.pt", "--per-image", "p.csv", "--summary", "s.csv", "--batch-size", "0",
            says="argument --batch-size")


@pytest.mark.parametrize("content", [b"garbage, not an image", "truncated"])
def test_a_bad_image_in_a_folder_source(capsys, tmp_path, content):
    from PIL import Image

    train, folder = tmp_path / "train", tmp_path / "test"
    train.mkdir()
    folder.mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(train / "a.png")
    if content == "truncated":
        Image.fromarray(np.full((64, 64, 3), 7, np.uint8)).save(folder / "b.jpg")
        content = (folder / "b.jpg").read_bytes()[:200]
    (folder / "b.jpg").write_bytes(content)
    out = tmp_path / "test.zip"
    refused(capsys, "prepare-data", "--source", "folder", "--folders", str(train), str(folder), "--resolution", "8",
            "--out", str(tmp_path / "train.zip"), str(out), says="b.jpg", out=out)


def test_an_unwritable_out_is_refused_before_computing(capsys, data, prior, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")  # also unwritable for root, unlike chmod
    line = refused(capsys, *sample_args(data, prior, tmp_path / "file" / "shard.pt"), says="--out")
    assert "cannot write there" in line


def test_a_full_disk_is_one_line_naming_it(capsys, data, prior, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    out = tmp_path / "shard.pt"
    refused(capsys, *sample_args(data, prior, out), says="No space left on device", out=out)
    assert list(tmp_path.glob(".shard.pt*")) == []


def test_a_shard_larger_than_the_free_space_is_refused(tmp_path):
    with pytest.raises(ValueError, match="--out .* needs about .* MiB, only"):
        check_writable(tmp_path / "x.pt", "--out", nbytes=1 << 60)


# --- 10. config checks before any job --------------------------------------------------------------------------------

@pytest.mark.parametrize("change, says", [
    (lambda c: c["sample"].update(sigma_y=float("nan")), "config: sample.sigma_y: must be a finite number"),
    (lambda c: c["train"]["prior"].update(lr=float("inf")), "config: train.prior.lr: must be a finite number"),
    (lambda c: c["tasks"]["sr4"].update(factor=3, filter="box"), "tasks.sr4 {'factor': 3, 'filter': 'box'} does not "
                                                                  "fit datasets.embedded (resolution 16)"),
    (lambda c: c["datasets"]["embedded"].update(num_test=5000), "embedded test set at resolution 16 holds 2018"),
    (lambda c: c["methods"]["dps"].update(options={"zeta": "abc"}), "methods.dps.options: dps: option zeta"),
    (lambda c: c["methods"]["dps"].update(options={"zetta": 1.0}), "unknown option 'zetta'"),
    (lambda c: c["gmm"].update(shape=[3, 128, 128]), "gmm.shape"),
    (lambda c: c["methods"]["dps"].update(train={"steps": 9}), "methods.dps.train: dps has no trained network"),
    (lambda c: c["methods"]["eps_more"].update(continues="dps"), "'dps' is not another methods entry with a network of kind 'eps'"),
    (lambda c: c["methods"]["eps_more"].update(continues="eps_more"), "'eps_more' is not another methods entry"),
    (lambda c: c["methods"]["eps_more"]["train"].update(steps=2), "changes only its budget, to more steps (2 -> 2)"),
    (lambda c: c["methods"]["eps_more"]["train"].update(conditioning="pixel"), "(2 -> 4; differ: conditioning)"),
])
def test_config_problems_are_caught_before_any_job(change, says):
    from pathlib import Path

    from eps.config_check import check_config

    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "tiny.yaml").read_text())
    check_config(config)
    change(config)
    with pytest.raises(ValueError, match="^config: ") as info:
        check_config(config)
    assert says in str(info.value) and "\n" not in str(info.value)


# --- 12. shards hold only what they hold; files respect the umask ------------------------------------------------

def test_a_saved_view_holds_only_its_elements(tmp_path):
    whole = torch.zeros(1000, 3, 16, 16)
    save_torch({"x0": whole[:2]}, tmp_path / "view.pt")
    assert (tmp_path / "view.pt").stat().st_size < whole[:2].numel() * 4 + 4096
    assert torch.equal(load_torch(tmp_path / "view.pt", "shard")["x0"], whole[:2])


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_respect_the_umask(tmp_path, umask, mode):
    import os

    old = os.umask(umask)
    try:
        write_text(tmp_path / "a.txt", "x")
        save_torch({"x": torch.ones(1)}, tmp_path / "b.pt")
        with atomic_path(tmp_path / "c.bin") as tmp:
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    for name in ("a.txt", "b.pt", "c.bin"):
        assert (tmp_path / name).stat().st_mode & 0o777 == mode


# --- issue 23: nothing failed is promoted, every table verified, the last tracebacks, wrong or late answers ---------

def test_publish_is_all_or_nothing_and_an_interrupted_swap_is_restored(tmp_path, monkeypatch):
    """A publish that dies while copying leaves the committed folder as it was; one killed between its two renames
    leaves the old folder whole, restored by the next publish; a finished one holds exactly the new files."""
    import shutil

    from eps import publish as pub

    source, dest = tmp_path / "run" / "report", tmp_path / "results" / "report"
    for name in ("a.csv", "b.png", "qualitative/c.png"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(f"new {name}\n")
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        (dest / name).write_text(f"old {name}\n")
    (dest / "gone.txt").write_text("no longer made\n")
    before = {p.relative_to(dest): p.read_text() for p in dest.rglob("*") if p.is_file()}
    copies = []

    def dies_on_the_second(src, dst):
        copies.append(dst)
        if len(copies) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return shutil.copyfile(src, dst)

    monkeypatch.setattr(pub.shutil, "copyfile", dies_on_the_second)
    files = ["a.csv", "b.png", "qualitative/c.png"]
    with pytest.raises(OSError):
        pub.publish(source, dest, files, allow_dirty=True)
    assert {p.relative_to(dest): p.read_text() for p in dest.rglob("*") if p.is_file()} == before
    monkeypatch.undo()
    dest.rename(tmp_path / "results" / ".report.old")  # killed after the first rename
    pub.publish(source, dest, files, allow_dirty=True)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file()) == sorted(files)
    assert (dest / "a.csv").read_text() == "new a.csv\n" and sorted(p.name for p in dest.parent.iterdir()) == ["report"]


def test_publish_refuses_results_made_from_a_dirty_tree(capsys, tmp_path, monkeypatch):
    from eps import publish as pub

    source = tmp_path / "report"
    source.mkdir()
    (source / "t.csv").write_text("a\n1\n")
    (source / "t.csv.provenance.json").write_text('{"git": {"commit": "abc", "dirty": true}}')
    monkeypatch.setattr(pub, "git_commit", lambda: {"commit": "abc", "dirty": False})
    monkeypatch.delenv("EPS_PUBLISH_ALLOW_DIRTY", raising=False)
    refused(capsys, "provenance", "publish", "--source", str(source), "--to", str(tmp_path / "out"), "--files",
            "t.csv", "t.csv.provenance.json", says="was made from a dirty tree", out=tmp_path / "out")


def test_a_summary_cut_at_a_line_boundary_is_refused(capsys, tmp_path):
    """Whole lines missing: the field counts and the final newline are fine, only the recorded digest tells."""
    from eps.provenance import write_provenance

    summary = summary_csv(tmp_path / "s.csv", lambda t: t + t.split("\n", 1)[1].replace("sr4", "inpaint_box"))
    write_provenance(summary, sources=[])
    summary.write_text("".join(summary.read_text().splitlines(keepends=True)[:2]))
    refused(capsys, "report", "--summaries", str(summary), "--shards", str(tmp_path / "x.pt"), "--out",
            str(tmp_path / "report"), says="is not the file its provenance record describes (2 rows")


@pytest.mark.parametrize("params, says", [('{"factor": 0}', "sr4: factor must be an integer >= 1, got 0"),
                                          ('{"factor": -4}', "factor must be an integer >= 1"),
                                          ('{"factor": 2.5}', "factor must be an integer >= 1")])
def test_task_parameters_out_of_range_are_one_line(capsys, data, prior, tmp_path, params, says):
    out = tmp_path / "s.pt"
    refused(capsys, *sample_args(data, prior, out, "--task-params", params), says=says, out=out)
    refused(capsys, "train", "--kind", "eps", "--data", str(data), "--init", str(prior), "--tasks", "sr4",
            "--task-params", json.dumps({"sr4": json.loads(params)}), "--steps", "1", "--batch", "2",
            "--out", str(tmp_path / "e.pt"), says=says, out=tmp_path / "e.pt")


def test_gmm_bench_refuses_a_shape_that_sr4_does_not_divide(capsys, tmp_path):
    out = tmp_path / "g.csv"
    refused(capsys, *GMM[:-1], "1,7,7", "--methods", "eps", "--out", str(out),
            says="--shape 1,7,7 does not fit task sr4: sr4 (filter box): image size 7x7 is not divisible", out=out)


def test_a_dataset_name_that_is_not_a_word_is_a_config_error():
    from pathlib import Path

    from eps.config_check import check_config

    config = yaml.safe_load((Path(__file__).parents[1] / "config" / "tiny.yaml").read_text())
    config["datasets"]["e;touch x"] = config["datasets"].pop("embedded")
    with pytest.raises(ValueError, match=r"^config: dataset name 'e;touch x' must match \[A-Za-z0-9_-\]\+"):
        check_config(config)


def torch_write_fails(*args, **kwargs):
    """What torch.save raises on a full disk (a multi-line RuntimeError from its zip writer)."""
    raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0\n"
                       "PytorchStreamWriter failed writing file data/0: file write failed")


def test_a_full_disk_during_training_is_one_line_and_leaves_no_log(capsys, data, tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "save", torch_write_fails)
    out = tmp_path / "p.pt"
    line = refused(capsys, "train", "--kind", "prior", "--data", str(data), "--out", str(out), "--steps", "1",
                   "--batch", "2", *NET_FLAGS, says="PytorchStreamWriter failed writing file", out=out)
    assert f"(writing {out})" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zip"]  # no p.log.csv, no temporary file


def test_a_full_disk_while_writing_data_names_the_file(capsys, tmp_path, monkeypatch):
    import zipfile as zf

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(zf.ZipFile, "writestr", full)
    out = [tmp_path / "train.zip", tmp_path / "test.zip"]
    line = refused(capsys, "prepare-data", "--source", "embedded", "--resolution", "8", "--out", *map(str, out),
                   says="No space left on device")
    assert "train.zip" in line and not list(tmp_path.iterdir())


def test_a_moved_learned_cache_resumes_and_no_log_is_rewritten(capsys, tmp_path):
    """The cached fine-tune names its --init by path; moving the cache keeps the same prior bytes, so the run
    resumes (compared by sha256), and a finished run's logs are left untouched."""
    args = [*GMM, "--prior", "learned", "--methods", "eps", "--prior-steps", "2", "--eps-steps", "2", "--num-train",
            "64", "--model-channels", "8", "--threads", "1", "--out", str(tmp_path / "g.csv")]
    assert run(capsys, *args, "--cache", str(tmp_path / "c1"))[0] == 0
    (tmp_path / "c1").rename(tmp_path / "c2")
    logs = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (tmp_path / "c2").rglob("*.log.csv")}
    assert len(logs) == 2
    code, line = run(capsys, *args, "--cache", str(tmp_path / "c2"))
    assert code == 0, line
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in logs} == logs


def test_a_training_log_cut_at_a_line_boundary_is_refused(capsys, tmp_path):
    args = [*GMM, "--prior", "learned", "--methods", "eps", "--prior-steps", "4", "--eps-steps", "2", "--num-train",
            "64", "--model-channels", "8", "--threads", "1", "--cache", str(tmp_path / "c"), "--out",
            str(tmp_path / "g.csv")]
    assert run(capsys, *args)[0] == 0
    (log,) = (tmp_path / "c").rglob("prior.log.csv")
    log.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]))  # the last step's row gone
    refused(capsys, *args, says="holds 3 rows for a 4-step run: cut or damaged")


def test_a_baseline_that_ignores_the_interpolant_is_refused_before_any_work(capsys, tmp_path, monkeypatch):
    import eps.gmm_bench as bench

    def no_work(*args, **kwargs):
        raise AssertionError("the benchmark started before refusing")

    monkeypatch.setattr(bench, "sliced_wasserstein", no_work)
    out = tmp_path / "g.csv"
    refused(capsys, *GMM, "--methods", "eps,dps", "--interpolant", "vp", "--out", str(out),
            says="--interpolant vp: dps samples on its own EDM schedule", out=out)


def test_a_jpeg_re_encoded_test_image_among_the_train_images_is_found(capsys, tmp_path):
    """Overlap is judged at the working resolution with a tolerance (eps/data/folder.py): a lossy copy of a test
    image is the same picture, a different picture is not."""
    from PIL import Image

    yy, xx = np.mgrid[0:96, 0:96] / 96.0
    pictures = [np.stack([np.sin(3 * xx + k) , np.cos(2 * yy - k), xx * yy], -1) for k in range(4)]
    for split, ks in (("train", (0, 1)), ("test", (2, 3))):
        (tmp_path / split).mkdir()
        for k in ks:
            Image.fromarray(((pictures[k] + 1) * 127).clip(0, 255).astype(np.uint8)).save(tmp_path / split / f"{k}.png")
    out = [str(tmp_path / "train.zip"), str(tmp_path / "test.zip")]
    prepare = ["prepare-data", "--source", "folder", "--folders", str(tmp_path / "train"), str(tmp_path / "test"),
               "--resolution", "16", "--out", *out]
    assert run(capsys, *prepare)[0] == 0  # different pictures
    for p in out:
        Path(p).unlink()
    Image.open(tmp_path / "test" / "2.png").save(tmp_path / "train" / "copy.jpg", quality=75)
    refused(capsys, *prepare, says="1 train image(s) are a test image at the working resolution")
    assert not any(Path(p).exists() for p in out)
