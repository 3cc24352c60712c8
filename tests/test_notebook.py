"""The exploration notebook runs as a newcomer runs it: from notebooks/ on the committed results alone, and
through papermill with parameters given as strings (as ``papermill -p tasks sr4`` passes them); a task or method
the results do not hold stops it with one line naming the valid ones. (On a fresh run: the notebook rule of
``tests/test_workflow.py::test_tiny_config_runs_the_whole_dag``.)"""
from pathlib import Path

import nbformat
import papermill
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_results.ipynb"


def stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


def outputs(nb, kind: str) -> list:
    return [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == kind]


def test_notebook_runs_from_its_folder_on_the_committed_results():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert "results from" in stdout(nb) and "table rows" in stdout(nb)
    images = [o for o in outputs(nb, "display_data") if "image/png" in o["data"]]
    assert len(images) >= 5 + 3  # the five qualitative grids, cost, gmm, frontier (and NFE convergence)
    tables = [o["data"]["text/html"] for o in outputs(nb, "execute_result") + outputs(nb, "display_data")
              if "text/html" in o.get("data", {})]
    paper = ("psnr_paper", "<th>difference</th>")  # explore.paper_comparison's wide form, or the report's long one
    assert any(k in t for t in tables for k in paper) and any("gmm_all_methods_1x8x8" in str(o) for o in
                                                         outputs(nb, "display_data"))
    assert not any(">NaN<" in t for t in tables if "<th>lpips</th>" in t)  # no all-empty metric columns


def test_papermill_string_parameters(tmp_path):
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"tasks": "sr4", "methods": '["eps", "dps"]',
                                                                     "results_dir": "results/default"},
                               cwd=str(NOTEBOOK.parent), kernel_name="python3", progress_bar=False)
    text = stdout(nbformat.read(out, as_version=4))
    rows = int(text.split(" table rows")[0].split()[-1])
    assert 0 < rows <= 2 * 3  # sr4 only; eps (up to 3 budgets) and dps


def test_unknown_task_is_one_clear_error(tmp_path):
    with pytest.raises(papermill.PapermillExecutionError) as err:
        papermill.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), parameters={"tasks": "sr8"},
                                   cwd=str(NOTEBOOK.parent), kernel_name="python3", progress_bar=False)
    assert err.value.ename == "ValueError"
    assert err.value.evalue.startswith("unknown task 'sr8': the results hold tasks inpaint_random, inpaint_box, sr4, "
                                       "deblur_gauss, deblur_motion")
