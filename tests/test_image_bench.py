"""`eps sample` core: shard format, shared measurements across methods, cost accounting, atomic writes."""
from __future__ import annotations

import pytest
import torch

from eps.image_bench import _json, run_shard, stack_operators
from eps.methods import get_method
from eps.operators import make_operator
from eps.priors.gmm import random_gmm
from eps.rng import generator


@pytest.fixture(scope="module")
def setup():
    prior = random_gmm((1, 8, 8), generator=generator(0))
    return prior, prior.sample(3, generator(1)).float()


def test_shard_format(setup):
    prior, x0 = setup
    shard = run_shard(x0, "deblur_gauss", get_method("eps"), prior, nfe=3, seed=0, start=5, num_samples=2,
                      batch_size=2, progress=False, meta={"dataset": "gmm"})
    assert shard["x0"].shape == (3, 1, 8, 8) and shard["samples"].shape == (3, 2, 1, 8, 8)
    assert shard["y"].shape == (3, 1, 8, 8) and shard["samples"].dtype == torch.float32
    assert shard["nfe"] == 3 and shard["vjp"] == 0  # measured: Heun with 2 steps
    assert shard["seconds"] > 0 and shard["seconds_uncond"] > 0
    meta = shard["meta"]
    assert {k: meta[k] for k in ("dataset", "task", "method", "nfe", "seed", "start", "count")} == {
        "dataset": "gmm", "task": "deblur_gauss", "method": "eps", "nfe": 3, "seed": 0, "start": 5, "count": 3}
    assert meta["sigma_y"] == 0.05 and meta["operator_stream"].startswith("stream_seed(seed, 0, image)")
    assert {k: meta[k] for k in ("kernel_size", "std", "boundary")} == {"kernel_size": 11, "std": 0.75, "boundary": "periodic"}
    assert all(isinstance(v, (int, float, str)) for v in meta.values())


def test_same_measurement_for_every_method_and_shard_split(setup):
    prior, x0 = setup
    whole = run_shard(x0, "inpaint_random", get_method("eps_zeroshot"), prior, 2, seed=7, num_samples=1,
                      progress=False)
    tail = run_shard(x0[1:], "inpaint_random", get_method("dps"), prior, 2, seed=7, start=1, num_samples=1,
                     progress=False)
    other_seed = run_shard(x0, "inpaint_random", get_method("eps_zeroshot"), prior, 2, seed=8, num_samples=1,
                           progress=False)
    assert torch.equal(whole["y"][1:], tail["y"])
    assert not torch.equal(whole["y"], other_seed["y"])


def test_shared_parameters_stay_shared():
    g = generator(0)
    shared = stack_operators([make_operator("sr4", (1, 8, 8), 1, g) for _ in range(3)])
    masks = stack_operators([make_operator("inpaint_random", (1, 8, 8), 1, g) for _ in range(3)])
    assert shared.batch_size == 1 and masks.batch_size == 3


def test_wrong_image_shape_is_one_clear_error(setup):
    prior, _ = setup
    with pytest.raises(ValueError, match="test images have shape"):
        run_shard(torch.zeros(2, 3, 8, 8), "sr4", get_method("eps"), prior, 1, seed=0, progress=False)


def test_bad_json_option_is_one_clear_error():
    with pytest.raises(ValueError, match="--options is not valid JSON"):
        _json("{zeta: 1}", "--options")


@pytest.fixture
def cli_inputs(tmp_path):
    """A zip of five 8x8 RGB test images and a tiny untrained UNet backbone."""
    import numpy as np

    from eps.data import write_image_zip
    from eps.nn.checkpoint import build_network, save_network
    from eps.nn.unet import UNetConfig

    write_image_zip(np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8), tmp_path / "test.zip")
    torch.manual_seed(0)
    save_network(build_network(UNetConfig(img_resolution=8, model_channels=8, channel_mult=(1,), num_blocks=1,
                                          attn_resolutions=())), tmp_path / "prior.pt")
    return ["--data", str(tmp_path / "test.zip"), "--prior", str(tmp_path / "prior.pt"), "--task", "sr4",
            "--method", "dps", "--num-samples", "2", "--device", "cpu"]


def test_one_process_writes_every_shard_as_single_shard_runs_do(tmp_path, cli_inputs):
    """``eps sample`` over NFE x seeds x shards writes, for each, the shard one call per shard writes."""
    from eps.cli import main

    pattern = str(tmp_path / "all" / "nfe{nfe}" / "seed{seed}" / "shard{shard}.pt")
    assert main(["sample", *cli_inputs, "--nfe", "1,2", "--seed", "3,4", "--count", "5", "--shard-size", "2",
                 "--out", pattern]) == 0
    for nfe, seed, shard in [(1, 3, 0), (2, 4, 2), (2, 3, 1)]:
        start, count = 2 * shard, min(2, 5 - 2 * shard)
        one = tmp_path / f"one-{nfe}-{seed}-{shard}.pt"
        assert main(["sample", *cli_inputs, "--nfe", str(nfe), "--seed", str(seed), "--start", str(start), "--count",
                     str(count), "--out", str(one)]) == 0
        a = torch.load(pattern.format(nfe=nfe, seed=seed, shard=shard), weights_only=True)
        b = torch.load(one, weights_only=True)
        assert torch.equal(a["samples"], b["samples"]) and torch.equal(a["y"], b["y"])
        assert {k: v for k, v in a["meta"].items()} == b["meta"] and a["meta"]["start"] == start


def test_bare_timing_tables_replace_the_in_process_timing(tmp_path, cli_inputs):
    from eps.cli import main

    table = tmp_path / "bare.csv"
    table.write_text("solver,grid,nfe,rows,sec\nheun,geometric,2,2,0.5\n")
    out = tmp_path / "s{shard}.pt"
    assert main(["sample", *cli_inputs, "--nfe", "2", "--count", "3", "--shard-size", "3", "--batch-size", "2",
                 "--bare-timing", str(table), "--out", str(out)]) == 0
    # two batches: 2 images x K = 2 -> 4 rows, then 1 image -> 2 rows (scaled from the 2-row timing)
    assert torch.load(tmp_path / "s0.pt", weights_only=True)["seconds_uncond"] == pytest.approx(0.5 * 4 / 2 + 0.5)
    table.write_text("solver,grid,nfe,rows,sec\nheun,geometric,5,2,0.5\n")
    assert main(["sample", *cli_inputs, "--nfe", "2", "--count", "1", "--bare-timing", str(table),
                 "--out", str(tmp_path / "t.pt")]) == 2
    assert not (tmp_path / "t.pt").exists()


def test_shard_names_must_tell_the_shards_apart(tmp_path, cli_inputs, capsys):
    from eps.cli import main

    assert main(["sample", *cli_inputs, "--nfe", "1,2", "--count", "2", "--out", str(tmp_path / "s.pt")]) == 2
    assert "include {nfe}" in capsys.readouterr().err and not list(tmp_path.glob("s*.pt"))
