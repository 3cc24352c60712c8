"""``eps gmm-bench --prior learned``: the project's networks trained on GMM samples, cached by what defines them."""
import csv
import dataclasses
import math

import pandas as pd
import pytest
import torch

from eps import gmm_bench
from eps.gmm_learned import LearnedBudget, cache_key, parse_bands, train_configs
from eps.priors import random_gmm

TINY = ["--prior-steps", "3", "--eps-steps", "3", "--train-batch", "8", "--num-train", "64", "--model-channels", "8",
        "--num-samples", "16", "--num-projections", "20", "--shape", "1,8,8", "--seeds", "0", "--threads", "1"]


def test_learned_bench_runs_scores_and_reuses_its_networks(tmp_path):
    out = tmp_path / "learned.csv"
    gmm_bench.main(["--prior", "learned", "--methods", "eps@4,ddnm@4", "--tasks", "sr4,inpaint_box", *TINY,
                    "--out", str(out)])
    df = pd.read_csv(out)
    assert list(df.columns) == gmm_bench.COLUMNS
    assert set(zip(df.method, df.task)) == {("unconditional", "prior"), ("eps", "sr4"), ("ddnm", "sr4"),
                                            ("eps", "inpaint_box"), ("ddnm", "inpaint_box")}
    assert (df.prior == "learned").all() and (df.prior_steps == 3).all()
    assert df[["sw", "ratio", "prior_loss"]].map(math.isfinite).all().all()
    # the fine-tune's budget and loss on the rows of the network that used it: each task's own EPS network
    assert (df[df.method == "eps"].eps_steps == 3).all() and df[df.method != "eps"].eps_steps.isna().all()
    assert df[df.method == "eps"].eps_loss.map(math.isfinite).all() and df[df.method != "eps"].eps_loss.isna().all()
    nets = sorted(p for p in (tmp_path / "learned.nets").rglob("*.pt"))
    assert [p.stem.split("-")[0] for p in nets] == ["eps", "eps", "prior"]  # one EPS network per task
    # The values: ratio = sw / sw_floor (both columns as written; the CSV round trip is exact to ~1e-16, so rel 1e-12);
    # a loss is the mean of the last 10% of its network's logged steps, i.e. at 3 steps the last logged step's
    # loss, read here from each network's own training log (written with 6 significant digits, read back as is).
    assert df.ratio.to_numpy() == pytest.approx((df.sw / df.sw_floor).to_numpy(), rel=1e-12)
    last = {p: float(list(csv.DictReader(p.with_name(p.stem + ".log.csv").read_text().splitlines()))[-1]["loss"])
            for p in nets}
    assert (df.prior_loss == last[nets[2]]).all()  # one prior network for every row
    assert sorted(df[df.method == "eps"].eps_loss) == sorted([last[nets[0]], last[nets[1]]])
    before = {p: p.read_bytes() for p in nets}
    gmm_bench.main(["--prior", "learned", "--methods", "eps@4", "--tasks", "sr4,inpaint_box", *TINY,
                    "--out", str(tmp_path / "again.csv")])
    assert sorted((tmp_path / "learned.nets").rglob("*.pt")) == nets  # same keys: reused, not retrained
    assert all(p.read_bytes() == b for p, b in before.items())
    again = pd.read_csv(tmp_path / "again.csv")
    assert again.set_index(["method", "task"]).ratio.equals(
        df[df.method != "ddnm"].set_index(["method", "task"]).ratio)


def test_a_learning_curve_fine_tunes_once_per_budget_and_runs_the_baselines_once(tmp_path):
    """``--eps-steps 2,10``: EPS and Palette fine-tuned from one prior at each budget; the 10-step networks are the
    ones a single ``--eps-steps 10`` run trains (same cache keys, bitwise the same rows), the baseline row once."""
    common = ["--prior", "learned", "--methods", "eps@4,palette@4,ddnm@4", "--tasks", "sr4", *TINY]
    curve = tmp_path / "curve.csv"
    gmm_bench.main([*common, "--eps-steps", "2,10", "--out", str(curve)])
    df = pd.read_csv(curve)
    runs = sorted(zip(df.method, df.eps_steps.fillna(0).astype(int)))
    assert runs == [("ddnm", 0), ("eps", 2), ("eps", 10), ("palette", 2), ("palette", 10), ("unconditional", 0)]
    nets = sorted(p.stem.split("-")[0] for p in (tmp_path / "curve.nets").rglob("*.pt"))
    assert nets == ["eps", "eps", "palette", "palette", "prior"]
    assert df[df.method == "palette"].palette_loss.map(math.isfinite).all()
    table = gmm_bench.summary(df)
    assert table.index.names == ["method", "nfe", "eps_steps"]
    assert table.index.tolist() == [("ddnm", 4, 0), ("eps", 4, 2), ("eps", 4, 10), ("palette", 4, 2), ("palette", 4, 10),
                                    ("unconditional", 4, 0)]  # budgets in numeric order, 0: no fine-tuned network
    single = tmp_path / "single.csv"
    gmm_bench.main([*common, "--eps-steps", "10", "--cache", str(tmp_path / "curve.nets"), "--out", str(single)])
    assert len(sorted((tmp_path / "curve.nets").rglob("*.pt"))) == 5  # reused
    one = pd.read_csv(single).set_index(["method", "task"])
    at_3 = df[df.eps_steps.isna() | (df.eps_steps == 10)].set_index(["method", "task"])
    assert one.ratio.equals(at_3.ratio.loc[one.index])


