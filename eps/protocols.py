"""The two named protocols of the benchmark: presets of task parameters, method settings and evaluation rules.

    eps_paper   the EPS paper's own experiment (arXiv 2606.17048: Sec. 4.1, App. B, Table 12, App. F;
                docs/protocol.md lists what remains different) — the default of every config and command
    dps_daps    the settings of the released DPS / DAPS code and each baseline's own release (the project's
                protocol before the paper's text was available); each value cites its file and commit

A protocol fixes, per task and method, the value *and the source* of every setting. :func:`method_settings`
resolves a method's settings for one task: the protocol's value, else the method's class default (each
baseline's module docstring cites its release), then any explicit override (a config's ``options``), and
returns ``{name: (value, source)}``; ``methods.csv`` of the report lists them per run. Nothing here runs a
sampler: :func:`method_options` is what ``get_method(name, **options)`` receives.
"""
from __future__ import annotations

from .names import PROTOCOLS, TASKS

T12 = "EPS paper Table 12 (App. E)"
EDM_GRID = {"time_grid": ("edm", f"{T12}: every baseline on the EDM VE schedule"),
            "sigma_min": (0.002, f"{T12} caption"), "sigma_max": (80.0, f"{T12} caption"),
            "rho": (7.0, f"{T12} caption")}
EULER = {"solver": ("euler", "EPS paper App. B 'Sampling at inference', Table 1 caption: deterministic EDM Euler, "
                             "NFE = steps; the 1-NFE row is one call at sigma_max"),
         "sigma_min": (0.002, "EPS paper App. B (EDM schedule)"), "sigma_max": (80.0, "EPS paper App. B"),
         "rho": (7.0, "EPS paper App. B")}


CLASS_DEFAULT = "class default"


def _per_task(values: dict[str, object], source: str) -> dict[str, tuple]:
    return {task: (values[task], source) for task in values}


def _five(*values) -> dict[str, object]:
    """Per-task values in Table 12's order: random inpainting, box, SR, Gaussian deblur, motion deblur."""
    return dict(zip(TASKS, values))


