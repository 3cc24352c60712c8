"""The workflow's plan (eps.workflow_plan): which networks a config trains, from what, under which names."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eps import workflow_plan as plan

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())


def test_default_config_trains_one_eps_network_and_palette_per_task():
    config = load("default")
    nets = plan.networks(config)
    assert {stem: net.kind for stem, net in nets.items()} == {"eps": "eps", "palette": "palette"}
    assert all(net.continues is None for net in nets.values())
    assert plan.models(config) == {"eps": "eps", **{f"palette_{t}": "palette" for t in config["tasks"]}}
    assert plan.model_tasks(config, "eps") == list(config["tasks"])
    assert plan.model_tasks(config, "palette_sr4") == ["sr4"]
    assert plan.network_stem(config, "eps_dpmpp2m") == "eps"  # a solver variant shares the EPS network
    assert plan.network_stem(config, "dps") is None


def test_entries_with_own_training_get_their_own_network_and_continues_chains_follow_back_to_the_root():
    config = load("learning_curve")
    nets = plan.networks(config)
    assert nets["eps_ft1000"].continues == "eps" and nets["eps_ft4000"].continues == "eps_ft1000"
    assert nets["eps_pixel"].continues is None and nets["eps_pixel"].options["conditioning"] == "pixel"
    assert nets["eps_ft4000"].options == {**config["train"]["eps"], "steps": 4000}
    assert plan.series(config, "eps_ft4000") == "eps" and plan.series(config, "eps_pixel") == "eps_pixel"
    assert plan.curve_point(config, "eps_ft4000") == "eps_ft4000=eps:4000"


def test_training_identity_keys_everything_that_shapes_a_network():
    config = load("default")
    base = plan.training_identity(config, "eps")
    assert base["tasks"] == config["tasks"] and base["sigma_y"] == config["sample"]["sigma_y"]
    assert plan.training_identity(config, "prior") == {"train": config["train"]["prior"], "tasks": {}, "sigma_y": None}
    config["train"]["eps"] = {**config["train"]["eps"], "steps": config["train"]["eps"]["steps"] + 1}
    assert plan.training_identity(config, "eps") != base


def test_cells_cover_every_dataset_task_method_and_budget():
    config = load("default")
    cells = plan.cells(config)
    expected = sum(len(spec["nfe"]) for spec in config["methods"].values()) * len(config["tasks"]) * len(config["datasets"])
    assert len(cells) == len(set(cells)) == expected


@pytest.mark.parametrize("name", ["default", "learning_curve", "paper", "tiny"])
def test_every_configured_entry_with_a_network_has_one(name):
    config = load(name)
    nets = plan.networks(config)
    for label in config["methods"]:
        stem = plan.network_stem(config, label)
        assert (stem is None) == (plan.registered(config, label) not in plan.TRAINED)
        assert stem is None or stem in nets
