"""Checked argument types of the ``eps`` sub-commands: a bad value is argparse's one-line error naming the flag.

    p.add_argument("--nfe", type=positive_int)            # 0, -1, 'x'  -> "argument --nfe: ... got '0'"
    p.add_argument("--sigma-y", type=nonnegative_float)   # nan, inf, -1 -> refused (NaN passes `x < 0` checks)
    p.add_argument("--nfe", type=int_list(positive_int))  # "20,100"; "," and "" -> refused
    p.add_argument("--device", type=device)                # "foo", "gpu" -> refused; no GPU: resolve_device

No torch here: ``eps <command> --help`` and every argument error answer before the heavy imports; the
argument groups below (``add_task(p)``, ``add_nfe(p)``, ...) give every command the same flags, types, help
and defaults. :class:`HelpFormatter` shows each default once (none for required flags or unset options).
"""
from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

from .names import INTERPOLANTS, PROTOCOLS, SOLVERS, TASKS, method_names


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def bounded(parse: Callable[[str], float], low: float, strict: bool = False, why: str = "") -> Callable[[str], float]:
    """``parse`` (:func:`_int` or :func:`_finite`), then refuse values below ``low`` (at or below, ``strict``)."""
    kind = "an integer" if parse is _int else "a finite number"

    def check(text: str):
        value = parse(text)
        if value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {kind} {'>' if strict else '>='} {low}{why}, got {text!r}")
        return value
    return check


def int_at_least(low: int, why: str = "") -> Callable[[str], int]:
    """An integer >= ``low``; ``why`` says why in the error."""
    return bounded(_int, low, why=why)


positive_int = int_at_least(1)
nonnegative_int = int_at_least(0)


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


nonnegative_float = bounded(_finite, 0)
positive_float = bounded(_finite, 0, strict=True)


def fraction(text: str) -> float:
    """A number in [0, 1)."""
    value = _finite(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1), got {text!r}")
    return value


def int_list(item: Callable[[str], int] = _int, allow_empty: bool = False) -> Callable[[str], list[int]]:
    """Comma-separated integers checked by ``item``; an empty list is refused unless ``allow_empty``."""
    def parse(text: str) -> list[int]:
        values = [item(v.strip()) for v in text.split(",") if v.strip()]
        if not values and not allow_empty:
            raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}")
        return values
    parse.__name__ = "integer list"
    return parse


DEVICE = re.compile(r"(cpu|mps|cuda(:\d+)?)")


def device(text: str) -> str:
    """A torch device string (``cpu``, ``cuda``, ``cuda:1``, ``mps``); whether it exists is checked by
    :func:`resolve_device` after parsing (that needs torch)."""
    if not DEVICE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"not a device: {text!r} (use cpu, cuda, cuda:N or mps)")
    return text


