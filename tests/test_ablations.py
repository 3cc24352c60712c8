"""The published ablation tables (results/reference/paper_ablation_*.csv) and their side-by-side table."""
import pandas as pd

from eps.report.ablations import METRICS, ablation_table, published_ablations

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


def test_ablation_table_puts_the_run_next_to_the_paper():
    summary = pd.DataFrame({"dataset": ["embedded"] * 2, "task": ["sr4", "sr4"], "method": ["eps_zeroshot", "dps"],
                            "nfe": [100, 20], "psnr": [18.0, 17.0]})
    table = ablation_table(summary, published_ablations())
    assert sorted(table["dataset_paper"]) == ["ffhq64", "imagenet64"] and set(table["method"]) == {"eps_zeroshot"}
    assert set(table["psnr"]) == {18.0} and sorted(table["psnr_paper"]) == [19.85, 20.50]