def test_cache_key_names_everything_that_defines_a_network():
    gmm, other = (random_gmm((1, 8, 8), generator=torch.Generator().manual_seed(s)) for s in (0, 1))
    budget = LearnedBudget()
    prior, eps = train_configs(budget, ["sr4"], 0.05, seed=0)
    assert train_configs(budget, ["sr4"], 0.05, seed=0, kind="palette")[1].conditioning == "observation"
    key = cache_key(gmm, 7, budget.num_train, prior, eps)
    assert key == cache_key(gmm, 7, budget.num_train, *train_configs(budget, ["sr4"], 0.05, seed=0))
    changed = [cache_key(other, 7, budget.num_train, prior, eps), cache_key(gmm, 8, budget.num_train, prior, eps),
               cache_key(gmm, 7, budget.num_train + 1, prior, eps), cache_key(gmm, 7, budget.num_train, prior)]
    for cfg, field, value in [(prior, "steps", 1), (prior, "lr", 0.5), (prior, "seed", 1),
                              (prior, "net", {**prior.net, "model_channels": 8}), (eps, "conditioning", "pixel"),
                              (eps, "sigma_y", 0.1), (eps, "tasks", ["sr4", "deblur_gauss"])]:
        new = dataclasses.replace(cfg, **{field: value})
        changed.append(cache_key(gmm, 7, budget.num_train, *((new, eps) if cfg is prior else (prior, new))))
    assert len(set(changed) | {key}) == len(changed) + 1
    for field, value in [("device", "cuda"), ("ckpt_every", 3), ("init", "elsewhere.pt")]:  # do not change the net
        assert cache_key(gmm, 7, budget.num_train, prior, dataclasses.replace(eps, **{field: value})) == key


def test_learned_prior_options_are_checked():
    with pytest.raises(ValueError, match="unknown --prior 'exact'"):
        gmm_bench.check_prior("exact", [("eps", [20])], "edm")
    with pytest.raises(ValueError, match="cannot run eps_trained"):
        gmm_bench.check_prior("learned", [("eps", [20]), ("eps_trained", [20])], "edm")
    with pytest.raises(ValueError, match="cannot run palette"):
        gmm_bench.check_prior("analytic", [("palette", [20])], "edm")
    with pytest.raises(ValueError, match="LO:HI"):
        parse_bands("0.1-2")
    with pytest.raises(ValueError, match="0 < LO < HI"):
        parse_bands("2:0.1")
    assert parse_bands("0.1:2, 10:80") == [(0.1, 2.0), (10.0, 80.0)]


def test_learned_palette_and_band_attribution(tmp_path):
    """Palette per task on the same learned prior and budget; the band tool: a band covering every noise level the
    sampler visits is the learned EPS row (learned inside) and the exact EPS row (exact inside), bitwise, on the
    same noise streams."""
    out = tmp_path / "learned.csv"
    gmm_bench.main(["--prior", "learned", "--methods", "eps@4,palette@4", "--tasks", "sr4", *TINY,
                    "--hybrid-bands", "0.001:100,5:6", "--out", str(out)])
    df = pd.read_csv(out).set_index("method")
    assert {"palette", "eps_learned_in[0.001,100]", "eps_exact_in[0.001,100]", "eps_learned_in[5,6]"} <= set(df.index)
    assert math.isfinite(df.loc["palette", "palette_loss"]) and math.isfinite(df.loc["eps", "eps_loss"])
    assert df.loc["eps_learned_in[0.001,100]", "sw"] == df.loc["eps", "sw"]
    exact = tmp_path / "exact.csv"
    gmm_bench.main(["--methods", "eps@4", "--tasks", "sr4", *TINY[10:], "--out", str(exact)])
    assert pd.read_csv(exact).set_index("method").loc["eps", "sw"] == pytest.approx(
        df.loc["eps_exact_in[0.001,100]", "sw"], rel=1e-9)
    with pytest.raises(ValueError, match="must be edm"):
        gmm_bench.check_prior("learned", [("eps", [20])], "vp")
