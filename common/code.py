"""The project's code folders, derived once from the repository (no hand-kept list to go stale).

A code folder is a top-level folder of the repository holding an `__init__.py` or any `.py`
file directly (trainer_fn/ and transform_fn/ are namespace packages without one), other than
tests/, hidden folders (.venv, .git), the work folder and generated ones (build/, dist/,
*.egg-info, __pycache__). bench/scale.py copies them for its model-only re-run; the
Dockerfile's COPY lines and pyproject.toml's package list are checked against them
(tests/test_images.py, tests/test_packaging.py).

`imported_modules` follows the project's own imports (lazy ones inside functions included)
from some modules, for what an image must hold to import them.

Imports nothing heavy.
"""

from __future__ import annotations

import ast
from pathlib import Path

from common.layout import DEFAULT_WORK_DIR

ROOT = Path(__file__).resolve().parent.parent
NOT_CODE = frozenset({"tests", DEFAULT_WORK_DIR, "build", "dist", "__pycache__"})


def code_folders(root: str | Path = ROOT) -> tuple[str, ...]:
    """The names of the repository's top-level Python package folders, sorted."""
    root = Path(root)
    return tuple(sorted(
        p.name for p in root.iterdir()
        if p.is_dir() and not p.is_symlink() and not p.name.startswith((".", "_"))
        and p.name not in NOT_CODE and not p.name.endswith(".egg-info")
        and any(child.is_file() for child in p.glob("*.py"))))


def module_file(name: str, root: str | Path = ROOT) -> Path | None:
    """The file of project module `name` (a module or a package's __init__), None if it is not one."""
    base = Path(root).joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(path: Path, module: str) -> list[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                      # relative: from the module's package upward
                parts = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, *([base] if base else [])])
            if base:
                names.append(base)
            names += [f"{base}.{a.name}" if base else a.name for a in node.names]
    return names


def imported_modules(modules, root: str | Path = ROOT) -> dict[str, Path]:
    """The project modules `modules` import, directly or through each other (every import
    statement, lazy ones inside functions included; each package's __init__ counts, as
    importing a submodule runs it), the modules themselves included: {name: file}."""
    folders = set(code_folders(root))
    todo = [m for m in modules]
    seen: dict[str, Path] = {}
    while todo:
        name = todo.pop()
        parts = name.split(".")
        if parts[0] not in folders:
            continue
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix in seen:
                continue
            path = module_file(prefix, root)
            if path is None:
                continue                        # a namespace package, or a name inside a module
            seen[prefix] = path
            todo += _imported_names(path, prefix)
    return seen


def folders_imported_by(modules, root: str | Path = ROOT) -> tuple[str, ...]:
    """The code folders that `modules` need, sorted."""
    return tuple(sorted({name.split(".")[0] for name in imported_modules(modules, root)}))
