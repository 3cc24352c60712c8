"""Workflow-level faults (issue 13): hostile paths in the config never reach the shell unquoted, a changed
training config never resumes or keeps an old model, and the plain command recovers an interrupted job."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from eps.io import load_torch
from test_workflow import SNAKEMAKE, snakemake, workdir

# Spaces, quotes and every shell metacharacter that could start a command.
HOSTILE = {"out": "res ults/x; touch PWNED1 'q\" $(touch PWNED2)", "data_dir": "da ta/`touch PWNED3`&",
           "weights_dir": "we ights|touch PWNED4"}


def hostile_config(cwd: Path, **train) -> str:
    cfg = yaml.safe_load((cwd / "config" / "tiny.yaml").read_text())
    cfg.update(HOSTILE)
    for kind, options in train.items():
        cfg["train"][kind].update(options)
    (cwd / "hostile.yaml").write_text(yaml.safe_dump(cfg))
    return "hostile.yaml"


def shell_commands(output: str) -> list[str]:
    return [line.split("Shell command: ", 1)[1] for line in output.splitlines()
            if line.startswith("Shell command: ") and not line.endswith("None")]


def state_files(output: str) -> set[str]:
    return set(re.findall(r"models/embedded/\w+\.pt\.[0-9a-f]{12}\.state", output))


def test_every_config_value_reaches_the_shell_quoted(tmp_path):
    cwd = workdir(tmp_path)
    run = snakemake(cwd, "-n", "-p", "--configfile", hostile_config(cwd))
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Using workflow specific profile profiles/default" in run.stdout + run.stderr  # rerun-incomplete
    commands = shell_commands(run.stdout)
    assert len(commands) >= 12  # every rule of the tiny DAG
    for command in commands:
        tokens = shlex.split(command)
        assert not {"touch", "PWNED1", "PWNED2", "PWNED3", "PWNED4"} & set(tokens), command
        for value in HOSTILE.values():  # a hostile value appears only whole, as the start of one argument
            for token in (re.sub(r"^\w+=", "", t) for t in tokens):  # tmp=<path>: a quoted shell assignment
                assert value.split("/")[0] not in token or token.startswith(value), token
    assert len(state_files(run.stdout)) == 4  # prior, eps, eps_more, palette: each state keyed by its training config


@pytest.mark.slow
@pytest.mark.timeout(3600)  # two tiny-DAG runs
def test_hostile_paths_run_end_to_end_and_a_changed_config_retrains(tmp_path):
    """The tiny DAG under the hostile paths: nothing injected ran; then fewer prior steps re-run training from
    scratch to exactly the configured step (the old state is neither resumed nor kept)."""
    cwd = workdir(tmp_path)
    first = snakemake(cwd, "--configfile", hostile_config(cwd))
    assert first.returncode == 0, first.stderr[-3000:]
    out = cwd / HOSTILE["out"]
    assert (out / "report" / "summary.csv").is_file() and not list(cwd.rglob("PWNED*"))
    assert load_torch(out / "models" / "embedded" / "prior.pt", "checkpoint")["step"] == 2
    again = snakemake(cwd, "--configfile", hostile_config(cwd, prior={"steps": 1}))
    assert again.returncode == 0, again.stderr[-3000:]
    assert load_torch(out / "models" / "embedded" / "prior.pt", "checkpoint")["step"] == 1
    assert not list((out / "models" / "embedded").glob("*.state"))  # finished states are moved into place


@pytest.mark.slow
def test_the_plain_command_reruns_a_job_left_incomplete(tmp_path):
    """A job whose snakemake process is killed leaves its output marked incomplete; after the lock is lifted,
    the plain command re-runs it (profiles/default), where without the profile Snakemake stops."""
    cwd = workdir(tmp_path)
    (cwd / "Snakefile").write_text(
        'rule interrupted:\n    output: "x.txt"\n'
        '    shell: "echo part > {output}; if [ ! -e killed ]; then touch killed; kill -9 $PPID; sleep 2; fi; '
        'echo whole > {output}"\n')
    env = dict(os.environ, OMP_NUM_THREADS="1")
    killed = subprocess.run([SNAKEMAKE, "--cores", "1"], cwd=cwd, env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL
    subprocess.run([SNAKEMAKE, "--unlock", "--cores", "1"], cwd=cwd, env=env, capture_output=True, check=True)
    stuck = snakemake(cwd, "--workflow-profile", "none")
    assert stuck.returncode != 0 and "IncompleteFilesException" in stuck.stdout + stuck.stderr
    plain = snakemake(cwd)
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert (cwd / "x.txt").read_text() == "whole\n"
