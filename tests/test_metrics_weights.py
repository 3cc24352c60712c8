"""``eps download-weights``: resume, sha256 verification, refusal of a mismatch, one clear line offline.
No network: fetches go to local ``file://`` URLs or a fake opener that honours HTTP ``Range``."""
import dataclasses
import hashlib
import io
import urllib.error
from dataclasses import replace

import pytest

from eps.metrics import weights
from eps.metrics.weights import WEIGHTS, WeightFile, fetch, find_weights, sha256_of

PAYLOAD = bytes(range(256)) * 1000


def _entry(tmp_path, payload=PAYLOAD, sha=None):
    source = tmp_path / "source.bin"
    source.write_bytes(payload)
    return WeightFile(filename="net.pth", url=source.as_uri(), size=len(payload),
                      sha256=sha or hashlib.sha256(payload).hexdigest(), source="test")


def test_fetch_from_file_url_verifies_and_moves_into_place(tmp_path):
    entry = _entry(tmp_path)
    path = fetch(entry, tmp_path / "dest")
    assert path.read_bytes() == PAYLOAD and not (tmp_path / "dest" / "net.pth.part").exists()
    assert fetch(entry, tmp_path / "dest") == path  # already present: verified, not fetched again


def test_fetch_resumes_a_partial_download_with_a_range_request(tmp_path):
    entry = _entry(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "net.pth.part").write_bytes(PAYLOAD[:1000])
    requests = []

    class Response(io.BytesIO):
        status = 206

    def opener(request):
        requests.append(request.get_header("Range"))
        start = int(request.get_header("Range").removeprefix("bytes=").rstrip("-"))
        return Response(PAYLOAD[start:])

    assert fetch(entry, dest, opener=opener).read_bytes() == PAYLOAD
    assert requests == ["bytes=1000-"]


def test_fetch_refuses_a_hash_mismatch_and_deletes_the_bytes(tmp_path):
    entry = _entry(tmp_path, sha="0" * 64)
    with pytest.raises(ValueError, match="does not match the known 0000"):
        fetch(entry, tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []
    bad_size = replace(_entry(tmp_path), size=5)
    with pytest.raises(ValueError, match="expected 5"):
        fetch(bad_size, tmp_path / "dest2")


def test_download_weights_offline_fails_with_one_clear_line(tmp_path, monkeypatch, capsys):
    def offline(request):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(weights.urllib.request, "urlopen", offline)
    assert weights.main(["--dest", str(tmp_path), "--only", "alexnet"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot fetch" in err and "alexnet-owt-7be5be79.pth" in err


def test_known_hashes_carry_the_torch_hub_prefix_of_their_file_names():
    for entry in WEIGHTS.values():
        prefix = entry.filename.rsplit("-", 1)[1].removesuffix(".pth")
        assert entry.sha256.startswith(prefix) and len(entry.sha256) == 64


def test_find_weights_order_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    cache = tmp_path / "home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / WEIGHTS["inception"].filename).write_bytes(b"x")
    with pytest.raises(ValueError, match="does not match the known"):  # verified before every load
        find_weights("inception")
    monkeypatch.setitem(WEIGHTS, "inception", dataclasses.replace(WEIGHTS["inception"], sha256=sha256_of(
        cache / WEIGHTS["inception"].filename)))
    assert find_weights("inception") == (cache / WEIGHTS["inception"].filename, b"x")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / WEIGHTS["inception"].filename).write_bytes(b"x")
    assert find_weights("inception", mine)[0] == mine / WEIGHTS["inception"].filename
    with pytest.raises(ValueError, match="unknown weights 'vgg'"):
        find_weights("vgg")


def test_single_file_mode_fetches_and_verifies(tmp_path, capsys):
    entry = _entry(tmp_path)
    out = tmp_path / "backbones" / "edm.pkl"
    assert weights.main(["--url", entry.url, "--sha256", entry.sha256, "--out", str(out)]) == 0
    assert out.read_bytes() == PAYLOAD
    with pytest.raises(ValueError, match="not 64 hex digits"):
        weights.main(["--url", entry.url, "--sha256", "None", "--out", str(out)])
    with pytest.raises(ValueError, match="go together"):
        weights.main(["--url", entry.url, "--out", str(out)])


def test_single_file_mode_with_unknown_sha256_keeps_the_file_and_prints_its_digest(tmp_path, capsys):
    """Published files without a published digest (EDM checkpoints, FID statistics): ``--sha256 unknown``."""
    entry = _entry(tmp_path)
    out = tmp_path / "weights" / "ffhq-64x64.npz"
    assert weights.main(["--url", entry.url, "--sha256", "unknown", "--out", str(out)]) == 0
    assert out.read_bytes() == PAYLOAD and not out.with_name(out.name + ".part").exists()
    assert f"sha256 {hashlib.sha256(PAYLOAD).hexdigest()}: no published digest, not verified" in capsys.readouterr().out
