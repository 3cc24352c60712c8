"""What code produced a result: a digest per source file, blind to comments and docstrings.

A committed result is only true for the code that made it. Each results file's provenance record holds
``code = {path: digest}`` for the project's source files that produced it, where for a Python file

    digest = sha256( ast.dump( parse(source) with every docstring removed ) )

so editing a comment, a docstring or the layout does not count as a change, while any change to what runs
does. Other files (Snakemake rules, configs) are digested byte for byte. ``stale(record)`` lists the files
whose digest differs from the working tree's now: ``tests/test_committed_results.py`` fails on any, naming
them and the command that regenerates the result.
"""
from __future__ import annotations

import ast
import hashlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("eps", "baselines")


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def digest(path: str | Path) -> str:
    """sha256 of a Python file's docstring-free syntax tree, or of any other file's bytes."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".py":
        data = ast.dump(_without_docstrings(ast.parse(data, filename=str(path)))).encode()
    return hashlib.sha256(data).hexdigest()


def loaded_sources() -> list[Path]:
    """The project's Python files imported by this process so far (``eps`` and ``baselines`` modules)."""
    files = set()
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in PACKAGES and getattr(module, "__file__", None):
            files.add(Path(module.__file__).resolve())
    return sorted(f for f in files if f.is_relative_to(ROOT))


def all_sources() -> list[Path]:
    """Every Python file of the project's packages and every workflow file (the whole DAG's code)."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files += [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk")]
    return sorted(f for f in files if f.is_file())


def fingerprint(files: Iterable[str | Path]) -> dict[str, str]:
    """``{path relative to the repository: digest}``."""
    return {Path(f).resolve().relative_to(ROOT).as_posix(): digest(f) for f in files}


def stale(code: Mapping[str, str], root: Path = ROOT) -> list[str]:
    """The files of a recorded fingerprint that changed or disappeared since (empty: the result is current)."""
    return sorted(p for p, d in code.items() if not (root / p).is_file() or digest(root / p) != d)


__all__ = ["digest", "fingerprint", "loaded_sources", "all_sources", "stale", "ROOT"]
