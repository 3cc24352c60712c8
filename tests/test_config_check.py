"""Every config error is one line: the key path, the valid keys or values, a did-you-mean (issue 22 §1).
End-to-end through ``snakemake -n``: tests/test_workflow.py."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from eps import names
from eps.config_check import check_config, load_schema

ROOT = Path(__file__).resolve().parents[1]
TINY = yaml.safe_load((ROOT / "config" / "tiny.yaml").read_text())


def refused(change) -> str:
    config = copy.deepcopy(TINY)
    change(config)
    with pytest.raises(ValueError) as info:
        check_config(config)
    line = str(info.value)
    assert line.startswith("config: ") and "\n" not in line, line
    return line


def rename(mapping: dict, old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


@pytest.mark.parametrize("change, key, says", [
    (lambda c: rename(c, "sample", "sampel"), "sampel", ["valid keys at the top level: out,", "did you mean sample?"]),
    (lambda c: rename(c["sample"], "num_samples", "num_sample"), "sample.num_sample",
     ["valid keys under sample: num_samples, seeds", "did you mean num_samples?"]),
    (lambda c: c["methods"]["dps"].update(eta=0.5), "methods.dps.eta",
     ["valid keys under methods.dps: nfe, method, solver, options", "method options go under methods.dps.options"]),
    (lambda c: c["tasks"].update(sr8={}), "tasks.sr8", [", ".join(names.TASKS), "did you mean sr4?"]),
    (lambda c: c["gmm"].update(tasks=["deblur_gaus"]), "gmm.tasks[0]", [", ".join(names.TASKS), "did you mean deblur_gauss?"]),
    (lambda c: c["frontier"].update(solvers=["heum"]), "frontier.solvers[0]", [", ".join(names.SOLVERS), "did you mean heun?"]),
    (lambda c: c["methods"].update(dpss={"nfe": [3]}), "methods.dpss", ["registered methods: daps,", "did you mean dps?"]),
    (lambda c: c["gmm"].update(methods=["eps@3", "pigmd"]), "gmm.methods[1]", ["registered methods:", "did you mean pigdm?"]),
    (lambda c: c["methods"]["dps"].update(options={"zetta": 1.0}), "methods.dps.options",
     ["dps: unknown option 'zetta'; valid options: ", "did you mean zeta?"]),
    (lambda c: c["sample"].pop("seeds"), "sample", ["missing required key(s) seeds"]),
    (lambda c: c["sample"].update(sigma_y=-1), "sample.sigma_y", ["minimum of 0"]),
    (lambda c: c["sample"].update(sigma_y=float("nan")), "sample.sigma_y", ["finite"]),
])
def test_each_config_error_is_one_line_naming_the_key_and_the_valid_values(change, key, says):
    line = refused(change)
    assert line.startswith(f"config: {key}"), line
    for text in says:
        assert text in line, (text, line)


def test_the_schema_takes_its_names_from_the_code():
    schema = load_schema()
    assert schema["$defs"]["task"]["enum"] == list(names.TASKS)
    assert schema["$defs"]["solver"]["enum"] == list(names.SOLVERS)
    assert list(schema["properties"]["tasks"]["properties"]) == list(names.TASKS)  # one parameter schema per task
    text = (ROOT / "config" / "schema.yaml").read_text()
    assert "inpaint_random, inpaint_box" not in text and "heun, euler" not in text  # no copies of the lists


def test_defaults_are_filled_in():
    config = copy.deepcopy(TINY)
    config.pop("threads", None)
    check_config(config)
    assert config["threads"] == 1 and config["evaluate"]["crps_estimator"] == "fair"
