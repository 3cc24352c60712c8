"""The ``eps`` command line: help and argument errors before any heavy import, shared argument groups, one
registry of method names (issue 21 §3, issue 22 §2-4)."""
from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from eps import names
from eps.args import HelpFormatter
from eps.cli import COMMANDS
from eps.parsers import BUILDERS, LEARNED_DEFAULTS, TRAIN_DEFAULTS, build

ROOT = Path(__file__).resolve().parents[1]
# Runs `eps ARGV` in a fresh interpreter, then reports whether torch was imported (on the last line of stderr).
DRIVER = ("import sys\nfrom eps.cli import main\ntry:\n    code = main(sys.argv[1:])\nexcept SystemExit as stop:\n"
          "    code = stop.code\nprint('TORCH', 'torch' in sys.modules, file=sys.stderr)\nsys.exit(code)")


def eps_fresh(*argv: str) -> tuple[int, str, list[str], bool]:
    """(exit status, stdout, stderr lines without the marker, whether torch was imported)."""
    run = subprocess.run([sys.executable, "-c", DRIVER, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    err = run.stderr.strip().splitlines()
    assert err and err[-1].startswith("TORCH "), run.stderr
    return run.returncode, run.stdout, err[:-1], err[-1] == "TORCH True"


def test_every_command_has_a_parser():
    assert set(BUILDERS) == set(COMMANDS)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_imports_no_torch(command):
    code, out, err, torch = eps_fresh(command, "--help")
    assert code == 0 and f"usage: eps {command}" in out and not err
    assert not torch, f"eps {command} --help imported torch"


@pytest.mark.parametrize("argv, flag", [
    (["frontier", "--sigma-y", "nan", "--out", "a", "--table", "b", "--figure", "c"], "--sigma-y"),
    (["cost-bench", "--sigma-y", "nan", "--data", "d", "--prior", "p", "--task", "sr4", "--out", "o"], "--sigma-y"),
    (["cost-bench", "--nfe", "0", "--data", "d", "--prior", "p", "--task", "sr4", "--out", "o"], "--nfe"),
    (["sample", "--task", "sr8", "--data", "d", "--prior", "p", "--method", "eps", "--nfe", "2", "--count", "1",
      "--out", "o"], "--task"),
    (["sample", "--method", "epss", "--data", "d", "--prior", "p", "--task", "sr4", "--nfe", "2", "--count", "1",
      "--out", "o"], "--method"),
    (["gmm-bench", "--solver", "heum", "--out", "o"], "--solver"),
    (["train", "--kind", "prior", "--data", "d", "--out", "o", "--lr", "nan"], "--lr"),
    (["evaluate", "--shards", "s.pt", "--per-image", "a", "--summary", "b", "--device", "gpu"], "--device"),
])
def test_argument_errors_are_one_line_naming_the_flag_before_any_heavy_import(argv, flag):
    code, _, err, torch = eps_fresh(*argv)
    assert code == 2 and len(err) == 1 and f"argument {flag}:" in err[0], err
    assert not torch


def test_unknown_names_list_the_valid_ones_with_a_suggestion():
    code, _, err, _ = eps_fresh("sample", "--task", "sr8", "--data", "d", "--prior", "p", "--method", "eps",
                                "--nfe", "2", "--count", "1", "--out", "o")
    assert "valid tasks: " + ", ".join(names.TASKS) in err[0] and "did you mean sr4?" in err[0]
    code, _, err, _ = eps_fresh("sample", "--method", "epss", "--data", "d", "--prior", "p", "--task", "sr4",
                                "--nfe", "2", "--count", "1", "--out", "o")
    assert "did you mean eps?" in err[0] and "palette" in err[0]


def test_eps_method_without_its_network_names_the_flag(tmp_path, capsys):
    from eps.cli import main

    assert main(["sample", "--data", str(tmp_path / "d.zip"), "--prior", str(tmp_path / "p.pt"), "--task", "sr4",
                 "--method", "eps", "--nfe", "2", "--count", "1", "--device", "cpu", "--out", str(tmp_path / "o.pt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--eps-net" in err[0]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_states_each_default_once_and_every_option_is_explained(command):
    parser = build(command)
    formatter = HelpFormatter(parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        text = formatter._get_help_string(action)
        assert action.help, f"eps {command} {action.option_strings}: no help"
        assert text.count("default") <= 1 and "(default: None)" not in text, (action.option_strings, text)
        if action.required:
            assert "default" not in text, (action.option_strings, text)


@pytest.mark.parametrize("command, flags", [("sample", ["--task", "--method", "--solver"]),
                                            ("gmm-bench", ["--tasks", "--methods", "--solver"]),
                                            ("frontier", ["--tasks", "--methods", "--solvers"]),
                                            ("cost-bench", ["--task", "--methods", "--solver"]),
                                            ("train", ["--tasks", "--kind"])])
def test_task_method_and_solver_flags_list_their_choices(command, flags):
    text = build(command).format_help().replace("\n", " ")
    text = " ".join(text.split())
    for flag in flags:
        assert flag in text
    if any("task" in f for f in flags):
        assert ", ".join(names.TASKS) in text
    if any("method" in f for f in flags):
        assert ", ".join(names.method_names()) in text


def test_method_names_without_imports_equal_the_registry():
    from eps.methods import METHODS, load_plugins

    load_plugins()
    assert names.method_names() == sorted(METHODS)


def test_pyproject_advertises_every_method_eps_included():
    """The entry points (read by `pip install -e .`) name every method; EPS registers like any baseline."""
    declared = names._declared()
    assert declared["eps"] == "eps.methods.eps" and declared["eps_trained"] == "eps.methods.eps_trained"
    assert declared["baselines"] == "baselines"  # a package: one method per public module
    baselines = sorted(p.stem for p in (ROOT / "baselines").glob("[!_]*.py"))
    assert names.method_names() == sorted([*baselines, *(k for k in declared if k != "baselines")])


def test_importing_the_registry_imports_no_method():
    code = ("import sys, eps.methods\nassert not [m for m in sys.modules if m.startswith(('baselines', 'eps.methods.eps'))]"
            "\nfrom eps.methods import get_method\nget_method('dps')\n"
            "assert 'baselines.dps' in sys.modules and 'baselines.palette' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=120)


def test_the_names_equal_the_implementations():
    from eps.gmm_bench import PRIORS
    from eps.interpolants import INTERPOLANTS
    from eps.metrics.crps import ESTIMATORS
    from eps.nn.anisotropic import PRECONDS
    from eps.nn.conditioning import CONDITIONINGS, PALETTE_CONDITIONINGS
    from eps.training.objectives import SIGMA_DRAWS, check_kind
    from eps.training.trainer import TrainConfig

    assert names.INTERPOLANTS == tuple(INTERPOLANTS) and names.CRPS_ESTIMATORS == tuple(ESTIMATORS)
    assert names.PRECONDS == tuple(PRECONDS) and names.CONDITIONINGS == tuple(CONDITIONINGS)
    assert names.GMM_PRIORS == tuple(PRIORS)
    assert names.PALETTE_CONDITIONINGS == PALETTE_CONDITIONINGS and names.SIGMA_DRAWS == SIGMA_DRAWS
    for kind in names.KINDS:
        check_kind(kind)
    with pytest.raises(ValueError):
        check_kind("nope")
    config = TrainConfig()
    assert {k: getattr(config, k) for k in TRAIN_DEFAULTS} == TRAIN_DEFAULTS


def test_learned_budget_defaults_are_the_parser_defaults():
    from eps.gmm_learned import LearnedBudget

    budget = dataclasses.asdict(LearnedBudget())
    assert {k: budget[k] for k in LEARNED_DEFAULTS if k != "model_channels"} == \
        {k: v for k, v in LEARNED_DEFAULTS.items() if k != "model_channels"}
    assert budget["net"]["model_channels"] == LEARNED_DEFAULTS["model_channels"]


def test_unknown_command_is_one_line_with_the_commands():
    code, _, err, torch = eps_fresh("smaple")
    assert code == 2 and len(err) == 1 and "valid commands: gmm-bench" in err[0] and "did you mean sample?" in err[0]
    assert not torch
