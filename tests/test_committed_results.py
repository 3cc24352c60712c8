"""Committed results are true for the code that is committed beside them.

Every table under ``results/`` (except the published reference numbers) carries a provenance record whose
``code`` field holds the digest of each source file that produced it (:mod:`eps.fingerprint`: docstrings and
comments do not count). A change to that code without regenerating the table fails here, naming the files
and the command that regenerates it.
"""
from pathlib import Path

import json

import pytest

from eps.fingerprint import ROOT, digest, stale
from eps.provenance import provenance_path

RESULTS = ROOT / "results"
TABLES = sorted(p for p in RESULTS.rglob("*.csv") if "reference" not in p.relative_to(RESULTS).parts)


def test_every_committed_table_has_a_provenance_record():
    missing = [str(p.relative_to(ROOT)) for p in TABLES if not provenance_path(p).is_file()]
    assert not missing, f"tables without a provenance record: {missing}"


@pytest.mark.parametrize("table", TABLES, ids=lambda p: str(p.relative_to(RESULTS)))
def test_committed_table_matches_the_code(table):
    record = json.loads(provenance_path(table).read_text())
    assert record["code"], f"{table}: the provenance record lists no source files"
    changed = stale(record["code"])
    assert not changed, (f"{table.relative_to(ROOT)} was produced by other code: {changed} changed since. "
                         f"Regenerate it: {record['command']}")


def test_digest_ignores_docstrings_and_comments_but_not_code(tmp_path):
    a, b, c = tmp_path / "a.py", tmp_path / "b.py", tmp_path / "c.py"
    a.write_text('"""Module."""\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    b.write_text('"""Other words."""\n# a comment\ndef f(x):\n    return x + 1  # same code\n')
    c.write_text('"""Module."""\ndef f(x):\n    """Doc."""\n    return x + 2\n')
    assert digest(a) == digest(b) != digest(c)
    assert stale({"eps/rng.py": digest(ROOT / "eps" / "rng.py")}) == []
    assert stale({"eps/rng.py": "0" * 64, "eps/gone.py": "0" * 64}) == ["eps/gone.py", "eps/rng.py"]
    assert stale({"eps/fingerprint.py": "0" * 64}) == []  # bookkeeping: never compared
