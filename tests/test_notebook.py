"""The exploration notebook runs as a newcomer runs it: from notebooks/ on the committed results alone, and
through papermill with parameters given as strings (as ``papermill -p tasks sr4`` passes them)."""
from pathlib import Path

import nbformat
import papermill
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore_results.ipynb"


def stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")


def test_notebook_runs_from_its_folder_on_the_committed_results():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    assert "results from" in stdout(nb) and "table rows" in stdout(nb)


def test_papermill_string_parameters(tmp_path):
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(str(NOTEBOOK), str(out), parameters={"tasks": "sr4", "methods": '["eps", "dps"]',
                                                                     "results_dir": "results/default"},
                               cwd=str(NOTEBOOK.parent), kernel_name="python3", progress_bar=False)
    text = stdout(nbformat.read(out, as_version=4))
    rows = int(text.split(" table rows")[0].split()[-1])
    assert 0 < rows <= 2 * 3  # sr4 only; eps (up to 3 budgets) and dps
