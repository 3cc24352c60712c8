"""The names shared by code, configs, command lines and tables, importable without torch.

The argument parsers (``eps <command> --help`` and every argument error answer before any heavy import) and
the workflow config schema read the valid values from here; the modules that implement them
(:mod:`eps.operators`, :mod:`eps.samplers`, :mod:`eps.interpolants`, the method registry) use the same tuples.
"""
from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

TASKS = ("inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion")
SOLVERS = ("heun", "euler", "ddim", "dpmpp2m", "churn")
INTERPOLANTS = ("edm", "vp", "flow")
# Choices of single commands, copied from the modules that implement them (tests/test_cli.py checks each copy).
KINDS = ("prior", "eps", "palette")  # eps train --kind (eps.training)
CONDITIONINGS = ("operator", "pixel")  # EPS network conditioning (eps.nn.conditioning.CONDITIONINGS)
PRECONDS = ("edm", "anisotropic")  # EPS preconditioning (eps.nn.anisotropic.PRECONDS)
CRPS_ESTIMATORS = ("fair", "nrg")  # eps.metrics.crps.ESTIMATORS
SAMPLE_SETS = ("all", "first")  # eps.metrics.evaluate.SAMPLE_SETS
CLASS_LABELS = ("none", "true_label")  # eps.image_bench.CLASS_LABELS
GMM_PRIORS = ("analytic", "learned")  # eps.gmm_bench.PRIORS
# Protocols of the image benchmark: the EPS paper's (App. F) and the DPS/DAPS papers' evaluation.
PROTOCOLS = ("eps_paper", "dps_daps")

# Methods are modules advertised under this entry-point group; the entry point's name is the method's name.
METHOD_GROUP = "eps.methods"
# The entry point every installation of this project declares (EPS itself): its absence means installed
# metadata older than pyproject.toml (an editable install not re-run after a pull).
BUILTIN = "eps"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _declared() -> dict[str, str]:
    """``name -> module`` of the ``eps.methods`` entry points pyproject.toml of this source checkout declares."""
    if not PYPROJECT.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return dict(project.get("entry-points", {}).get(METHOD_GROUP, {}))


def method_modules() -> dict[str, str]:
    """``method name -> module that registers it`` for every advertised method, without importing any.

    Installed entry points, except that the metadata of this project's own distribution is replaced by the
    source checkout's pyproject.toml when it lacks the built-in entry point (stale editable install)."""
    points = {ep.name: ep.value for ep in entry_points(group=METHOD_GROUP)}
    if BUILTIN not in points:
        own = _declared()
        if BUILTIN not in own:
            raise RuntimeError(f"the {METHOD_GROUP!r} entry point {BUILTIN!r} (EPS itself) is not installed: "
                               "run `pip install -e .` in the repository")
        stale = {ep.name for ep in entry_points(group=METHOD_GROUP) if ep.value.split(".")[0] in {"eps", "baselines"}}
        points = {**{k: v for k, v in points.items() if k not in stale}, **own}
    return points


def method_names() -> list[str]:
    """Every registered method's name (equal to :func:`eps.methods.available_methods`, tested)."""
    return sorted(method_modules())


__all__ = ["TASKS", "SOLVERS", "INTERPOLANTS", "PROTOCOLS", "SAMPLE_SETS", "KINDS", "CONDITIONINGS", "PRECONDS", "CRPS_ESTIMATORS",
           "CLASS_LABELS", "GMM_PRIORS", "METHOD_GROUP", "method_modules", "method_names"]
