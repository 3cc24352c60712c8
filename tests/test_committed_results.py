"""Committed results are what their records say, and their numbers are what the code computes.

Three layers (eps/provenance.py):
- integrity, always on: every committed table has a record whose ``table.sha256`` is the file's bytes and whose
  commit is clean and an ancestor of HEAD (an edited or cut table, or a record from a dirty tree, fails here);
- golden regression slices: a few cells of the committed exact-posterior table are recomputed (seconds each) and
  must equal the committed numbers within a stated tolerance, so the test fails when the numbers change, not when
  the code moves (timing columns are excluded);
- staleness (declared modules changed since the recorded commit) is reported by ``eps provenance stale``, never
  a failure here.
And every path the README cites exists.
"""
from __future__ import annotations

import json
import re
import subprocess

import pandas as pd
import pytest

from eps.fingerprint import ROOT, changed_since, same_code
from eps.io import file_record, provenance_path
from eps.provenance import committed_tables, integrity, staleness

TABLES = committed_tables()
FIELDS = {"format", "command", "config", "seeds", "packages", "python", "git", "modules", "table"}


def test_every_committed_table_has_a_provenance_record():
    missing = [str(p.relative_to(ROOT)) for p in TABLES if not provenance_path(p).is_file()]
    assert TABLES and not missing, f"tables without a provenance record: {missing}"


@pytest.mark.parametrize("table", TABLES, ids=lambda p: str(p.relative_to(ROOT / "results")))
def test_committed_table_is_the_one_its_clean_commit_recorded(table):
    record = json.loads(provenance_path(table).read_text())
    assert FIELDS <= set(record), f"{table}: record lacks {sorted(FIELDS - set(record))}"
    assert record["modules"] and record["packages"]["torch"] and record["python"]
    try:
        problems = integrity(table)
    except LookupError as err:  # a shallow clone (CI checkouts at depth 1) cannot tell ancestry
        pytest.skip(str(err))
    assert not problems, f"{table.relative_to(ROOT)}: {'; '.join(problems)}. Regenerate it: {record['command']}"


# --- golden regression slices: cells of results/core/gmm_all_methods_1x8x8.csv recomputed -----------------------
# Each cell has its own random streams (eps/gmm_bench.py: (seed, task, method, nfe)), so one cell recomputed alone
# equals its row of the full run. Everything runs in float64 with fixed seeds: across machines only the BLAS
# reduction order differs (relative error ~1e-16 per operation, ~1e5 operations per number, amplified at most ~1e3
# by the 20-100 sampler steps: < 1e-8), while any change of method, schedule or stream moves these numbers by the
# Monte Carlo scale (sw at N = 1000 has a relative standard error of a few percent). RTOL = 1e-6 sits between.
GOLDEN = ROOT / "results" / "core" / "gmm_all_methods_1x8x8.csv"
SLICES = [("eps", 20, "inpaint_random"), ("ddnm", 100, "deblur_gauss")]
NUMBERS = ["vjp", "sw", "sw_floor", "ratio", "mean_err", "cov_err"]  # the measured numbers: not `seconds` (timing)
# nor the NFE bookkeeping columns, whose names changed (nfe/nfe_budget -> nfe_measured/nfe) while the numbers did not
RTOL = 1e-6


@pytest.mark.parametrize("method, nfe, task", SLICES)
def test_golden_slice_reproduces_the_committed_numbers(method, nfe, task):
    from eps.gmm_bench import run

    config = json.loads(provenance_path(GOLDEN).read_text())["config"]
    committed = pd.read_csv(GOLDEN)
    budget = committed["nfe_budget" if "nfe_budget" in committed else "nfe"]
    row = committed[(committed.method == method) & (committed.task == task) & (committed.seed == 0) & (budget == nfe)]
    assert len(row) == 1
    new = run([(method, [nfe])], [task], [0], tuple(config["shape"]), config["sigma_y"], config["num_samples"],
              config["interpolant"], config["num_projections"], log=lambda *_: None, solver=config["solver"])
    got, want = new[NUMBERS].to_numpy(float)[0], row[NUMBERS].to_numpy(float)[0]
    assert got == pytest.approx(want, rel=RTOL), (
        f"{method}@{nfe} on {task} no longer gives the committed numbers {dict(zip(NUMBERS, want))}: "
        f"regenerate {GOLDEN.relative_to(ROOT)} with the command in its record")


# --- staleness is a report ------------------------------------------------------------------------------------

def test_code_comparison_ignores_docstrings_and_comments_but_not_code():
    a = b'"""Module."""\ndef f(x):\n    """Doc."""\n    return x + 1\n'
    b = b'"""Other words."""\n# a comment\ndef f(x):\n    return x + 1  # same code\n'
    c = b'"""Module."""\ndef f(x):\n    """Doc."""\n    return x + 2\n'
    assert same_code(a, b, "m.py") and not same_code(a, c, "m.py") and not same_code(a, b, "m.smk")


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_staleness_compares_declared_modules_with_the_recorded_commit(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "m.py").write_text('def f(x):\n    return x + 1\n')
    (tmp_path / "n.py").write_text('def g(x):\n    return x\n')
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "one")
    commit = git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "m.py").write_text('"""Now documented."""\ndef f(x):  # why\n    return x + 1\n')
    assert changed_since(commit, ["m.py", "n.py"], tmp_path) == []
    (tmp_path / "n.py").write_text('def g(x):\n    return -x\n')
    assert changed_since(commit, ["m.py", "n.py", "gone.py"], tmp_path) == ["gone.py", "n.py"]
    with pytest.raises(LookupError, match="not in this clone"):
        changed_since("0" * 40, ["m.py"], tmp_path)


def test_staleness_is_one_line_for_every_committed_table():
    for table in TABLES:
        line = staleness(table)
        assert re.match(r"(current|stale|unknown): ", line) and "\n" not in line, line


def test_a_table_cut_at_a_line_boundary_fails_integrity(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b\n1,2\n3,4\n")
    record = {"git": {"commit": None, "dirty": None}, "table": file_record(table)}
    provenance_path(table).write_text(json.dumps(record))
    table.write_text("a,b\n1,2\n")
    problems = integrity(table, tmp_path)
    assert any("not the one recorded" in p and "2 rows" in p for p in problems)


# --- every path the README cites exists -------------------------------------------------------------------------
TOP = {p.name for p in ROOT.iterdir() if not p.name.startswith(".")} - {"runs", "data", "weights", "downloads"}
CITED = sorted({m for m in re.findall(r"[`(]([A-Za-z0-9_.*-]+/[A-Za-z0-9_./*-]*)", (ROOT / "README.md").read_text())
                if m.split("/")[0] in TOP})
EXAMPLES = {"baselines/gauss_dc.py"}  # a file the README shows how to write (adding a method), not one it cites


@pytest.mark.parametrize("path", [p for p in CITED if p not in EXAMPLES])
def test_every_path_the_readme_cites_exists(path):
    assert list(ROOT.glob(path.rstrip("/"))), f"README.md cites {path}, which is not in the repository"
