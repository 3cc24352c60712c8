"""The README's "Solve one inverse problem and look at it" block runs verbatim and writes the figure it promises:
ground truth, measurement, exact posterior samples, then EPS, ΠGDM and DPS, with a PSNR under every sample tile."""
import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_writes_the_posterior_figure(tmp_path):
    section = (ROOT / "README.md").read_text().split("## Solve one inverse problem and look at it", 1)[1]
    code = re.search(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S).group(1)
    (tmp_path / "posterior.py").write_text(code)
    run = subprocess.run([sys.executable, "posterior.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "wrote posterior.png"
    width, height = Image.open(tmp_path / "posterior.png").size
    assert width > 600 and height > 600  # six columns (truth, measurement, exact, three methods), four rows
