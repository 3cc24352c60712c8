"""Training: resume equals uninterrupted (bitwise), failed resumes write nothing, DDP equals one process."""
import csv
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import math
import torch

from eps.data import write_image_zip
from eps.training import TrainConfig, train
from eps.training.trainer import log_path

NET = dict(model_channels=8, channel_mult=[1, 2], num_blocks=1, attn_resolutions=[4])
IMAGES = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1


def config(kind, **kw):
    return TrainConfig(kind=kind, steps=6, batch=4, ckpt_every=2, lr_rampup=2, ema_halflife=2.0, net=NET, **kw)


def states_equal(a: Path, b: Path) -> None:
    sa, sb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    assert sa["step"] == sb["step"]
    for part in ("model", "ema"):
        for k in sa[part]:
            assert torch.equal(sa[part][k], sb[part][k]), (part, k)
    for i, s in sa["optimizer"]["state"].items():
        for k, v in s.items():
            assert torch.equal(v, sb["optimizer"]["state"][i][k])
    assert torch.equal(sa["rng"]["generator"], sb["rng"]["generator"])


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("kind", ["prior", "eps", "palette"])
def test_resume_after_interruption_equals_uninterrupted_run(tmp_path, kind):
    train(config(kind), tmp_path / "a.pt", IMAGES)
    kill_at = int(torch.randint(3, 6, (1,), generator=torch.Generator().manual_seed(zlib.crc32(kind.encode()))))  # stable across processes

    def crash(step):
        if step == kill_at:
            raise Interrupt

    with pytest.raises(Interrupt):
        train(config(kind), tmp_path / "b.pt", IMAGES, callback=crash)
    assert torch.load(tmp_path / "b.pt", weights_only=True)["step"] < 6
    train(config(kind), tmp_path / "b.pt", IMAGES)
    states_equal(tmp_path / "a.pt", tmp_path / "b.pt")
    with open(log_path(tmp_path / "b.pt")) as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]


def test_checkpoint_is_a_plain_state_dict_with_every_rng_state(tmp_path):
    train(config("prior"), tmp_path / "c.pt", IMAGES)
    state = torch.load(tmp_path / "c.pt", weights_only=True)
    assert {"format", "kind", "net", "config", "model", "ema", "optimizer", "step", "rng"} <= set(state)
    assert {"generator", "torch", "cuda"} <= set(state["rng"]) and state["step"] == 6
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # atomic writes leave no temp files


