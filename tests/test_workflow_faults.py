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

from eps import workflow_plan as plan
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


def test_the_plain_command_reruns_a_job_left_incomplete(tmp_path):  # in CI: seconds, and docs/reliability.md states it
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


def tiny_config(cwd: Path, name: str, **train) -> str:
    """config/tiny.yaml with the training options of each kind in ``train`` overridden, written to ``name``."""
    cfg = yaml.safe_load((cwd / "config" / "tiny.yaml").read_text())
    for kind, options in train.items():
        cfg["train"][kind].update(options)
    (cwd / name).write_text(yaml.safe_dump(cfg))
    return name


def test_every_job_runs_in_strict_mode(tmp_path):
    """The project's shell prefix (common.smk) replaces Snakemake's `set -euo pipefail`, so it must restate it: a
    probe rule appended to the real Snakefile reports the options its shell runs with, and a failure inside a pipe
    fails the job before the next command; every rule's rendered command (default DAG with publish, paper DAG)
    parses under that prefix and has no empty test operand (`[ -n  ]`, always true)."""
    cwd = workdir(tmp_path)
    with (cwd / "Snakefile").open("a") as f:
        f.write('\nrule probe_options:\n    output: "options.txt"\n    shell: "set -o > {output}"\n'
                '\nrule probe_pipe:\n    output: "pipe.txt"\n    shell: "false | cat; echo reached > {output}"\n')
    probes = snakemake(cwd, "--keep-going", "options.txt", "pipe.txt")
    assert probes.returncode != 0 and not (cwd / "pipe.txt").exists()  # `false | cat` failed its job
    options = dict(line.split() for line in (cwd / "options.txt").read_text().splitlines())
    assert options["errexit"] == options["nounset"] == options["pipefail"] == "on"
    for args in (["publish"], ["--configfile", "config/paper.yaml"]):  # the default DAG up to publish; the paper's
        run = snakemake(cwd, "-n", "-p", *args)
        assert run.returncode == 0, run.stderr[-2000:]
        commands = shell_commands(run.stdout)
        assert len(commands) >= 10 and any(c.startswith("eps provenance publish") for c in commands) == (args == ["publish"])
        for command in commands:
            assert not re.search(r"\[ -[nz] +\]", command), command
        script = "set -euo pipefail\n" + "\n".join(commands) + "\n"  # one parse of every rendered command
        check = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


@pytest.mark.slow  # ~100 s on 2 cores (data, prior, fine-tune); the strict-mode test above covers the mechanism
def test_a_diverging_training_fails_its_job_and_leaves_no_model(tmp_path):
    """A fine-tune whose step 2 goes non-finite (lr 1e38) after step 1 was checkpointed: `eps train` exits 2, the
    pipe into `tee` carries that status, the job fails and the step-1 state is not promoted to the model."""
    cwd = workdir(tmp_path)
    config = tiny_config(cwd, "diverge.yaml", eps={"lr": 1.0e38, "ckpt_every": 1})
    model = plan.model_name(yaml.safe_load((cwd / config).read_text()), "eps", "sr4")  # the per-task file, eps_sr4
    run = snakemake(cwd, f"runs/tiny/models/embedded/{model}.pt", "--configfile", config)
    assert run.returncode != 0
    assert "went non-finite" in (cwd / f"runs/tiny/logs/train/embedded/{model}.log").read_text()
    assert (cwd / "runs/tiny/models/embedded/prior.pt").is_file()  # the job before it succeeded
    assert not (cwd / f"runs/tiny/models/embedded/{model}.pt").exists()
