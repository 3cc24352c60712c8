"""`eps report` tables: the published columns, best in bold, published numbers matched by registry name."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

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
    assert "K = 4 / 8" in sampling_note(mixed) and "fair / nrg" in sampling_note(mixed)


def test_summary_has_the_published_columns_plus_k_estimator_and_cost():
    table = summary_table([cells()], order=["eps", "dps"])
    published = list(pd.read_csv(REFERENCE).columns)
    assert list(table.columns) == (published[:4] + ["num_samples", "crps_estimator"] + published[4:]
                                   + ["sec_per_image", "cost_ratio"])
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
