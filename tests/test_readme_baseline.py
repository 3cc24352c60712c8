"""The README's "Adding a baseline" section, followed literally in a temporary copy of the repository.

The section's Python block is saved as the file it names, and its quick check command (the ``eps gmm-bench``
line of the section) runs against that copy: the new method must be found without reinstalling, stay within
its NFE budget, and be a sensible baseline (finite samples, within a generous factor of the noise floor).
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    return text.split("## Adding a baseline", 1)[1].split("\n## ", 1)[0]


def test_readme_example_baseline_works_verbatim(tmp_path):
    section = readme_section()
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    target = re.search(r"`(baselines/\w+\.py)`", section).group(1)
    command = re.search(r"^(eps gmm-bench .*)$", section, re.M).group(1)
    copy = tmp_path / "repo"
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (ROOT / f).is_file() and not f.startswith("results/"):
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, copy / f)
    (copy / target).write_text(code)
    name = re.search(r'register_method\("(\w+)"\)', code).group(1)
    args = command.split()[1:]
    run = subprocess.run([sys.executable, "-m", "eps.cli", *args], cwd=copy, capture_output=True, text=True,
                         timeout=300, env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    out = copy / re.search(r"--out (\S+)", command).group(1)
    rows = pd.read_csv(out)
    mine = rows[rows["method"] == name]
    assert len(mine) == rows["task"].nunique() * rows["seed"].nunique() > 0
    assert (mine["nfe_measured"] <= mine["nfe"]).all()
    assert mine["ratio"].max() < 100, mine[["task", "ratio"]]
