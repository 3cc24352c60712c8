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
