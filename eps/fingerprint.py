"""What code produced a result: a digest per source file, blind to comments and docstrings.

A committed result is only true for the code that made it. Each results file's provenance record holds
``code = {path: digest}`` for the project's source files that produced it, where for a Python file

    digest = sha256( ast.dump( parse(source) with every docstring removed ) )

so editing a comment, a docstring or the layout does not count as a change, while any change to what runs
does. Other files (Snakemake rules, configs) are digested byte for byte. The files of a result are the static
import closure (:func:`import_closure`) of the modules that computed it: for ``eps gmm-bench``, its own module
and the module of each method it ran, so a change to a baseline leaves the EPS-only tables current. ``stale(record)`` lists the files
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
# Modules that record results and never compute them: left out of every fingerprint.
BOOKKEEPING = ("eps.provenance", "eps.fingerprint")


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


def module_file(name: str) -> Path | None:
    """The source file of project module ``name`` (``eps.x.y`` -> ``eps/x/y.py`` or ``eps/x/y/__init__.py``)."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, name: str) -> set[str]:
    """Project modules that ``path`` (module ``name``) imports anywhere in its body, and their parent packages."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if parts[0] in PACKAGES:
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def import_closure(modules: Iterable[str]) -> list[Path]:
    """Source files of ``modules`` and of every project module they import, transitively (statically: imports
    inside functions count too; ``baselines`` modules found only through entry points do not)."""
    seen, todo, files = set(), list(modules), set()
    while todo:
        name = todo.pop()
        if name in seen or name in BOOKKEEPING:
            continue
        seen.add(name)
        path = module_file(name)
        if path is not None:
            files.add(path)
            todo.extend(_imports(path, name) - seen)
    return sorted(files)


def loaded_sources() -> list[Path]:
    """The import closure of the project modules this process has imported so far."""
    return import_closure(n for n in list(sys.modules) if n.split(".")[0] in PACKAGES)


def all_sources() -> list[Path]:
    """Every Python file of the project's packages and every workflow file (the whole DAG's code)."""
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files += [ROOT / "Snakefile", *(ROOT / "workflow").rglob("*.smk")]
    return sorted(f for f in files if f.is_file())


def _key(path: str | Path) -> str:
    """A file's name in a fingerprint: relative to the repository, or as given when it lies elsewhere (a config
    file of a workflow run from another folder)."""
    resolved = Path(path).resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else str(path)


def fingerprint(files: Iterable[str | Path]) -> dict[str, str]:
    """``{path relative to the repository (or as given outside it): digest}``."""
    return {_key(f): digest(f) for f in files}


def stale(code: Mapping[str, str], root: Path = ROOT) -> list[str]:
    """The files of a recorded fingerprint that changed or disappeared since (empty: the result is current);
    bookkeeping modules never computed a result and are not compared."""
    skip = {f"{name.replace('.', '/')}.py" for name in BOOKKEEPING}
    return sorted(p for p, d in code.items() if p not in skip and (not (root / p).is_file() or digest(root / p) != d))


__all__ = ["digest", "fingerprint", "import_closure", "loaded_sources", "all_sources", "stale", "ROOT"]
