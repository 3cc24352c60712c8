"""`eps report` tables: the published columns, best in bold, published numbers matched by registry name."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eps.report.tables import (COLUMNS, formatted, latex, load_reference, markdown, sampling_note, summary_table,
                               with_reference)

REFERENCE = Path(__file__).resolve().parents[1] / "results" / "reference" / "paper_table_64px.csv"


def cells():
    k = {"num_samples": 4, "crps_estimator": "fair"}
    return pd.DataFrame([
        {"dataset": "ffhq64", "task": "sr4", "method": "eps", "nfe": 1, **k, "psnr": 22.0, "lpips": 0.2, "cost_ratio": 1.0},
        {"dataset": "ffhq64", "task": "sr4", "method": "dps", "nfe": 250, **k, "psnr": 20.0, "lpips": 0.1},
        {"dataset": "embedded", "task": "sr4", "method": "eps", "nfe": 20, **k, "psnr": 18.0, "extra": 1},
    ])


def test_k_and_crps_estimator_in_every_table():
    """K is a column of summary.csv and of every Markdown/LaTeX table; the notes state K and the estimator."""
    table = summary_table([cells()])
    note = sampling_note(table)
    assert "K = 4 posterior samples per measurement" in note and "fair (unbiased" in note
    md, tex = markdown(table, note), latex(table, note)
    for dataset in ("ffhq64", "embedded"):
        header = md.split(f"### {dataset}")[1].strip().splitlines()[0]
        assert [c.strip() for c in header.strip("|").split("|")][3] == "K"  # task, method, nfe, K
    assert (formatted(table, "md")["K"] == "4").all() and "K = 4" in tex and "& K &" in tex
    mixed = summary_table([cells().assign(num_samples=[4, 8, 4], crps_estimator=["fair", "nrg", "fair"])])
    assert "K = 4 / 8" in sampling_note(mixed) and "fair (unbiased" in sampling_note(mixed) \
        and "plug-in (spread term / (2K^2)" in sampling_note(mixed)
    every = summary_table([cells().assign(sample_set="all")])
    assert "averaged over all K samples" in sampling_note(every)


def test_paper_comparison_puts_each_number_beside_the_published_one():
    """One row per (cell, metric) the published table has: ours, paper and ours - paper; Markdown per dataset."""
    from eps.report.tables import paper_comparison, paper_comparison_markdown

    table = summary_table([cells()])
    reference = load_reference(REFERENCE)
    out = paper_comparison(table, reference)
    paper_psnr = reference.set_index(["dataset", "task", "method", "nfe"]).loc[("ffhq64", "sr4", "dps", 250), "psnr"]
    row = out[(out.method == "dps") & (out.metric == "psnr")].iloc[0]
    assert row.ours == 20.0 and row.paper == paper_psnr and row.difference == pytest.approx(20.0 - paper_psnr)
    assert set(out.dataset) == {"ffhq64"}  # the embedded dataset has no published row
    assert "### ffhq64" in paper_comparison_markdown(out) and "(" in paper_comparison_markdown(out)


def test_methods_table_lists_every_setting_with_its_source():
    import json

    from eps.report.tables import method_settings_table

    meta = {"dataset": "embedded", "task": "sr4", "method": "dps", "nfe": 20, "protocol": "eps_paper",
            "settings": json.dumps({"zeta": [10.0, "EPS paper Table 12"], "rule": ["eps_paper", "EPS paper Table 12"]})}
    older = {k: v for k, v in meta.items() if k != "settings"} | {"nfe": 5}  # a shard written before eps.protocols
    out = method_settings_table([meta, meta, older])
    assert len(out) == 2 and set(out.setting) == {"zeta", "rule"} and (out.source == "EPS paper Table 12").all()
    assert out.set_index("setting").value["zeta"] == "10.0"


def test_summary_has_the_published_columns_plus_k_estimator_and_cost():
    table = summary_table([cells()], order=["eps", "dps"])
    published = list(pd.read_csv(REFERENCE).columns)
    assert list(table.columns) == (published[:4] + ["num_samples", "crps_estimator", "sample_set"] + published[4:]
                                   + ["nfe_measured", "sec_per_image", "cost_ratio"])
    assert list(table.columns) == COLUMNS
    assert list(table["method"][table["dataset"] == "ffhq64"]) == ["eps", "dps"]  # configured order


def test_reference_matched_by_registry_name():
    table = with_reference(summary_table([cells()]), load_reference(REFERENCE))
    row = table[(table["method"] == "eps") & (table["dataset"] == "ffhq64")].iloc[0]
    published = pd.read_csv(REFERENCE)
    expected = published[(published["dataset"] == "ffhq64") & (published["task"] == "sr4")
                         & (published["method"] == "EPS-posterior-mean")]["psnr"].item()
    assert row["psnr_paper"] == expected
    assert table[table["dataset"] == "embedded"]["psnr_paper"].isna().all()


def test_best_per_task_in_bold_with_direction():
    table = summary_table([cells()])
    md = formatted(table, "md")
    ffhq = md[md["dataset"] == "ffhq64"].set_index("method")
    assert ffhq.loc["eps", "psnr"] == "**22.00**" and ffhq.loc["dps", "psnr"] == "20.00"  # higher is better
    assert ffhq.loc["dps", "lpips"] == "**0.1000**" and ffhq.loc["eps", "lpips"] == "0.2000"  # lower is better
    tex = latex(table, "note with sigma_y")
    assert "\\textbf{22.00}" in tex and "inpaint" not in tex and "sigma\\_y" in tex
    assert markdown(table, "n").count("### ") == 2


def test_learning_curve_table_labels_every_network_and_refuses_unknown_ones():
    import pandas as pd

    from eps.report.tables import learning_curve_table, parse_networks

    networks = parse_networks(["eps=eps:250", "eps_ft1000=eps:1000", "eps_pixel=eps_pixel:250"])
    assert networks["eps_ft1000"] == ("eps", 1000)
    rows = [dict(dataset="d", task="sr4", method=m, nfe=20, psnr=p) for m, p in
            (("eps", 20.0), ("eps_ft1000", 21.0), ("eps_pixel", 19.0), ("dps", 18.0))]
    table = pd.DataFrame(rows).assign(**{c: float("nan") for c in ("ssim", "lpips", "fid", "mmd_pix", "mmd_inception",
                                                                    "crps_pix", "crps_inception")})
    curve = learning_curve_table(table, networks).set_index("method")
    assert curve.loc["eps_ft1000", "steps"] == 1000 and curve.loc["eps_pixel", "series"] == "eps_pixel"
    assert pd.isna(curve.loc["dps", "steps"]) and curve.loc["dps", "psnr"] == 18.0
    with pytest.raises(ValueError, match="no rows in the summaries"):
        learning_curve_table(table, {**networks, "eps_ft4000": ("eps", 4000)})
    for bad in ("eps=eps", "eps=:250", "eps=eps:0", "eps=eps:x"):
        with pytest.raises(ValueError, match="LABEL=SERIES:STEPS"):
            parse_networks([bad])
