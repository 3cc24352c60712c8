"""The names shared by code, configs, command lines and tables, importable without torch.

The argument parsers (``eps <command> --help`` and every argument error answer before any heavy import) and
the workflow config schema read the valid values from here; the modules that implement them
(:mod:`eps.operators`, :mod:`eps.samplers`, :mod:`eps.interpolants`, the method registry) use the same tuples.
"""
from __future__ import annotations

import importlib.util
import pkgutil
import sys
from importlib.metadata import entry_points
from pathlib import Path

TASKS = ("inpaint_random", "inpaint_box", "sr4", "deblur_gauss", "deblur_motion")
SOLVERS = ("heun", "euler", "ddim", "dpmpp2m", "churn")
GRIDS = ("karras", "geometric")  # sigma grids of the solvers (eps.samplers.sigma_grid)
INTERPOLANTS = ("edm", "vp", "flow")
# Choices of single commands, copied from the modules that implement them (tests/test_cli.py checks each copy).
KINDS = ("prior", "eps", "palette")  # eps train --kind (eps.training)
CONDITIONINGS = ("observation", "operator", "pixel", "certainty", "none")  # EPS (eps.nn.conditioning.CONDITIONINGS)
PALETTE_CONDITIONINGS = ("observation", "degraded")  # Palette (eps.nn.conditioning.PALETTE_CONDITIONINGS)
SIGMA_DRAWS = ("lognormal", "wide")  # training noise levels (eps.training.objectives.SIGMA_DRAWS)
PRECONDS = ("edm", "anisotropic")  # EPS preconditioning (eps.nn.anisotropic.PRECONDS)
CRPS_ESTIMATORS = ("fair", "nrg")  # eps.metrics.crps.ESTIMATORS
SAMPLE_SETS = ("all", "first")  # eps.metrics.evaluate.SAMPLE_SETS
CLASS_LABELS = ("none", "true_label")  # eps.image_bench.CLASS_LABELS
GMM_PRIORS = ("analytic", "learned")  # eps.gmm_bench.PRIORS
# Protocols of the image benchmark: the EPS paper's (App. F) and the DPS/DAPS papers' evaluation.
PROTOCOLS = ("eps_paper", "dps_daps")

# Methods are found through this entry-point group (pyproject.toml): an entry point names a method and the module
# that registers it, or, when its value is a top-level package (``baselines = "baselines"``), stands for one
# method per public module of that package, named after the module (adding a baseline is adding one file).
METHOD_GROUP = "eps.methods"
# The entry point every installation of this project declares (EPS itself): its absence means installed
# metadata older than pyproject.toml (an editable install not re-run after a pull).
BUILTIN = "eps"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def _declared() -> dict[str, str]:
    """``name -> value`` of the ``eps.methods`` entry points pyproject.toml of this source checkout declares."""
    if not PYPROJECT.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return dict(project.get("entry-points", {}).get(METHOD_GROUP, {}))


def _advertised() -> dict[str, str]:
    """The installed entry points, this project's own read from pyproject.toml when the installed metadata
    predates the built-in one (stale editable install)."""
    installed = {ep.name: ep.value for ep in entry_points(group=METHOD_GROUP)}
    if BUILTIN in installed:
        return installed
    own = _declared()
    if BUILTIN not in own:
        raise RuntimeError(f"the {METHOD_GROUP!r} entry point {BUILTIN!r} (EPS itself) is not installed: "
                           "run `pip install -e .` in the repository")
    return {**{k: v for k, v in installed.items() if v.split(".")[0] not in {"eps", "baselines"}}, **own}


def method_modules() -> dict[str, str]:
    """``method name -> module that registers it`` for every advertised method, without importing any."""
    modules = {}
    for name, value in _advertised().items():
        spec = importlib.util.find_spec(value) if "." not in value else None  # a top-level package: not imported
        if spec is not None and spec.submodule_search_locations:
            modules.update({m.name: f"{value}.{m.name}" for m in pkgutil.iter_modules(spec.submodule_search_locations)
                            if not m.name.startswith("_")})
        else:
            modules[name] = value
    return modules


def method_names() -> list[str]:
    """Every registered method's name (equal to :func:`eps.methods.available_methods`, tested)."""
    return sorted(method_modules())


__all__ = ["TASKS", "SOLVERS", "GRIDS", "INTERPOLANTS", "PROTOCOLS", "SAMPLE_SETS", "KINDS", "CONDITIONINGS",
           "PALETTE_CONDITIONINGS", "SIGMA_DRAWS", "PRECONDS", "CRPS_ESTIMATORS",
           "CLASS_LABELS", "GMM_PRIORS", "METHOD_GROUP", "method_modules", "method_names"]
