"""Find where a table or column is defined in the project's model code, so findings can point at the line.

Reads the source of the project's loaded modules with `ast`: classes with __tablename__ (SQLAlchemy
declarative), classes declared with table=True (SQLModel, whose table name is the lower-cased class name) and
Table("name", ...) calls (Core).
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A file of an installed package, wherever its site-packages is (pip --target, a vendored folder on PYTHONPATH).
INSTALLED_FILE = re.compile(r"[/\\](site|dist)-packages[/\\]")


@dataclass(frozen=True)
class Location:
    file: Path
    line: int


@dataclass
class _TableSource:
    location: Location
    columns: dict[str, Location] = field(default_factory=dict)
    args: Location | None = None  # __table_args__, where table-level constraints without a name are


def _string(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def mapped_classes(tree: ast.AST) -> list[tuple[str, int]]:
    """(class name, line) of each class that maps a table: __tablename__ (declarative) or table=True (SQLModel)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        named = any(isinstance(s, (ast.Assign, ast.AnnAssign)) and any(
            isinstance(t, ast.Name) and t.id == "__tablename__"
            for t in (s.targets if isinstance(s, ast.Assign) else [s.target])) for s in node.body)
        if named or any(k.arg == "table" and getattr(k.value, "value", None) is True for k in node.keywords):
            found.append((node.name, node.lineno))
    return found


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            return func.id
        if isinstance(func, ast.Attribute):
            return func.attr
    return None


COLUMN_CALLS = {"Column", "mapped_column", "Field", "column_property"}
NAMED_SCHEMA_ITEMS = {"Index", "UniqueConstraint", "CheckConstraint", "ForeignKeyConstraint", "PrimaryKeyConstraint"}


class ModelIndex:
    def __init__(self) -> None:
        self._tables: dict[str, _TableSource] = {}
        self._named: dict[str, Location] = {}  # indexes and constraints by their explicit name
        self.metadata_calls: list[Location] = []  # every MetaData(...) in the project's code

    @classmethod
    def from_loaded_modules(cls, skip: tuple[Path, ...] = ()) -> ModelIndex:
        """Index the project code that is loaded now: every imported module outside the Python installation and
        its site-packages. Run after env.py, this finds the models wherever prepend_sys_path put them."""
        folders = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *sysconfig.get_paths().values())
                   if p} | set(skip) | {Path(__file__).parent}
        # both spellings of each folder, so that most modules are ruled out by a string test, without a syscall
        prefixes = tuple({os.path.join(str(spelling), "") for f in folders for spelling in (f, f.resolve())})
        index = cls()
        for module in list(sys.modules.values()):
            file = getattr(module, "__file__", None)
            if not file or not file.endswith(".py") or file.startswith(prefixes) or INSTALLED_FILE.search(file):
                continue
            path = Path(file).resolve()
            if not str(path).startswith(prefixes):
                index._read(path)
        return index

    def _read(self, path: Path) -> None:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            return
        for node in ast.walk(tree):
            if _call_name(node) == "MetaData" and isinstance(node, ast.Call):
                self.metadata_calls.append(Location(path, node.lineno))
            if _call_name(node) in NAMED_SCHEMA_ITEMS and isinstance(node, ast.Call):
                name = _string(node.args[0]) if _call_name(node) == "Index" and node.args else None
                name = name or next((_string(k.value) for k in node.keywords if k.arg == "name"), None)
                if name:
                    self._named.setdefault(name, Location(path, node.lineno))
            if isinstance(node, ast.ClassDef):
                self._read_class(path, node)
            elif _call_name(node) == "Table" and isinstance(node, ast.Call) and node.args:
                table = _string(node.args[0])
                if table:
                    source = self._tables.setdefault(table, _TableSource(Location(path, node.lineno)))
                    for arg in node.args[1:]:
                        if _call_name(arg) == "Column" and isinstance(arg, ast.Call) and arg.args:
                            column = _string(arg.args[0])
                            if column:
                                source.columns.setdefault(column, Location(path, arg.lineno))

    def _read_class(self, path: Path, node: ast.ClassDef) -> None:
        table: str | None = None
        args: Location | None = None
        for statement in node.body:
            if isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                if any(isinstance(t, ast.Name) and t.id == "__tablename__" for t in targets):
                    table = _string(statement.value)
                if any(isinstance(t, ast.Name) and t.id == "__table_args__" for t in targets):
                    args = Location(path, statement.lineno)
        if table is None and any(k.arg == "table" and getattr(k.value, "value", None) is True
                                 for k in node.keywords):
            table = node.name.lower()  # SQLModel's default table name
        if table is None:
            return
        source = self._tables.setdefault(table, _TableSource(Location(path, node.lineno)))
        source.args = source.args or args
        for statement in node.body:
            if not isinstance(statement, (ast.Assign, ast.AnnAssign)) or statement.value is None:
                continue
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            names = [t.id for t in targets if isinstance(t, ast.Name)]
            call = statement.value
            if isinstance(statement, ast.AnnAssign) and _call_name(call) not in COLUMN_CALLS | {None}:
                continue  # relationship() and the like
            if isinstance(call, ast.Call) and call.args and _call_name(call) in COLUMN_CALLS:
                explicit = _string(call.args[0])
                if explicit:
                    names.append(explicit)
            for name in names:
                source.columns.setdefault(name, Location(path, statement.lineno))

    def model_files(self) -> set[Path]:
        """The loaded files that define a mapped table."""
        return {source.location.file for source in self._tables.values()}

    def table(self, name: str | None) -> Location | None:
        source = self._tables.get(name or "")
        return source.location if source else None

    def named(self, name: str | None) -> Location | None:
        return self._named.get(name or "")

    def column(self, table: str | None, column: str | None) -> Location | None:
        source = self._tables.get(table or "")
        if source is None:
            return None
        return source.columns.get(column or "", source.location)

    def table_arguments(self, table: str | None) -> Location | None:
        """Where a table's own constraints are written: __table_args__, else the class or Table() line."""
        source = self._tables.get(table or "")
        return (source.args or source.location) if source else None


def mapped_class_source(table: Any) -> tuple[str, Location] | None:
    """The mapped class of a Table, from SQLAlchemy's registries ('module.Class', where it is defined): for
    models that the source index does not see, such as a plugin's in an installed package."""
    try:
        from sqlalchemy.orm import mapperlib

        registries = list(getattr(mapperlib, "_mapper_registries", {}))  # SQLAlchemy 1.4 and 2.x keep them so
    except ImportError:
        return None
    for registry in registries:
        for mapper in list(getattr(registry, "mappers", ())):
            if table not in getattr(mapper, "tables", ()):
                continue
            cls = mapper.class_
            try:
                file = inspect.getsourcefile(cls)
                _, line = inspect.getsourcelines(cls)
            except (OSError, TypeError):
                continue
            if file:
                return f"{cls.__module__}.{cls.__qualname__}", Location(Path(file).resolve(), max(line, 1))
    return None
