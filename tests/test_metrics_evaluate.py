"""``eps evaluate`` end to end without network weights: the CSV columns, grouping, cost arithmetic,
provenance next to each file, and one clear error for bad input."""
import json
import math

import pandas as pd
import pytest
import torch

from eps.cli import main as eps_main
from eps.metrics.evaluate import evaluate

from test_metrics_shards import make_shard, write_shard

PAPER_COLUMNS = ["dataset", "task", "method", "nfe", "psnr", "ssim", "lpips", "fid", "mmd_pix", "mmd_inception",
                 "crps_pix", "crps_inception"]


@pytest.fixture(autouse=True)
def no_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def test_cli_writes_csvs_with_the_published_columns_and_provenance(tmp_path):
    shards = [write_shard(tmp_path / "a0.pt", seed=0, method="eps"),
              write_shard(tmp_path / "a1.pt", seed=1, method="eps"),
              write_shard(tmp_path / "b.pt", seed=2, method="dps", nfe=100)]
    per_image, summary = tmp_path / "out" / "per_image.csv", tmp_path / "out" / "summary.csv"
    argv = ["evaluate", "--shards", *map(str, shards), "--per-image", str(per_image), "--summary", str(summary)]
    assert eps_main(argv) == 0
    table = pd.read_csv(summary)
    assert list(table.columns) == (PAPER_COLUMNS[:4] + ["num_samples", "crps_estimator", "sample_set"]
                                   + PAPER_COLUMNS[4:] + ["nfe_measured", "sec_per_image", "cost_ratio"]
                                   + ["crps_pix_fair", "crps_pix_nrg", "crps_inception_fair", "crps_inception_nrg"])
    assert (table.num_samples == 2).all() and (table.crps_estimator == "nrg").all() and (table.sample_set == "all").all()
    assert (table.crps_pix == table.crps_pix_nrg).all() and (table.crps_pix_fair < table.crps_pix_nrg).all()
    assert sorted(zip(table.method, table.nfe)) == [("dps", 100), ("eps", 20)]
    eps_row = table[table.method == "eps"].iloc[0]
    assert eps_row.sec_per_image == pytest.approx(2.0) and eps_row.cost_ratio == pytest.approx(2.0 / 1.6)
    assert math.isnan(eps_row.fid) and math.isfinite(eps_row.mmd_pix)
    rows = pd.read_csv(per_image)
    assert len(rows) == 12 and {"psnr_posterior_mean", "missing_reason"} <= set(rows.columns)
    assert eps_row.psnr == pytest.approx(rows[rows.method == "eps"].psnr.mean())
    for path in (per_image, summary):
        record = json.loads(path.with_name(path.name + ".provenance.json").read_text())
        assert record["seeds"] == [0, 1, 2] and len(record["config_hash"]) == 64
        assert set(record["missing"]) == {"lpips", "fid", "mmd_inception", "crps_inception"}


def test_sample_set_all_averages_every_sample_and_pools_them_for_mmd(tmp_path):
    """App. F: PSNR / SSIM averaged over the K samples of each measurement (brute force: a loop over the samples),
    MMD of all N K samples against the N test images; ``first`` uses the first sample only."""
    from eps.metrics.mmd import mmd_unbiased
    from eps.metrics.pixel import psnr, ssim

    path = write_shard(tmp_path / "s.pt", n=4, k=3, noise=0.2)
    shard = torch.load(path, weights_only=True)
    x0, samples = shard["x0"].float(), shard["samples"].float()
    every = evaluate([path]).per_image
    first = evaluate([path], sample_set="first").per_image
    for i in range(4):
        per_sample = [float(psnr(samples[i, j : j + 1], x0[i : i + 1])) for j in range(3)]
        assert every.psnr[i] == pytest.approx(sum(per_sample) / 3, rel=1e-6)
        assert first.psnr[i] == pytest.approx(per_sample[0], rel=1e-6)
        per_sample = [float(ssim(samples[i, j : j + 1], x0[i : i + 1])) for j in range(3)]
        assert every.ssim[i] == pytest.approx(sum(per_sample) / 3, rel=1e-6)
    summary = evaluate([path]).summary.iloc[0]
    assert summary.mmd_pix == pytest.approx(mmd_unbiased(samples.flatten(0, 1), x0), rel=1e-9)
    assert evaluate([path], sample_set="first").summary.mmd_pix.item() == pytest.approx(
        mmd_unbiased(samples[:, 0], x0), rel=1e-9)
    with pytest.raises(ValueError, match="unknown sample set 'some'; valid: all, first"):
        evaluate([path], sample_set="some")