# Method settings: method -> option -> (value, source) or {task: (value, source)}; "nfe" is the published budget.
SETTINGS: dict[str, dict[str, dict]] = {
    "eps_paper": {
        "eps": {**EULER, "nfe": ([1, 20, 100], "EPS paper Table 1 / Table 6 (NFE 100, 20; 1 = posterior mean)")},
        "eps_zeroshot": {**EULER, "nfe": ([100], "EPS paper D.2: the 100-step Euler loop")},
        "palette": {**EULER, "nfe": ([100], f"{T12}; Table 1: EDM Euler, 100 steps")},
        "dps": {**EDM_GRID, "nfe": ([250], T12),
                "rule": ("eps_paper", f"{T12}: Euler (S_churn = 0) on EDM VE, step zeta'/||r|| on ||r||^2"),
                "eta": (0.0, f"{T12}: deterministic Euler, S_churn = 0"),
                "clip_denoised": (False, "ours: Table 12 and DPS Alg. 1 state no clip; EDM's Euler sampler has none"),
                "zeta": _per_task(_five(5.0, 10.0, 10.0, 1.5, 2.5), f"{T12}: zeta'")},
        "mpgd": {**EDM_GRID, "nfe": ([100], T12),
                 "rule": ("eps_paper", f"{T12}: DDIM-VE (step on x~, no VP factor)"),
                 "eta": (0.85, f"{T12}: DDIM-VE eta"),
                 "step_size": _per_task(_five(20.0, 15.0, 30.0, 5.0, 9.0), f"{T12}: zeta")},
        "pigdm": {**EDM_GRID, "nfe": ([100], T12), "eta": (1.0, f"{T12}: DDIM-VE eta"),
                  "zeta": (1.0, f"{T12}: zeta (all tasks)")},
        "ddnm": {**EDM_GRID, "nfe": ([100], T12), "rule": ("eps_paper", f"{T12}: lambda_t correction, DDIM-VE"),
                 "eta": (0.85, f"{T12}: DDIM-VE eta"),
                 "wiener_eps": _per_task(_five(0.0, 0.0, 0.0, 1e-3, 1e-3),
                                         f"{T12}: A^+ (nearest upsampling for SR, the mask for inpainting); "
                                         "per-frequency Wiener correction eps = 1e-3 for both blurs")},
        "daps": {"nfe": ([100], "EPS paper Tables 1 and 6 (NFE 100; Table 12 says 100 x 5 = 500, D.12 ran 20 x 5: "
                                "ours, the budget of the published rows)"),
                 "ode_steps": (5, f"{T12}: ODE 5"), "langevin_steps": (100, f"{T12}: MCMC 100 steps"),
                 "rho": (7.0, f"{T12} caption"),
                 "lr": _per_task(_five(5e-4, 5e-4, 9e-4, 9e-4, 5e-4), f"{T12}: MCMC step"),
                 "sigma_max": _per_task(_five(80.0, 80.0, 30.0, 30.0, 80.0), f"{T12}: sigma range (SR, Gaussian "
                                                                                   "30 / 0.1; else EDM VE)"),
                 "sigma_min": (0.1, f"{T12} for SR, Gaussian; ours for the others (Table 12: EDM's 0.002): the explicit "
                                    "Langevin step is stable only for lr / sigma^2 < 2, i.e. 5e-4 / 0.002^2 = 125 diverges; "
                                    "DAPS's own 0.1 gives 0.05"),
                 "tau": (0.05, "ours: Table 12 gives the MCMC step only; DAPS's tau = 0.01 makes lr / tau^2 = 5-9 > 2 "
                               "(divergent); tau = sigma_y = 0.05 (App. B) gives 0.2-0.36")},
        "ddrm": {"nfe": ([20], "ours: not in the paper's 64-px comparison (D.10 only, copied from DAPS); "
                               "its own paper's 20 steps, beyond the paper")},
    },
    "dps_daps": {
        "eps": {"solver": ("heun", "ours (the project's protocol before the paper text): EDM Heun"),
                "nfe": ([1, 20, 100], "EPS paper Table 1")},
        "eps_zeroshot": {"solver": ("heun", "ours: EDM Heun"), "nfe": ([100], "EPS paper D.2")},
        "palette": {"solver": ("heun", "ours: EDM Heun"), "nfe": ([100], "EPS paper Table 1")},
        "dps": {"nfe": ([250], "EPS paper Table 1"), "time_grid": ("ddpm", "DPS release (baselines/dps.py)")},
        "pigdm": {"nfe": ([100], "EPS paper Table 1"), "time_grid": ("ddim", "RED-diff release (baselines/pigdm.py)")},
        "ddnm": {"nfe": ([100], "EPS paper Table 1"), "time_grid": ("ddim", "DDNM release (baselines/ddnm.py)")},
        "mpgd": {"nfe": ([100], "EPS paper Table 1")},
        "daps": {"nfe": ([100], "EPS paper Table 1")},
        "ddrm": {"nfe": ([20], "DDRM paper §5")},
    },
}

# Evaluation rules (App. F) and their sources.
EVALUATION: dict[str, dict[str, tuple]] = {
    "eps_paper": {
        "num_samples": (10, "EPS paper Table 1 caption, App. B: 100 images x 10 seeds"),
        "num_test": (100, "EPS paper Table 1 caption, App. B, D.9"),
        "crps_estimator": ("nrg", "EPS paper App. F, D.6 (a J = 1 CRPS exists only for the plug-in form): "
                                  "docs/protocol.md"),
        "sample_set": ("all", "EPS paper Table 5 caption (per-seed PSNR/SSIM/LPIPS, averaged over all samples), "
                              "App. F (MMD: the method's samples against the evaluation ground truths)"),
    },
    "dps_daps": {
        "num_samples": (4, "ours (the project's protocol before the paper text)"),
        "num_test": (1000, "DPS / DAPS: the first 1000 test images"),
        "crps_estimator": ("fair", "ours: unbiased, spread / (2K(K-1))"),
        "sample_set": ("first", "DPS / DAPS: one sample per measurement"),
    },
}


def check_protocol(name: str) -> str:
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
    return name


def task_presets(protocol: str) -> dict[str, dict]:
    """The operator parameters of every task under ``protocol`` (``eps.operators`` DEFAULTS or RELEASED)."""
    from .operators import DEFAULTS, RELEASED

    return {t: dict((DEFAULTS if check_protocol(protocol) == "eps_paper" else RELEASED)[t]) for t in TASKS}


