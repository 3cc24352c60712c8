"""The workflow's plan (eps.workflow_plan): which networks a config trains, from what, under which names."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eps import workflow_plan as plan

ROOT = Path(__file__).resolve().parents[1]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / f"{name}.yaml").read_text())


def test_default_config_trains_eps_and_palette_per_task():
    """The EPS paper's main tables (App. B): one EPS and one Palette network per task."""
    config = load("default")
    nets = plan.networks(config)
    assert {stem: net.kind for stem, net in nets.items()} == {"eps": "eps", "palette": "palette"}
    assert all(net.continues is None for net in nets.values())
    assert plan.models(config) == {f"{k}_{t}": k for k in ("eps", "palette") for t in config["tasks"]}
    assert plan.model_tasks(config, "eps_sr4") == ["sr4"] and plan.model_tasks(config, "palette_sr4") == ["sr4"]
    assert plan.network_stem(config, "eps_dpmpp2m") == "eps"  # a solver variant shares the EPS network
    assert plan.network_stem(config, "dps") is None


def test_entries_with_own_training_get_their_own_network_and_continues_chains_follow_back_to_the_root():
    config = load("learning_curve")
    nets = plan.networks(config)
    assert nets["eps_ft6400"].continues == "eps" and nets["eps_ft25600"].continues == "eps_ft6400"
    assert nets["eps_operator"].continues is None and nets["eps_operator"].options["conditioning"] == "operator"
    assert nets["eps_ft25600"].options == {**config["train"]["eps"], "images": 25600}
    assert plan.series(config, "eps_ft25600") == "eps" and plan.series(config, "eps_operator") == "eps_operator"
    assert plan.curve_point(config, "eps_ft25600") == "eps_ft25600=eps:800"  # 25600 images at batch 32


def test_budgets_amortized_and_training_task_params():
    """Budgets in images or steps (an entry's own replaces the kind's, budget_factor scales it), amortized: one
    network on every task (D.5), task_params: the training's own operator parameters (D.9), keyed in the state."""
    config = load("default")
    config["methods"]["eps_am"] = {"method": "eps", "nfe": [1], "train": {"amortized": True, "budget_factor": 2.5}}
    config["methods"]["eps_steps"] = {"method": "eps", "nfe": [1], "train": {"steps": 7}}
    assert plan.network_options(config, "eps_am")["images"] == 2.5 * config["train"]["eps"]["images"]
    assert plan.budget_steps(plan.network_options(config, "eps_am")) == 125  # 4000 images at batch 32
    assert "images" not in plan.network_options(config, "eps_steps") and plan.budget_steps({"steps": 7}) == 7
    assert plan.model_tasks(config, "eps_am") == list(config["tasks"]) and "eps_am_sr4" not in plan.models(config)
    config["train"]["eps"] = {**config["train"]["eps"], "task_params": {"inpaint_random": {"missing": 0.7}}}
    config["tasks"]["inpaint_random"] = {"missing": 0.9}
    assert plan.training_tasks(config, "eps_inpaint_random") == {"inpaint_random": {"missing": 0.7}}
    assert plan.training_tasks(config, "palette_inpaint_random") == {"inpaint_random": {"missing": 0.9}}
    before = plan.training_identity(config, "eps_inpaint_random")
    config["tasks"]["inpaint_random"] = {"missing": 0.5}  # another evaluation density: the same network
    assert plan.training_identity(config, "eps_inpaint_random") == before


def test_training_identity_keys_everything_that_shapes_a_network():
    config = load("default")
    base = plan.training_identity(config, "eps_sr4")
    assert base["tasks"] == {"sr4": config["tasks"]["sr4"]} and base["sigma_y"] == config["sample"]["sigma_y"]
    assert plan.training_identity(config, "prior") == {"train": config["train"]["prior"], "tasks": {}, "sigma_y": None}
    config["train"]["eps"] = {**config["train"]["eps"], "images": config["train"]["eps"]["images"] + 1}
    assert plan.training_identity(config, "eps_sr4") != base


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