def test_metric_values_follow_sample_quality(tmp_path):
    """Tighter samples around the truth: higher PSNR/SSIM, lower CRPS; the posterior mean beats one sample."""
    good = write_shard(tmp_path / "good.pt", n=6, k=4, noise=0.05, method="good")
    bad = write_shard(tmp_path / "bad.pt", n=6, k=4, noise=0.3, method="bad")
    result = evaluate([good, bad])
    s = result.summary.set_index("method")
    assert s.loc["good", "psnr"] > s.loc["bad", "psnr"] and s.loc["good", "ssim"] > s.loc["bad", "ssim"]
    assert s.loc["good", "crps_pix"] < s.loc["bad", "crps_pix"]
    rows = result.per_image
    assert (rows.psnr_posterior_mean > rows.psnr).all()


def test_reference_set_replaces_ground_truth_for_distribution_metrics(tmp_path):
    shard = write_shard(tmp_path / "a.pt", n=6, k=1, noise=0.0)
    same = evaluate([shard]).summary.mmd_pix.item()
    torch.save(torch.rand(6, 3, 16, 16, generator=torch.Generator().manual_seed(9)) * 2 - 1, tmp_path / "ref.pt")
    other = evaluate([shard], reference=tmp_path / "ref.pt").summary.mmd_pix.item()
    assert same < 0 and same < other  # paired ground truth pulls the unbiased estimate below zero
    torch.save(torch.zeros(6, 3, 8, 8), tmp_path / "small.pt")
    with pytest.raises(ValueError, match="do not match"):
        evaluate([shard], reference=tmp_path / "small.pt")


def test_bad_input_is_one_clear_error_and_writes_nothing(tmp_path, capsys):
    shard = make_shard()
    del shard["samples"]
    torch.save(shard, tmp_path / "bad.pt")
    out = tmp_path / "summary.csv"
    argv = ["evaluate", "--shards", str(tmp_path / "bad.pt"), "--per-image", str(tmp_path / "p.csv"),
            "--summary", str(out)]
    assert eps_main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing samples" in err and "bad.pt" in err
    assert not out.exists()


def test_k_is_reported_and_one_per_cell_and_fair_crps_needs_two_samples(tmp_path):
    """K (num_samples) comes from the shards; a cell mixing K is one clear error; K = 1 leaves the fair CRPS
    NaN with the reason, while the nrg estimator is then the mean absolute error."""
    one = write_shard(tmp_path / "one.pt", n=3, k=1, method="eps")
    result = evaluate([one], crps_estimator="fair")
    row = result.summary.iloc[0]
    assert row.num_samples == 1 and math.isnan(row.crps_pix)
    assert "needs K >= 2 samples per measurement, got K = 1" in result.missing["crps_pix"]
    shard = torch.load(one, weights_only=True)
    mae = 127.5 * (shard["samples"][:, 0] - shard["x0"]).abs().mean().item()
    assert evaluate([one], crps_estimator="nrg").summary.crps_pix.item() == pytest.approx(mae, rel=1e-6)
    four = write_shard(tmp_path / "four.pt", n=3, k=4, seed=1, method="eps")
    with pytest.raises(ValueError, match=r"shards hold K = \[1, 4\] samples per measurement; one cell must use one K"):
        evaluate([one, four])
