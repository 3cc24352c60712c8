"""The provenance record: its fields, a stable config hash, the table's digest, atomic writing next to the file."""
import json

import pytest

from eps.io import file_sha256, read_csv
from eps.provenance import FORMAT, config_hash, provenance, provenance_path, write_provenance


def test_config_hash_is_order_independent_and_content_sensitive():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert config_hash(None) == config_hash({})


def test_record_fields(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("k: 1\n")
    record = provenance({"k": 1}, seeds=[3, 1, 3], device="cpu", sources=["eps/rng.py", config], stage="test")
    assert record["format"] == FORMAT and record["seeds"] == [1, 3] and record["stage"] == "test"
    assert record["config"] == {"k": 1} and record["modules"] == ["eps/rng.py"]  # code: by path, read from git
    assert record["inputs"] == {str(config): file_sha256(config)}  # anything else: by content
    assert record["git"]["commit"] is None or len(record["git"]["commit"]) == 40
    assert record["packages"]["torch"] and "cpu" in record["device"] and record["date_utc"].endswith("+00:00")
    assert "code" not in record  # no interpreter-dependent digests
    json.dumps(record)


def test_written_next_to_results_atomically_with_the_tables_digest(tmp_path):
    results = tmp_path / "sub" / "table.csv"
    results.parent.mkdir()
    results.write_text("a,b\n1,2\n3,4\n")
    path = write_provenance(results, config={"x": 1}, seeds=[0], sources=[])
    assert path == provenance_path(results) == tmp_path / "sub" / "table.csv.provenance.json"
    record = json.loads(path.read_text())
    assert record["config_hash"] == config_hash({"x": 1})
    assert record["table"] == {"sha256": file_sha256(results), "bytes": 12, "rows": 2}
    assert sorted(p.name for p in path.parent.iterdir()) == ["table.csv", path.name]  # no temp file left behind


def test_a_record_describes_a_file_that_exists(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_provenance(tmp_path / "never_written.csv", sources=[])


def test_read_csv_refuses_a_table_cut_at_a_line_boundary_or_edited(tmp_path):
    table = tmp_path / "summary.csv"
    table.write_text("method,psnr\neps,30.1\ndps,25.2\n")
    write_provenance(table, sources=[])
    assert len(read_csv(table, "summary")) == 2
    table.write_text("method,psnr\neps,30.1\n")  # whole lines, one row gone: only the digest tells
    with pytest.raises(ValueError, match=r"summary .*summary.csv is not the file its provenance record describes "
                                         r"\(2 rows.*now 1 rows\)"):
        read_csv(table, "summary")
    table.write_text("method,psnr\neps,30.1\ndps,35.2\n")
    with pytest.raises(ValueError, match="truncated or edited"):
        read_csv(table, "summary")
