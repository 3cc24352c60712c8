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
    assert "K = 4 / 8" in sampling_note(mixed) and "fair / nrg" in sampling_note(mixed)


def test_summary_has_the_published_columns_plus_k_estimator_and_cost():
    table = summary_table([cells()], order=["eps", "dps"])
    published = list(pd.read_csv(REFERENCE).columns)
    assert list(table.columns) == (published[:4] + ["num_samples", "crps_estimator"] + published[4:]
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
    assert ffhq.loc["eps", "PSNR (dB) ↑"] == "**22.00**" and ffhq.loc["dps", "PSNR (dB) ↑"] == "20.00"  # higher
    assert ffhq.loc["dps", "LPIPS ↓"] == "**0.1000**" and ffhq.loc["eps", "LPIPS ↓"] == "0.2000"  # lower is better
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


def test_markdown_headers_units_arrows_and_empty_columns_explained():
    """Headers carry unit and direction; a metric empty in every row is dropped and named with its reason; no
    promise of published values when none is shown; the operator stream is stated in words, not as code."""
    from eps.report.tables import table_notes, task_note

    table = with_reference(summary_table([cells()]), load_reference(REFERENCE))
    embedded = table[table["dataset"] == "embedded"]
    notes = table_notes(embedded, {"lpips": "LPIPS-Alex needs images of at least 31 px"})
    header = markdown(embedded, notes).split("### embedded")[1].strip().splitlines()[0]
    assert "PSNR (dB) ↑" in header and "NFE budget" in header and "LPIPS" not in header and "FID" not in header
    assert "LPIPS ↓: LPIPS-Alex needs images of at least 31 px" in notes and "FID ↓" in notes
    assert "No published value shown" in notes and "In parentheses" not in notes
    assert "In parentheses" in table_notes(table)  # ffhq64 eps@1 is published
    tasks = pd.DataFrame([{"dataset": "embedded", "task": "sr4", "sigma_y": 0.05, "parameters":
                           "factor=4, operator_stream=stream_seed(seed, 0, image): operator draws, then the noise"}])
    assert "stream_seed" not in task_note(tasks) and "(factor=4, sigma_y=0.05)" in task_note(tasks)


def test_rows_in_the_papers_task_order_and_the_styles_method_order():
    rows = [dict(dataset="d", task=t, method=m, nfe=20, num_samples=2) for t in ("sr4", "deblur_motion", "inpaint_box")
            for m in ("palette", "eps_dpmpp2m", "pigdm", "eps")]
    table = summary_table([pd.DataFrame(rows)])
    assert list(dict.fromkeys(table["task"])) == ["inpaint_box", "sr4", "deblur_motion"]
    assert list(table["method"][:4]) == ["eps", "eps_dpmpp2m", "pigdm", "palette"]


def test_style_one_colour_marker_and_name_per_method():
    """Every registered method has its own colour and marker; a variant (config entry or solver) keeps its method's
    marker in another shade; names and orders are the same wherever they are asked for."""
    from eps.methods import available_methods
    from eps.operators import TASKS
    from eps.report import style

    methods = available_methods()
    assert set(methods) <= set(style.METHODS)  # a new baseline gets its look here
    assert len({style.color(m) for m in methods}) == len(methods)
    assert style.display("pigdm") == "ΠGDM" and style.display("eps_dpmpp2m") == "EPS · DPM++2M"
    assert style.split("eps_zeroshot") == ("eps_zeroshot", "") and style.split("eps_ft1000") == ("eps", "ft1000")
    assert style.marker("eps_dpmpp2m") == style.marker("eps") and style.color("eps_dpmpp2m") != style.color("eps")
    assert style.color("eps_dpmpp2m") == style.color(style.solver_label("eps", "dpmpp2m"))
    assert style.solver_label("eps", "heun") == "eps" and style.solver_label("ddrm", "") == "ddrm"
    assert style.method_order(["palette", "newbie", "eps_ft1000", "dps", "eps"]) == [
        "eps", "eps_ft1000", "dps", "palette", "newbie"]
    assert tuple(style.task_order(reversed(TASKS))) == TASKS == style.TASK_ORDER
    assert style.setup(shape="3x16x16", seeds=[1, 0, 1], samples=[4], nfe=[20, 1], hardware="cpu") == (
        "shape 3x16x16 · seeds 0/1 · K = 4 samples · NFE budget 1/20 · timed on cpu")


def test_qualitative_grid_ground_truth_then_measurement_then_methods_with_psnr(tmp_path, monkeypatch):
    import torch

    from eps.metrics.pixel import psnr
    from eps.report import figures

    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    def shard(method, nfe, noise):
        return {"x0": x0, "y": x0[..., ::2, ::2], "samples": (x0 + noise)[:, None],
                "meta": {"dataset": "d", "task": "sr4", "method": method, "nfe": nfe}}
    drawn = {}
    monkeypatch.setattr(figures, "save", lambda fig, path, caption="": drawn.update(fig=fig, caption=caption))
    figures.qualitative([shard("palette", 20, 0.3), shard("eps", 20, 0.1)], tmp_path / "g.png", 2, "setup line")
    axes = drawn["fig"].axes
    titles = [ax.get_title() for ax in axes[:4]]
    assert titles[0] == "ground truth" and titles[1].startswith("measurement") and titles[2].startswith("EPS")
    expected = psnr((x0 + 0.1).clamp(-1, 1), x0)
    assert [axes[4 * i + 2].get_xlabel() for i in range(2)] == [f"{float(v):.1f} dB" for v in expected]
    assert drawn["caption"] == "setup line"


def test_figures_draw_on_tables_of_the_report(tmp_path):
    """Every figure draws from tables shaped as the report writes them (one task, one seed, NFE budgets)."""
    from eps.report import figures

    table = summary_table([cells().assign(dataset="d", crps_pix=[1.0, 2.0, 3.0], sec_per_image=0.1, cost_ratio=1.2)])
    runtime = pd.read_csv(REFERENCE.parent / "paper_runtime_imagenet64.csv")
    gmm = pd.DataFrame([dict(method=m, task=t, seed=s, nfe=n, nfe_measured=n - 1, sw=1.0 + s, sw_floor=0.5,
                             ratio=2.0 + s, shape="1x8x8", num_samples=10, solver="heun" if m == "eps" else "",
                             sec_per_sample=0.1)
                        for m in ("eps", "dps") for t in ("sr4", "inpaint_box") for s in (0, 1) for n in (5, 20)])
    figures.nfe_convergence(table, tmp_path / "c.png", "cap")
    figures.cost(table, runtime, tmp_path / "k.png", "cap", "B200")
    figures.gmm_ratio(gmm, tmp_path / "g.png", "cap")
    figures.frontier(gmm.groupby(["method", "solver", "nfe", "task"], as_index=False).mean(numeric_only=True),
                     tmp_path / "f.png", "cap")
    assert all((tmp_path / f).stat().st_size > 0 for f in ("c.png", "k.png", "g.png", "f.png"))


def test_explore_filters_refuse_unknown_names_with_the_valid_ones():
    from eps.report.explore import as_list, check_names

    assert as_list('["sr4", "deblur_gauss"]') == ["sr4", "deblur_gauss"] == as_list("sr4, deblur_gauss")
    assert as_list(None) is None and as_list("all") is None and check_names(None, ["sr4"], "task") is None
    assert check_names("sr4", ["sr4", "inpaint_box"], "task") == ["sr4"]
    with pytest.raises(ValueError) as err:
        check_names("sr8", ["sr4", "inpaint_box", "sr4"], "task")
    assert str(err.value) == "unknown task 'sr8': the results hold tasks sr4, inpaint_box"


def test_explore_gmm_table_one_row_per_budget_mean_and_sd_over_seeds():
    from eps.report.explore import gmm_table, normalise_nfe

    rows = pd.DataFrame([dict(method=m, task=t, seed=s, nfe=n, ratio=r + s) for m, n, r in
                         (("eps", 20, 4.0), ("eps", 100, 1.0), ("dps", 20, 50.0))
                         for t in ("sr4", "inpaint_random") for s in (0, 2)])
    wide = gmm_table(rows)
    assert list(wide.index) == [("eps", 20), ("eps", 100), ("dps", 20)] and list(wide.columns) == ["inpaint_random", "sr4"]
    assert wide.loc[("eps", 100), "sr4"] == "2.00 ± 1.41"  # (1, 3): mean 2, sample sd sqrt(2)
    legacy = normalise_nfe(pd.DataFrame({"nfe": [19], "nfe_budget": [20]}))
    assert legacy.to_dict("records") == [{"nfe_measured": 19, "nfe": 20}]


def test_explore_paper_comparison_same_budget_else_nearest():
    from eps.report.explore import paper_comparison

    ours = pd.DataFrame([dict(dataset="embedded", task="sr4", method=m, nfe=n, psnr=p, lpips=float("nan"))
                         for m, n, p in (("eps", 20, 18.0), ("dps", 20, 15.0), ("newbie", 20, 1.0))])
    table = paper_comparison(ours).set_index(["method", "dataset_paper"])
    published = pd.read_csv(REFERENCE)
    ffhq = published[(published["dataset"] == "ffhq64") & (published["task"] == "sr4")].set_index(["method", "nfe"])
    assert table.loc[("eps", "ffhq64"), "psnr_paper"] == ffhq.loc[("EPS", 20), "psnr"]  # the same budget
    assert table.loc[("dps", "ffhq64"), "nfe_paper"] == 250  # the paper's only DPS budget
    assert "lpips" not in table and "newbie" not in table.index.get_level_values("method")


def test_explore_view_filters_rows_and_drops_empty_columns_and_find_results_names_where_it_looked(tmp_path):
    from eps.report.explore import find_results, view

    frame = pd.DataFrame({"task": ["sr4", "inpaint_box"], "method": ["eps", "dps"], "psnr": [1.0, 2.0],
                          "lpips": [float("nan"), 0.1]})
    assert view(frame, ["sr4"], None).to_dict("records") == [{"task": "sr4", "method": "eps", "psnr": 1.0}]
    assert list(view(frame, None, ["eps", "dps"]).columns) == ["task", "method", "psnr", "lpips"]
    with pytest.raises(FileNotFoundError, match="no report/summary.csv under .*nowhere"):
        find_results(tmp_path / "nowhere")
    (tmp_path / "run" / "report").mkdir(parents=True)
    (tmp_path / "run" / "report" / "summary.csv").write_text("dataset\n")
    assert find_results(tmp_path / "run") == (tmp_path / "run").resolve()
