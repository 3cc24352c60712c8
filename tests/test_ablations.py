"""The published ablation tables (results/reference/paper_ablation_*.csv) and their side-by-side table."""
import pandas as pd
import pytest

from eps.report.ablations import METRICS, ablation_table, published_ablations, with_average

# Row counts of the paper's tables as transcribed in the protocol extraction (reference/paper_protocol.md §8).
ROWS = {"inputs": 48, "zeroshot": 14, "amortized": 18, "posterior_mean": 15, "extreme": 14, "mask_density": 16,
        "palette_1nfe": 12}


def test_published_ablations_are_complete_and_numeric():
    table = published_ablations()
    assert table.groupby("ablation").size().to_dict() == ROWS
    for metric in METRICS.values():
        assert pd.api.types.is_float_dtype(table[metric]), metric
    # spot checks against the paper's text: Table 2 FFHQ average EPS PSNR, Table 7 sr16 EPS@20 FID, Table 8 FFHQ 90%
    def row(**k):
        mask = pd.Series(True, index=table.index)
        for column, value in k.items():
            mask &= table[column] == value
        return table.loc[mask]

    assert row(ablation="inputs", dataset="ffhq64", task="average", method="eps")["psnr"].item() == 26.69
    assert row(ablation="extreme", task="sr4", method="eps", nfe=20)["fid"].item() == 180.14
    assert row(ablation="mask_density", dataset="ffhq64", missing=0.9, method="eps")["psnr"].item() == 17.82
    # Table 10 (D.11) is Palette at one NFE: the rows a run's palette@1 cell (ablation_posterior_mean.yaml) joins
    assert row(ablation="palette_1nfe", dataset="ffhq64", task="inpaint_random", method="palette", nfe=1)["psnr"].item() == 27.58


PAPER_TASKS = {"sr4": {"factor": 4}, "inpaint_random": {"missing": 0.7}}


def test_ablation_table_puts_the_run_next_to_the_paper():
    summary = pd.DataFrame({"dataset": ["embedded"] * 2, "task": ["sr4", "sr4"], "method": ["eps_zeroshot", "dps"],
                            "nfe": [100, 20], "psnr": [18.0, 17.0]})
    table = ablation_table(summary, published_ablations(), PAPER_TASKS)
    assert sorted(table["dataset_paper"]) == ["ffhq64", "imagenet64"] and set(table["method"]) == {"eps_zeroshot"}
    assert set(table["psnr"]) == {18.0} and sorted(table["psnr_paper"]) == [19.85, 20.50]


def test_a_published_row_joins_only_a_run_with_its_operator():
    """D.8's 16x SR and 95% inpainting rows and D.9's density rows pair with runs at those settings; the main-setting
    rows of the other tables (no operator stated) with runs at the paper's 4x SR and 70% missing."""
    summary = pd.DataFrame({"dataset": ["embedded"] * 2, "task": ["sr4", "inpaint_random"], "method": ["eps", "eps"],
                            "nfe": [100, 100], "psnr": [14.0, 17.0]})
    published = published_ablations()
    main = ablation_table(summary, published, PAPER_TASKS)
    assert "extreme" not in set(main["ablation"]) and "mask_density" not in set(main["ablation"])
    assert "inputs" in set(main["ablation"])  # Table 2: EPS [mu, y, t] at NFE 100
    extreme = ablation_table(summary, published, {"sr4": {"factor": 16}, "inpaint_random": {"missing": 0.95}})
    assert set(extreme["ablation"]) == {"extreme"}
    assert sorted(extreme["psnr_paper"]) == [14.17, 17.85]  # Table 7, EPS@100: 16x SR, 95% inpainting
    density = ablation_table(summary, published, {"inpaint_random": {"missing": 0.9}})
    assert set(density["ablation"]) == {"mask_density"} and set(density["missing"]) == {0.9}
    assert 17.82 in set(density["psnr_paper"])  # Table 8, FFHQ, 90% missing


def test_only_published_ablation_tables_are_read(tmp_path):
    other = tmp_path / "paper_table_64px.csv"
    other.write_text("dataset,task\n")
    with pytest.raises(ValueError, match="paper_ablation_"):
        published_ablations([other])


def test_the_run_average_is_the_mean_over_all_five_tasks_and_joins_the_papers_average_rows():
    tasks = ["inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion"]
    psnr = [17.0, 21.0, 23.0, 26.0, 28.0]
    full = pd.DataFrame({"dataset": "embedded", "task": tasks, "method": "eps", "nfe": 100, "psnr": psnr})
    partial = full.iloc[:4].assign(method="eps_zeroshot")  # four tasks: no average
    rows = with_average(pd.concat([full, partial], ignore_index=True))
    average = rows[rows.task == "average"]
    assert average[["method", "psnr"]].values.tolist() == [["eps", sum(psnr) / 5]]
    table = ablation_table(full, published_ablations(), PAPER_TASKS)
    joined = table[(table.task == "average") & (table.ablation == "inputs")].set_index("dataset_paper")
    assert joined.psnr.tolist() == [23.0, 23.0] and joined.loc["ffhq64", "psnr_paper"] == 26.69  # Table 2, EPS