def test_mismatched_or_corrupt_checkpoint_fails_and_writes_nothing(tmp_path):
    out = tmp_path / "m.pt"
    train(config("prior"), out, IMAGES)
    before, log_before = out.read_bytes(), log_path(out).read_bytes()
    with pytest.raises(ValueError, match=r"m\.pt.*lr="):
        train(TrainConfig(**{**config("prior").__dict__, "lr": 0.5, "steps": 8}), out, IMAGES)
    with pytest.raises(ValueError, match=r"m\.pt.*kind="):
        train(config("palette"), out, IMAGES)
    assert out.read_bytes() == before and log_path(out).read_bytes() == log_before
    out.write_bytes(before[: len(before) // 2])  # truncated file
    with pytest.raises(ValueError, match=r"m\.pt.*corrupt"):
        train(config("prior"), out, IMAGES)
    assert out.read_bytes() == before[: len(before) // 2]


def test_unknown_kind_or_task_is_an_error():
    with pytest.raises(ValueError, match="unknown training kind"):
        TrainConfig(kind="gan")
    with pytest.raises(ValueError, match="unknown task"):
        TrainConfig(kind="eps", tasks=["inpaint_everything"])


def test_ddp_two_processes_match_one_process(tmp_path):
    """Data parallelism changes nothing but the order of float sums. Compared where that is bounded: one step's
    gradient in float64 (``tests/ddp_gradient_driver.py``), one process vs two gloo processes with the same
    global batch. Each gradient entry is a sum of ~1e4 products, so reordering moves it by at most
    ~1e4 * 2^-53 * sum|terms| ~ 1e-12 of the tensor's scale; 1e-10 holds on any CPU. (Parameters after several
    float32 Adam steps are not comparable: Adam's first steps move every entry by ~lr whatever the gradient's
    size, so an entry whose gradient is within rounding of zero can move either way.)
    The CLI is then launched under torchrun for real, end to end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    driver = str(Path(__file__).with_name("ddp_gradient_driver.py"))
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    for cmd, out in (([sys.executable, driver], "one.pt"), ([torchrun, "--standalone", "--nproc_per_node", "2", driver], "two.pt")):
        run = subprocess.run([*cmd, str(tmp_path / out)], env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr[-3000:]
    one, two = torch.load(tmp_path / "one.pt", weights_only=True), torch.load(tmp_path / "two.pt", weights_only=True)
    assert one.keys() == two.keys() and all(g.dtype == torch.float64 for g in one.values())
    for k, g in one.items():
        scale = float(g.abs().max())
        assert scale > 0, k  # every parameter (the zero-initialised conditioning layer too) receives a gradient
        assert float((two[k] - g).abs().max()) <= 1e-10 * scale, k

    images = ((IMAGES.permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    write_image_zip(images, tmp_path / "d.zip")
    args = ["--kind", "eps", "--data", str(tmp_path / "d.zip"), "--steps", "3", "--batch", "4", "--lr-rampup", "1",
            "--model-channels", "8", "--channel-mult", "1,2", "--attn-resolutions", "4", "--threads", "1"]
    ddp = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "eps.training.cli", *args,
                          "--out", str(tmp_path / "ddp.pt")], env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "2 process(es)" in ddp.stdout
    trained = torch.load(tmp_path / "ddp.pt", weights_only=True)
    assert trained["step"] == 3 and trained["model"]["model.cond_conv.weight"].abs().max() > 0


def test_task_params_reach_the_operator_draws():
    from eps.operators import DEFAULTS
    from eps.training.objectives import draw_measurement
    g, x0 = torch.Generator().manual_seed(0), IMAGES[:8]
    for missing in (0.2, 0.9):  # training draws use the training density (App. B), not the evaluation one
        op, _ = draw_measurement(x0, {"inpaint_random": {"missing": 0.7, "train_missing": missing}}, 0.05, g)
        assert abs(float((op.s == 0).float().mean()) - missing) < 0.1
    cfg = config("eps", tasks=["deblur_gauss", "sr4"], task_params={"deblur_gauss": {"kernel_size": 5}})
    assert cfg.task_params == {"deblur_gauss": {**DEFAULTS["deblur_gauss"], "kernel_size": 5}, "sr4": DEFAULTS["sr4"]}
    with pytest.raises(ValueError, match=r"deblur_gauss: unknown parameter\(s\) \['size'\]"):
        config("eps", task_params={"deblur_gauss": {"size": 5}})
    with pytest.raises(ValueError, match="not among the trained tasks"):
        config("eps", tasks=["sr4"], task_params={"deblur_gauss": {"std": 1.0}})


def test_train_cli_fresh_folder_task_params_and_resume_mismatch(tmp_path, capsys):
    """``eps train`` creates the folders of --out and its log, stores the task parameters in the checkpoint
    config, and a resume with other task parameters is one clear error that changes nothing."""
    from eps.cli import main
    from eps.operators import DEFAULTS
    images = ((IMAGES.permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    write_image_zip(images, tmp_path / "d.zip")
    out = tmp_path / "fresh" / "models" / "eps.pt"
    args = ["train", "--kind", "eps", "--data", str(tmp_path / "d.zip"), "--out", str(out), "--steps", "2",
            "--batch", "2", "--model-channels", "8", "--channel-mult", "1,2", "--attn-resolutions", "4",
            "--tasks", "deblur_gauss,inpaint_random", "--threads", "1"]
    params = '{"deblur_gauss": {"kernel_size": 5, "std": 1.0}}'
    assert main([*args, "--task-params", params]) == 0
    assert out.is_file() and log_path(out).is_file()
    saved = torch.load(out, weights_only=True)["config"]["task_params"]
    assert saved == {"deblur_gauss": {**DEFAULTS["deblur_gauss"], "kernel_size": 5, "std": 1.0},
                     "inpaint_random": DEFAULTS["inpaint_random"]}
    before = out.read_bytes()
    capsys.readouterr()
    assert main([*args, "--task-params", '{"deblur_gauss": {"kernel_size": 7}}']) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "eps.pt" in err and "task_params=" in err
    assert main([*args, "--task-params", '{"deblur_gauss": {"radius": 7}}']) == 2
    assert "unknown parameter(s) ['radius']" in capsys.readouterr().err
    assert main([*args, "--task-params", "{deblur"]) == 2
    assert "--task-params is not valid JSON" in capsys.readouterr().err
    assert out.read_bytes() == before


def test_conditional_kinds_see_the_whole_sampler_range():
    """Half of a conditional batch is log-uniform on [0.002, 80] (EPS's 1-NFE mean is read at sigma_max)."""
    from eps.training.objectives import SIGMA_MAX, SIGMA_MIN, sample_sigma

    g = torch.Generator().manual_seed(0)
    narrow, wide = sample_sigma(20000, g), sample_sigma(20000, g, wide=True)
    assert (narrow > 40).float().mean() < 1e-3  # the EDM log-normal practically never reaches sigma_max
    odd = wide[1::2].log()
    assert odd.min() >= math.log(SIGMA_MIN) - 1e-6 and odd.max() <= math.log(SIGMA_MAX) + 1e-6
    assert abs(odd.mean() - (math.log(SIGMA_MIN) + math.log(SIGMA_MAX)) / 2) < 0.1 and (wide > 40).float().mean() > 0.02


def test_ema_rampup_is_edms_schedule_in_images():
    """EDM training_loop.py: half-life in images min(halflife_kimg 1000, ratio cur_nimg), beta = 0.5^(batch / it),
    cur_nimg the images seen before the step; ema_beta takes the same in steps (brute force over a run)."""
    from eps.training.loop import ema_beta

    batch, halflife_images, ratio = 64, 3200.0, 0.05
    for k in range(0, 3000, 7):
        nimg = k * batch
        h = min(halflife_images, ratio * nimg)
        expected = 0.5 ** (batch / h) if h > 0 else 0.0
        assert math.isclose(ema_beta(k, halflife_images / batch, ratio), expected, rel_tol=1e-12, abs_tol=1e-300)
    assert ema_beta(0, 50.0) == 0.1 and ema_beta(10**6, 50.0) == 0.5 ** (1 / 50)  # the project's ramp (no ratio)


def test_budgets_in_images_convert_to_steps(tmp_path):
    """eps train --images / --lr-rampup-images / --ema-halflife-images: steps at the global batch (rounded up)."""
    from eps.training.cli import main, steps_of

    assert steps_of(12_800_000, 512) == 25_000 and steps_of(100, 32) == 4 and steps_of(96, 32) == 3
    data = tmp_path / "train.zip"
    write_image_zip(((IMAGES.permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy(), data)
    out = tmp_path / "prior.pt"
    assert main(["--kind", "prior", "--data", str(data), "--out", str(out), "--images", "20", "--batch", "4",
                 "--lr-rampup-images", "8", "--ema-halflife-images", "6", "--ema-rampup", "0.05",
                 "--model-channels", "8", "--channel-mult", "1,2", "--attn-resolutions", ""]) == 0
    saved = torch.load(out, weights_only=True)
    assert saved["step"] == 5 and saved["config"]["steps"] == 5
    assert saved["config"]["lr_rampup"] == 2 and saved["config"]["ema_halflife"] == 1.5
    assert saved["config"]["ema_rampup"] == 0.05 and saved["config"]["sigma_draw"] == "lognormal"
