"""LPIPS and the Inception metrics run end to end offline, and are reported missing without weights.

The weight files here are CREATED LOCALLY with RANDOM values but the real structure (the real file names
in a temporary ``$TORCH_HOME/hub/checkpoints``; torchvision AlexNet ``features.*`` tensors; torch-fidelity
InceptionV3's full state dict, convolutions He-initialised so that its features depend on the image). They check the plumbing — lookup, loading, shapes, NaN-free numbers —
not the published values, which need the real weights (``eps download-weights``).
"""
import dataclasses
import logging
import math

import pytest
import torch
import torchvision
from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

from eps.metrics import WEIGHTS, crps_pixel, energy_score, frechet_distance, mmd_unbiased
from eps.metrics.evaluate import evaluate, load_networks
from eps.metrics.inception import inception_features, load_inception
from eps.metrics.perceptual import load_lpips, lpips_distance
from eps.metrics.weights import WeightsMissing, sha256_of

from test_metrics_shards import write_shard


@pytest.fixture(scope="session")
def random_weights(tmp_path_factory):
    """``$TORCH_HOME`` whose hub cache holds random AlexNet and InceptionV3 weights under the real names."""
    home = tmp_path_factory.mktemp("torch_home")
    checkpoints = home / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    alexnet = torchvision.models.alexnet(weights=None)
    torch.save({k: v for k, v in alexnet.state_dict().items() if k.startswith("features.")},
               checkpoints / WEIGHTS["alexnet"].filename)
    with pytest.MonkeyPatch.context() as mp:  # build the module without its download, keep the random init
        mp.setattr(tf_inception, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(tf_inception.FeatureExtractorInceptionV3, "load_state_dict", lambda self, sd, *a, **k: None)
        inception = tf_inception.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    for module in inception.modules():  # He-scaled convolutions: torchvision's default init (std 0.1) makes the
        if isinstance(module, torch.nn.Conv2d):  # pool3 features ~1e-8 and constant, so FID/MMD would be ~0
            torch.nn.init.kaiming_normal_(module.weight)
    torch.save(inception.state_dict(), checkpoints / WEIGHTS["inception"].filename)
    return home


def trust_local_weights(monkeypatch, folder):
    """Pin the digests of the locally made weight files in ``folder`` (the real digests would refuse them)."""
    for name, entry in WEIGHTS.items():
        monkeypatch.setitem(WEIGHTS, name, dataclasses.replace(entry, size=None,
                                                               sha256=sha256_of(folder / entry.filename)))


@pytest.fixture
def torch_home(random_weights, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(random_weights))
    trust_local_weights(monkeypatch, random_weights / "hub" / "checkpoints")
    return random_weights


def test_lpips_runs_offline_with_local_weights(torch_home):
    model = load_lpips()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 3, 32, 32, generator=g) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    d = lpips_distance(model, x, y)
    assert d.shape == (3,) and torch.all(d > 0)
    assert torch.allclose(lpips_distance(model, x, x), torch.zeros(3), atol=1e-6)
    grey = lpips_distance(model, x[:, :1], y[:, :1])
    assert grey.shape == (3,) and torch.isfinite(grey).all()


def test_lpips_weights_folder_and_corrupt_file(tmp_path, monkeypatch, torch_home):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(WeightsMissing, match="alexnet-owt-7be5be79.pth not found"):
        load_lpips()
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / WEIGHTS["alexnet"].filename).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="alexnet-owt-7be5be79.pth: sha256 .* does not match the known"):
        load_lpips(weights_dir=folder)
    (folder / WEIGHTS["alexnet"].filename).write_bytes(
        (torch_home / "hub" / "checkpoints" / WEIGHTS["alexnet"].filename).read_bytes())
    assert load_lpips(weights_dir=folder) is not None


def test_inception_features_are_deterministic_2048_vectors(torch_home):
    model = load_inception()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 2 - 1
    f = inception_features(model, x, batch_size=2)
    assert f.shape == (3, 2048) and f.dtype == torch.float64 and torch.isfinite(f).all()
    torch.testing.assert_close(inception_features(model, x), f)


def test_evaluate_end_to_end_with_all_networks(torch_home, tmp_path, caplog):
    paths = [write_shard(tmp_path / f"s{i}.pt", n=2, k=2, seed=i, size=32) for i in range(2)]
    with caplog.at_level(logging.WARNING, logger="eps.metrics"):
        result = evaluate(paths)
    assert not caplog.records and result.missing == {}
    row = result.summary.iloc[0]
    for column in ("psnr", "ssim", "lpips", "fid", "mmd_pix", "mmd_inception", "crps_pix", "crps_inception"):
        assert math.isfinite(row[column]), column
    assert (result.per_image["missing_reason"] == "").all()