def resolve_task(protocol: str, task: str, overrides: dict | None = None) -> dict:
    """``task``'s full operator parameters under ``protocol`` with ``overrides`` on top (a different motion
    ``kernel`` family starts from that family's defaults), checked by ``eps.operators.task_params``."""
    from .operators import MOTION_FAMILIES, task_params

    base, overrides = task_presets(protocol)[task], dict(overrides or {})
    if "kernel" in overrides and overrides["kernel"] != base.get("kernel") and base.get("kernel") in MOTION_FAMILIES:
        base = {k: v for k, v in base.items() if k not in MOTION_FAMILIES[base["kernel"]]}
    return task_params(task, **{**base, **overrides})


def method_settings(protocol: str, method: str, task: str, overrides: dict | None = None,
                    method_class=None) -> dict[str, tuple]:
    """``{setting: (value, source)}`` of ``method`` on ``task``: every option of ``method_class`` (its class default,
    sourced to its module), the protocol's values, then ``overrides`` (source ``config``). ``published_nfe`` is
    the protocol's published budget list (informational; the config's ``nfe`` runs)."""
    preset = SETTINGS[check_protocol(protocol)].get(method, {})
    out: dict[str, tuple] = {}
    if method_class is not None:
        per_task = getattr(method_class, "task_defaults", {}).get(task, {})
        out = {k: (per_task.get(k, v), f"{CLASS_DEFAULT} ({method_class.__module__}; its docstring cites the source)")
               for k, v in method_class.options().items()}
    for key, entry in preset.items():
        key = "published_nfe" if key == "nfe" else key
        if isinstance(entry, dict):
            if task in entry:
                out[key] = entry[task]
        else:
            out[key] = entry
    for key, value in (overrides or {}).items():
        out[key] = (value, "config")
    return out


def build_method(protocol: str, name: str, task: str, solver: str | None = None, overrides: dict | None = None,
                 grid: str | None = None):
    """``(method, settings)``: the registered method ``name`` built with ``protocol``'s values for ``task``, then
    ``overrides`` (config ``options``) and an explicit ``solver`` and sigma ``grid`` (backbone samplers only), and the
    ``{setting: (value, source)}`` it runs with (every option of the class; ``published_nfe``: the protocol's
    budgets)."""
    from .methods import METHODS, get_method, load_plugins

    load_plugins([name])
    if name not in METHODS:
        get_method(name)  # one clear error naming the registered methods
    cls = METHODS[name]
    extra = dict(overrides or {})
    if "solver" in cls.options():
        extra.update({k: v for k, v in (("solver", solver), ("grid", grid)) if v is not None})
    settings = method_settings(protocol, name, task, extra, cls)
    chosen = {k: v for k, (v, source) in settings.items() if k in cls.options() and not source.startswith(CLASS_DEFAULT)}
    return cls(**chosen), settings


def evaluation(protocol: str) -> dict[str, tuple]:
    return dict(EVALUATION[check_protocol(protocol)])


def apply_protocol(config: dict) -> dict:
    """Fill a workflow config from its ``protocol`` (default ``eps_paper``): each listed task's parameters are the
    protocol's with the config's entries on top (so one line switches the task families), and
    ``evaluate.crps_estimator`` and ``evaluate.sample_set`` are the protocol's unless set. Method settings are resolved per job by
    ``eps sample --protocol`` (:func:`build_method`). Returns ``config``, changed in place."""
    protocol = check_protocol(config.setdefault("protocol", "eps_paper"))
    tasks = {}
    for task, overrides in config["tasks"].items():
        try:
            tasks[task] = resolve_task(protocol, task, overrides)
        except ValueError as err:
            raise ValueError(f"config: tasks.{task}: {err}") from None
    config["tasks"] = tasks
    for key in ("crps_estimator", "sample_set"):
        config.setdefault("evaluate", {}).setdefault(key, EVALUATION[protocol][key][0])
    return config


__all__ = ["PROTOCOLS", "SETTINGS", "EVALUATION", "check_protocol", "task_presets", "resolve_task", "method_settings",
           "build_method", "evaluation", "apply_protocol"]