def resolve_device(text: str | None):
    """The ``torch.device`` of ``--device`` (None: cuda when available, else cpu), refused when absent here."""
    import torch

    if text is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device(text))
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"--device {text}: no CUDA GPU is available here (use --device cpu)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"--device {text}: only {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {text}: MPS is not available here")
    return dev


def one_of(valid: tuple[str, ...] | list[str], what: str) -> Callable[[str], str]:
    """A name from ``valid``; otherwise argparse's one-line error listing them (and the closest match)."""
    def parse(text: str) -> str:
        if text not in valid:
            raise argparse.ArgumentTypeError(unknown(what, text, valid))
        return text
    parse.__name__ = what
    return parse


def name_list(valid: tuple[str, ...] | list[str], what: str, all_: bool = False) -> Callable[[str], list[str]]:
    """Comma-separated names from ``valid`` (``all_``: the word ``all`` stands for every one), at least one."""
    item = one_of(valid, what)

    def parse(text: str) -> list[str]:
        if all_ and text.strip() == "all":
            return list(valid)
        values = [item(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}s, got {text!r}")
        return values
    parse.__name__ = f"{what} list"
    return parse


def unknown(what: str, name, valid, valid_label: str | None = None) -> str:
    """``unknown task 'sr8'; valid tasks: ... (did you mean sr4?)``: the one line of every unknown-name error."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(v) for v in valid], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown {what} {name!r}; {valid_label or f'valid {what}s'}: {', '.join(map(str, valid))}{hint}"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Shows ``(default: X)`` once per option that has a default: not for required flags, unset (None) or
    boolean switches, nor when the help already states it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.required or any(action.default is v for v in (None, argparse.SUPPRESS, False)) or "default" in text
                or not action.option_strings):
            return text
        default = ",".join(map(str, action.default)) if isinstance(action.default, list) else action.default
        return f"{text} (default: {default})".strip()


class Parser(argparse.ArgumentParser):
    """argparse with :class:`HelpFormatter` and a one-line error (no usage block): ``eps sample: error: ...``."""

    def __init__(self, prog: str, description: str | None = None):
        super().__init__(prog=prog, description=description, formatter_class=HelpFormatter)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# Argument groups: one definition per flag, shared by every command that takes it.

def add_task(p, required: bool = True, default=None):
    p.add_argument("--task", type=one_of(TASKS, "task"), required=required, default=default,
                   help=f"inverse problem, one of: {', '.join(TASKS)}")


def add_tasks(p, default: str = "all"):
    p.add_argument("--tasks", type=name_list(TASKS, "task", all_=True), default=default,
                   help=f"'all' or comma-separated from: {', '.join(TASKS)}")


def _methods_help() -> str:
    return ", ".join(method_names())


def add_method(p):
    p.add_argument("--method", required=True, type=one_of(method_names(), "method"),
                   help=f"registered method, one of: {_methods_help()}")


def add_methods(p, default: str = "eps", budgets: bool = False):
    p.add_argument("--methods", default=default,
                   help="comma-separated methods" + (", each optionally name@NFE" if budgets else "")
                   + f"; registered: {_methods_help()}")


def add_solver(p):
    p.add_argument("--solver", type=one_of(SOLVERS, "solver"), default=None,
                   help=f"backbone solver of EPS-like methods, one of: {', '.join(SOLVERS)} (default: the method's, heun)")


def add_solvers(p, default: str = "heun,dpmpp2m"):
    p.add_argument("--solvers", type=name_list(SOLVERS, "solver"), default=default,
                   help=f"backbone solvers of the EPS-like methods, comma-separated from: {', '.join(SOLVERS)}")


def add_nfe(p, multiple: bool = False, default=None, required: bool = False):
    if multiple:
        p.add_argument("--nfe", type=int_list(positive_int), default=default, required=required,
                       help="NFE budgets (denoiser calls per sample), comma-separated")
    else:
        p.add_argument("--nfe", type=positive_int, default=default, required=required,
                       help="NFE budget (denoiser calls per sample)")


def add_seed(p, default: int = 0, help: str = "random seed"):
    p.add_argument("--seed", type=nonnegative_int, default=default, help=help)


def add_seeds(p, default: str = "0", help: str = "seeds, comma-separated"):
    p.add_argument("--seeds", type=int_list(nonnegative_int), default=default, help=help)


def add_sigma_y(p, default: float = 0.05):
    p.add_argument("--sigma-y", type=nonnegative_float, default=default,
                   help="measurement noise std (images in [-1, 1])")


def add_device(p, default: str | None = None):
    p.add_argument("--device", type=device, default=default,
                   help="cpu, cuda, cuda:N or mps" + ("" if default else " (default: cuda when available, else cpu)"))


def add_threads(p):
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch intra-op threads (default: torch's choice)")


def add_out(p, help: str = "output file", **kwargs):
    p.add_argument("--out", required=True, help=help, **kwargs)


def add_shape(p, default: str = "3,8,8"):
    p.add_argument("--shape", type=int_list(positive_int), default=default, help="image shape C,H,W")


def add_interpolant(p, default: str = "edm", help: str = "backbone interpolant"):
    p.add_argument("--interpolant", type=one_of(INTERPOLANTS, "interpolant"), default=default,
                   help=f"{help}, one of: {', '.join(INTERPOLANTS)}")


def add_num_samples(p, default: int, help: str, type=None):
    p.add_argument("--num-samples", type=type or positive_int, default=default, help=help)


def add_task_params(p):
    p.add_argument("--task-params", default="{}", help="JSON dict overriding the task's parameters (DEFAULTS)")


def add_networks(p):
    """The networks an image method samples with: the backbone and the conditional networks it may need."""
    p.add_argument("--data", required=True, help="test-set zip written by `eps prepare-data`")
    p.add_argument("--prior", required=True, help="unconditional backbone checkpoint")
    p.add_argument("--eps-net", help="EPS network checkpoint (methods eps, eps_zeroshot)")
    p.add_argument("--palette-net", help="Palette network checkpoint (method palette)")


def add_protocol(p, default: str = "eps_paper"):
    p.add_argument("--protocol", type=one_of(PROTOCOLS, "protocol"), default=default,
                   help=f"evaluation protocol, one of: {', '.join(PROTOCOLS)}")


__all__ = ["bounded", "int_at_least", "positive_int", "nonnegative_int", "nonnegative_float", "positive_float", "fraction", "int_list", "device",
           "resolve_device", "one_of", "name_list", "unknown", "HelpFormatter", "Parser", "add_protocol"]
