"""Which code a result declares, and whether that code has changed since the commit that made it.

A provenance record (:mod:`eps.provenance`) names the commit that made a result and ``modules``: the project files
whose code computed it (for ``eps gmm-bench``, the static import closure, :func:`import_closure`, of its own module
and the module of each method it ran, so a change to a baseline leaves the EPS-only tables current). No digest of
the code is stored: :func:`changed_since` reads each declared file at the recorded commit (``git show``) and compares
it with the working tree, both parsed by the running interpreter with docstrings removed, so a comment, a
docstring or the layout is not a change, and the answer does not depend on the Python version (``ast.dump``'s text
does, so it is never stored). Staleness is reported (``eps provenance --stale``), never a test failure: the numbers
themselves are guarded by golden regression slices (tests/test_committed_results.py).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("eps", "baselines")
# Modules that record results and never compute them: never declared.
BOOKKEEPING = ("eps.provenance", "eps.fingerprint")
CODE_SUFFIXES = (".py", ".smk")


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return tree


def same_code(old: bytes, new: bytes, name: str) -> bool:
    """Whether two versions of file ``name`` run the same code: equal docstring-free syntax trees for Python
    (compared within this interpreter, never stored), equal bytes otherwise; unparsable Python compares by bytes."""
    if old == new:
        return True
    if not name.endswith(".py"):
        return False
    try:
        return ast.dump(_without_docstrings(ast.parse(old))) == ast.dump(_without_docstrings(ast.parse(new)))
    except SyntaxError:
        return False


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


def repo_key(path: str | Path) -> str | None:
    """``path`` relative to the repository, or None when it lies outside it."""
    resolved = Path(path).resolve()
    return resolved.relative_to(ROOT).as_posix() if resolved.is_relative_to(ROOT) else None


def is_code(path: str | Path) -> bool:
    """A project source file (declared by path; its content is read from git at the recorded commit)."""
    key = repo_key(path)
    return key is not None and (key.endswith(CODE_SUFFIXES) or key == "Snakefile")


def git(*args: str, root: Path = ROOT) -> subprocess.CompletedProcess:
    """``git ARGS`` in ``root`` (bytes out; never raises for a non-zero status)."""
    return subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=30)


def has_commit(commit: str, root: Path = ROOT) -> bool:
    return git("cat-file", "-e", f"{commit}^{{commit}}", root=root).returncode == 0


def changed_since(commit: str, modules: Iterable[str], root: Path = ROOT) -> list[str]:
    """The declared ``modules`` (repository paths) whose code differs between ``commit`` and the working tree, or
    that exist in only one of them. A ``LookupError`` names a commit this clone does not hold (a shallow clone:
    ``git fetch --unshallow``)."""
    if not has_commit(commit, root):
        raise LookupError(f"commit {commit} is not in this clone (shallow? run: git fetch --unshallow)")
    changed, bookkeeping = [], {f"{name.replace('.', '/')}.py" for name in BOOKKEEPING}
    for path in (m for m in modules if m not in bookkeeping):  # they record results, never compute them
        then = git("show", f"{commit}:{path}", root=root)
        now = (root / path).read_bytes() if (root / path).is_file() else None
        if then.returncode != 0 or now is None or not same_code(then.stdout, now, path):
            changed.append(path)
    return sorted(changed)


__all__ = ["ROOT", "all_sources", "changed_since", "git", "has_commit", "import_closure", "is_code",
           "loaded_sources", "repo_key", "same_code"]
