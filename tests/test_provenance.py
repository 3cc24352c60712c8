"""The provenance record: its fields, a stable config hash, atomic writing next to the results file."""
import json


from eps.provenance import config_hash, provenance, provenance_path, write_provenance


def test_config_hash_is_order_independent_and_content_sensitive():
    assert config_hash({"a": 1, "b": [1, 2]}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})
    assert config_hash(None) == config_hash({})


def test_record_fields():
    record = provenance({"k": 1}, seeds=[3, 1, 3], device="cpu", stage="test")
    assert record["seeds"] == [1, 3] and record["stage"] == "test" and record["config"] == {"k": 1}
    assert record["git"]["commit"] is None or len(record["git"]["commit"]) == 40
    assert record["packages"]["torch"] and "cpu" in record["device"] and record["date_utc"].endswith("+00:00")
    json.dumps(record)


def test_written_next_to_results_atomically(tmp_path):
    results = tmp_path / "sub" / "table.csv"
    path = write_provenance(results, config={"x": 1}, seeds=[0])
    assert path == provenance_path(results) == tmp_path / "sub" / "table.csv.provenance.json"
    assert json.loads(path.read_text())["config_hash"] == config_hash({"x": 1})
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
