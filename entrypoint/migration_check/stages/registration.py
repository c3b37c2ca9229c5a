"""Stage part of the comparison: every model reaches autogenerate. A module of mapped classes that nothing
imports, or a mapped class on another MetaData than target_metadata, is invisible to the comparison."""

from __future__ import annotations

import ast
import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import MetaData, Table

from migration_check.findings import Finding
from migration_check.locate import Location, ModelIndex, mapped_classes
from migration_check.rules import MODEL_NOT_IMPORTED

_SKIPPED = {"__pycache__", "migrations", "alembic", "tests", "test", "venv", ".venv", "node_modules"}


def _loaded_files() -> set[Path]:
    files = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py"):
            files.add(Path(file).resolve())
    return files


def _other_trees_import(path: Path, env_py: Path, project_dir: Path) -> bool:
    """Whether another migration tree's env.py in the project imports this module (a project with one Alembic
    configuration per database: the other tree's models are not this one's)."""
    imported = re.compile(rf"^\s*(from|import)\s+[\w.]*\b{re.escape(path.stem)}\b", re.MULTILINE)
    for other in project_dir.rglob("env.py"):
        if other.resolve() == env_py.resolve() or any(part in _SKIPPED - {"migrations", "alembic"}
                                                      for part in other.parts):
            continue
        try:
            if imported.search(other.read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


_BASE_MAKERS = {"declarative_base", "registry", "MetaData"}
_BASE_CLASSES = {"DeclarativeBase", "DeclarativeBaseNoMeta"}


def _declares_its_own_base(tree: ast.Module) -> bool:
    """A module with a declarative base or MetaData of its own is a model set apart (a bootstrap's initial
    models, another database's): its tables are not meant for target_metadata."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            func = node.value.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in _BASE_MAKERS:
                return True
        if isinstance(node, ast.ClassDef) and any(
                (base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)) in _BASE_CLASSES
                for base in node.bases):
            return True
    return False


def _unimported(models: ModelIndex, skip: tuple[Path, ...]) -> Iterable[tuple[Path, list[tuple[str, int]]]]:
    """Files beside the loaded model files (their folders and subfolders) with mapped classes, not loaded."""
    loaded = _loaded_files()
    folders = {path.parent for path in models.model_files()}
    skipped = {folder.resolve() for folder in skip}
    seen: set[Path] = set()
    for folder in sorted(folders):
        for current, subfolders, files in os.walk(folder):
            subfolders[:] = sorted(d for d in subfolders if d not in _SKIPPED and not d.startswith(".")
                                   and (Path(current) / d).resolve() not in skipped)
            for name in sorted(files):
                path = (Path(current) / name).resolve()
                if not name.endswith(".py") or path in loaded or path in seen:
                    continue
                seen.add(path)
                try:
                    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
                except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
                    continue
                classes = mapped_classes(tree)
                if classes and not _declares_its_own_base(tree):
                    yield path, classes


def _tables_elsewhere(targets: list[MetaData]) -> Iterable[tuple[Table, type]]:
    """Loaded mapped classes whose table is on a MetaData that env.py does not hand to Alembic."""
    wanted = {id(metadata) for metadata in targets}
    reported: set[int] = set()
    for module in list(sys.modules.values()):
        for value in list(getattr(module, "__dict__", {}).values()):
            table = getattr(value, "__table__", None) if isinstance(value, type) else None
            if isinstance(table, Table) and id(table.metadata) not in wanted and id(table) not in reported:
                if getattr(value, "__module__", None) != module.__name__:
                    continue  # imported from elsewhere; counted where it is defined
                reported.add(id(table))
                yield table, value


def check_registration(targets: list[MetaData], models: ModelIndex, skip: tuple[Path, ...],
                       root: Path, env_py: Path, project_dir: Path) -> list[Finding]:
    findings = []
    for path, classes in _unimported(models, skip):
        if _other_trees_import(path, env_py, project_dir):
            continue
        names = ", ".join(name for name, _line in classes)
        findings.append(MODEL_NOT_IMPORTED.at(
            f"{path.name} defines mapped classes ({names}) that nothing env.py loads imports: autogenerate does "
            "not compare them.", Location(path, classes[0][1]), root,
            classes=[name for name, _line in classes], problem="not-imported"))
    project_files = models.model_files()
    for table, cls in _tables_elsewhere(targets):
        file = getattr(sys.modules.get(cls.__module__), "__file__", None)
        if not file or Path(file).resolve() not in project_files:
            continue  # a library's own models
        location = models.table(table.name)
        findings.append(MODEL_NOT_IMPORTED.at(
            f"Model {cls.__name__} (table {table.name}) is on another MetaData than the target_metadata env.py "
            "passes to Alembic: autogenerate does not compare it.", location, root,
            classes=[cls.__name__], table=table.name, problem="other-metadata"))
    return findings
