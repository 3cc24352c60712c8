"""Fault injection: every input a hostile user or a faulty machine gives ends in one line naming the problem
(and the flag or key), exit status 2, and nothing written or trusted (issue 13). The commands run in process
through ``eps.cli.main``; workflow-level checks (quoting, interrupted jobs) are in test_workflow_faults.py."""
from __future__ import annotations

import errno
import math
import pickle
import zipfile

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
            "crps_estimator": "fair"}.get(column, "0.5") for column in COLUMNS]
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
    (lambda c: c["methods"]["eps_more"]["train"].update(steps=2), "changes only steps, to more (2 -> 2)"),
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