def test_missing_weights_give_nan_reason_and_one_warning_line(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_weights"))
    nets = load_networks()
    assert nets.lpips is None and nets.inception is None
    assert set(nets.missing) == {"lpips", "fid", "mmd_inception", "crps_inception"}
    path = write_shard(tmp_path / "s.pt", n=4, k=2, seed=0, size=32)
    with caplog.at_level(logging.WARNING, logger="eps.metrics"):
        result = evaluate([path])
    assert len(caplog.records) == 1 and "\n" not in caplog.records[0].getMessage()
    message = caplog.records[0].getMessage()
    assert "alexnet-owt-7be5be79.pth" in message and "weights-inception-2015-12-05-6726825d.pth" in message
    row = result.summary.iloc[0]
    for column in ("lpips", "fid", "mmd_inception", "crps_inception"):
        assert math.isnan(row[column]), column
    for column in ("psnr", "ssim", "mmd_pix", "crps_pix"):
        assert math.isfinite(row[column]), column
    reason = result.per_image["missing_reason"].iloc[0]
    assert "lpips" in reason and "fid, mmd_inception, crps_inception" in reason and "not found" in reason


def test_lpips_is_missing_below_its_minimum_size(random_weights, tmp_path, monkeypatch, caplog):
    only_alexnet = tmp_path / "home" / "hub" / "checkpoints"
    only_alexnet.mkdir(parents=True)
    name = WEIGHTS["alexnet"].filename
    (only_alexnet / name).write_bytes((random_weights / "hub" / "checkpoints" / name).read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    trust_local_weights(monkeypatch, random_weights / "hub" / "checkpoints")
    path = write_shard(tmp_path / "small.pt", n=2, k=1, size=16)
    with caplog.at_level(logging.WARNING, logger="eps.metrics"):
        result = evaluate([path])
    assert "at least 31 px" in result.missing["lpips"] and "not found" in result.missing["fid"]
    assert len(caplog.records) == 1
    assert math.isnan(result.summary.loc[0, "lpips"]) and math.isfinite(result.summary.loc[0, "psnr"])


def test_paper_config_evaluation_gives_fid_mmd_and_crps_together(torch_home, tmp_path, caplog):
    """The paper config's evaluation (``eps evaluate --fid-statistics <EDM fid-refs .npz> --crps-estimator nrg
    --sample-set all``, no ``--reference``; the command the evaluate rule writes for config/paper.yaml) on a 64 px
    stand-in with K = 2: FID of all N K samples against the statistics (``mu`` (2048,), ``sigma`` (2048, 2048),
    the structure of EDM's fid-refs; values from the random-weight network) equals FID against the images they
    summarise; MMD of all samples and CRPS (plug-in; fair as its own column) are those against the paired test
    images; every metric is finite, nothing missing."""
    import numpy as np
    import pandas as pd

    from eps.cli import main as eps_main
    from eps.metrics.frechet import FeatureStatistics
    path = write_shard(tmp_path / "s.pt", n=3, k=2, seed=0, size=64)
    reference = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(5)) * 2 - 1
    np.savez(tmp_path / "images.npz", x0=reference.numpy())
    stats = FeatureStatistics.of(inception_features(load_inception(), reference))
    assert stats.mu.shape == (2048,) and stats.sigma.shape == (2048, 2048)
    np.savez(tmp_path / "ffhq-64x64.npz", mu=stats.mu, sigma=stats.sigma)
    summary = tmp_path / "summary.csv"
    with caplog.at_level(logging.WARNING, logger="eps.metrics"):
        assert eps_main(["evaluate", "--shards", str(path), "--fid-statistics", str(tmp_path / "ffhq-64x64.npz"),
                         "--crps-estimator", "nrg", "--sample-set", "all", "--per-image", str(tmp_path / "p.csv"),
                         "--summary", str(summary)]) == 0
    assert not caplog.records
    row = pd.read_csv(summary).iloc[0]
    for column in ("psnr", "ssim", "lpips", "fid", "mmd_pix", "mmd_inception", "crps_pix", "crps_inception"):
        assert math.isfinite(row[column]), column
    assert row.num_samples == 2 and row.crps_estimator == "nrg" and row.sample_set == "all"
    shard = torch.load(path, weights_only=True)
    every, x0 = shard["samples"].flatten(0, 1), shard["x0"]
    model = load_inception()
    f_samples, f_x0 = inception_features(model, every).view(3, 2, -1), inception_features(model, x0)
    f_every = f_samples.flatten(0, 1)
    assert row.fid == pytest.approx(frechet_distance(f_every, inception_features(model, reference)), rel=1e-6)
    assert row.mmd_pix == pytest.approx(mmd_unbiased(every, x0), rel=1e-9)
    assert row.mmd_inception == pytest.approx(mmd_unbiased(f_every, f_x0), rel=1e-6)
    for estimator, column in (("nrg", "crps_pix"), ("fair", "crps_pix_fair")):
        assert row[column] == pytest.approx(crps_pixel(shard["samples"], x0, estimator).mean().item(), rel=1e-9)
    assert row.crps_inception == pytest.approx(energy_score(f_samples, f_x0, "nrg").mean().item(), rel=1e-6)
    assert row.crps_inception_fair == pytest.approx(energy_score(f_samples, f_x0, "fair").mean().item(), rel=1e-6)


def test_statistics_and_images_are_not_interchangeable(torch_home, tmp_path):
    import numpy as np

    path = write_shard(tmp_path / "s.pt", n=3, k=2, seed=0, size=32)
    np.savez(tmp_path / "stats.npz", mu=np.zeros(2048), sigma=np.eye(2048))
    np.savez(tmp_path / "images.npz", x0=np.zeros((2, 3, 32, 32), np.float32))
    with pytest.raises(ValueError, match="stats.npz holds Inception feature statistics .* pass it as --fid-statistics"):
        evaluate([path], reference=tmp_path / "stats.npz")
    with pytest.raises(ValueError, match="images.npz hold images, not Inception statistics"):
        evaluate([path], fid_statistics=tmp_path / "images.npz")
    np.savez(tmp_path / "small.npz", mu=np.zeros(64), sigma=np.eye(64))
    with pytest.raises(ValueError, match="64-d features; FID uses 2048-d"):
        evaluate([path], fid_statistics=tmp_path / "small.npz")
