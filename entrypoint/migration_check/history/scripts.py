"""Reads migration files with `ast`, without importing them: they often import the project, which may not
import without its settings, and these rules must work anyway."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from migration_check.errors import ProjectLoadError

IRREVERSIBLE_MARKER = re.compile(r"#\s*migration-check:\s*irreversible\b")
SUPPRESSION = re.compile(r"#\s*migration-check:\s*ignore\[([^\]]*)\]\s*(.*?)\s*$")


@dataclass(frozen=True)
class Suppression:
    """`# migration-check: ignore[rule-id, ...] reason` in a migration file."""

    rules: tuple[str, ...]
    reason: str
    line: int


def suppressions_in(source: str) -> tuple[Suppression, ...]:
    found = []
    for number, text in enumerate(source.splitlines(), start=1):
        match = SUPPRESSION.search(text)
        if match:
            rules = tuple(part.strip() for part in match.group(1).split(",") if part.strip())
            found.append(Suppression(rules, match.group(2), number))
    return tuple(found)


@dataclass(frozen=True)
class OpCall:
    """One `op.<name>(...)` (or `batch_op.<name>(...)`) call in upgrade() or downgrade()."""

    name: str
    line: int
    first_argument_is_none: bool
    text: str | None = None  # the first argument, when it is a string (the SQL of op.execute)


_NEUTRAL_OPERATIONS = {"get_bind", "get_context", "inline_literal", "f"}
_DML = re.compile(r"\s*(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|COPY|SELECT|WITH)\b", re.IGNORECASE)


@dataclass(frozen=True)
class MigrationScript:
    path: Path
    source: str
    revision: str | None
    down_revisions: tuple[str, ...]
    branch_labels: tuple[str, ...]
    depends_on: tuple[str, ...]
    message: str
    message_line: int
    revision_line: int
    down_revision_line: int
    upgrade_ops: tuple[OpCall, ...] = field(default=())
    downgrade_ops: tuple[OpCall, ...] = field(default=())
    upgrade_is_empty: bool = True
    downgrade_is_empty: bool = True
    marked_irreversible: bool = False  # the marker comment, or a downgrade that refuses
    downgrade_refuses: bool = False  # downgrade() is only `raise NotImplementedError`
    suppressions: tuple[Suppression, ...] = ()
    # identifier-like strings passed to schema operations, with their lines (the naming stage's long names)
    schema_names: tuple[tuple[str, int], ...] = ()

    def line_naming(self, name: str) -> int | None:
        """The first line that spells a schema object's name out: in quotes, else as a word (in raw SQL)."""
        quoted = re.compile(rf"""["']{re.escape(name)}["']""")
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
        lines = self.source.splitlines()
        for pattern in (quoted, word):
            for number, text in enumerate(lines, start=1):
                if pattern.search(text):
                    return number
        return None

    @property
    def is_merge(self) -> bool:
        return len(self.down_revisions) > 1

    @property
    def upgrade_only_writes_data(self) -> bool:
        """upgrade() only inserts, updates or deletes rows (op.bulk_insert, op.execute of DML), as far as its
        source shows."""
        writes = [call for call in self.upgrade_ops if call.name not in _NEUTRAL_OPERATIONS]
        return bool(writes) and all(call.name == "bulk_insert" or (call.name == "execute" and call.text is not None
                                                                   and _DML.match(call.text)) for call in writes)


def _strings(node: ast.AST | None) -> tuple[str, ...] | None:
    """A string, a tuple/list of strings, or None; anything else (a computed value) is None too."""
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return ()
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value,)
    if isinstance(node, (ast.Tuple, ast.List)):
        values = [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
        return tuple(values) if len(values) == len(node.elts) else None
    return None


def _assignments(tree: ast.Module) -> dict[str, tuple[ast.AST | None, int]]:
    found: dict[str, tuple[ast.AST | None, int]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = (node.value, node.lineno)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = (node.value, node.lineno)
    return found


def _is_trivial(body: list[ast.stmt]) -> bool:
    """Only a docstring, `pass` or `...`."""
    for statement in body:
        if isinstance(statement, ast.Pass):
            continue
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        return False
    return True


def _refuses(function: ast.FunctionDef | None) -> bool:
    """A function whose whole body (after a docstring) is `raise NotImplementedError(...)`: the usual way to say
    that a migration cannot be undone."""
    if function is None:
        return False
    body = [s for s in function.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def _string_in(node: ast.expr | None) -> str | None:
    """The string of a literal, or of sa.text("...") around one."""
    if isinstance(node, ast.Call) and node.args:
        node = node.args[0]
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _op_calls(function: ast.FunctionDef | None) -> tuple[OpCall, ...]:
    if function is None:
        return ()
    calls = []
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("op", "batch_op"):
                first = node.args[0] if node.args else next(
                    (k.value for k in node.keywords if k.arg in ("constraint_name", "index_name", "name")), None)
                calls.append(OpCall(node.func.attr, node.lineno,
                                    isinstance(first, ast.Constant) and first.value is None,
                                    _string_in(first)))
    return tuple(sorted(calls, key=lambda call: call.line))


# Alembic operations whose string arguments are not names
_NOT_NAMES = {"execute", "f", "text", "literal_column", "inline_literal", "get_bind", "run_async"}
_NOT_NAME_KEYWORDS = {"server_default", "comment", "postgresql_where", "sqlite_where", "info", "doc",
                      "existing_server_default", "existing_comment", "sqltext", "condition", "type_"}
_IDENTIFIER_LIKE = re.compile(r"[^\s()'\",;=<>]+")
# The calls whose string arguments are names: the module names migrations use for Alembic's operations and
# SQLAlchemy, and SQLAlchemy's schema constructors imported by name.
_SCHEMA_MODULES = {"op", "batch_op", "sa", "sqlalchemy", "postgresql", "pg", "sqlmodel", "alembic"}
_SCHEMA_CONSTRUCTORS = {"Column", "Table", "Index", "ForeignKey", "ForeignKeyConstraint", "UniqueConstraint",
                        "PrimaryKeyConstraint", "CheckConstraint", "Sequence", "Enum", "ENUM", "Identity",
                        "Computed", "MetaData", "Field"}


def _names_in_operations(tree: ast.Module) -> Iterator[tuple[str, int]]:
    """Identifier-like strings passed to schema operations in a migration file: op.* and batch_op.* calls and
    SQLAlchemy's constructors (not SQL, not comments, not a log message's arguments). The naming stage checks
    their lengths; read here, from the one parse of the file."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not _is_schema_call(node.func):
            continue
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if called in _NOT_NAMES:
            if called == "f":  # op.f("name"): the name itself
                yield from _identifier_strings(node.args[:1])
            continue
        values = [*node.args, *(k.value for k in node.keywords if k.arg not in _NOT_NAME_KEYWORDS)]
        yield from _identifier_strings(values)


def _is_schema_call(func: ast.expr) -> bool:
    """op.add_column(...), sa.Column(...), postgresql.ENUM(...), Column(...) imported by name; not print(),
    logger.info() or str.format()."""
    if isinstance(func, ast.Name):
        return func.id in _SCHEMA_CONSTRUCTORS
    root = func
    while isinstance(root, ast.Attribute):
        root = root.value
    return isinstance(root, ast.Name) and root.id in _SCHEMA_MODULES


def _identifier_strings(values: Iterable[ast.expr]) -> Iterator[tuple[str, int]]:
    for value in values:
        items = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
        for item in items:
            if isinstance(item, ast.Constant) and isinstance(item.value, str) and \
                    _IDENTIFIER_LIKE.fullmatch(item.value):
                yield item.value, item.lineno


def _message(tree: ast.Module, path: Path, revision: str | None) -> tuple[str, int]:
    """The first line of the module docstring, as Alembic's template writes it; else the file name."""
    docstring = ast.get_docstring(tree, clean=True)
    if docstring and docstring.strip():
        first = docstring.strip().splitlines()[0].strip()
        if not re.match(r"^(Revision ID|Revises|Create Date):", first):
            return first, tree.body[0].lineno
    stem = path.stem
    if revision and stem.startswith(revision):
        stem = stem[len(revision):]
    return stem.strip("_- ").replace("_", " "), 1


_read: dict[tuple[Path, str], MigrationScript] = {}  # a file unchanged since the base ref is parsed once


def read_script(path: Path, source: str | None = None) -> MigrationScript:
    """Read a migration from its file, or from `source` (its text at another commit)."""
    source = path.read_text(encoding="utf-8") if source is None else source
    known = _read.get((path, source))
    if known is None:
        known = _read[(path, source)] = _parse_script(path, source)
    return known


def _parse_script(path: Path, source: str) -> MigrationScript:
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise ProjectLoadError(
            f"The migration file cannot be read: SyntaxError: {exc.msg}",
            fix="Fix the syntax error at that line; Alembic reads every migration file before it runs any.",
            file=path,
            line=exc.lineno,
        ) from None
    values = _assignments(tree)
    revision_node, revision_line = values.get("revision", (None, 1))
    revision = (_strings(revision_node) or (None,))[0]
    down_node, down_line = values.get("down_revision", (None, revision_line))
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    upgrade, downgrade = functions.get("upgrade"), functions.get("downgrade")
    message, message_line = _message(tree, path, revision)
    return MigrationScript(
        path=path,
        source=source,
        revision=revision,
        down_revisions=_strings(down_node) or (),
        branch_labels=_strings(values.get("branch_labels", (None, 0))[0]) or (),
        depends_on=_strings(values.get("depends_on", (None, 0))[0]) or (),
        message=message,
        message_line=message_line,
        revision_line=revision_line,
        down_revision_line=down_line,
        upgrade_ops=_op_calls(upgrade),
        downgrade_ops=_op_calls(downgrade),
        upgrade_is_empty=upgrade is None or _is_trivial(upgrade.body),
        downgrade_is_empty=downgrade is None or _is_trivial(downgrade.body),
        marked_irreversible=bool(IRREVERSIBLE_MARKER.search(source)) or _refuses(downgrade),
        downgrade_refuses=_refuses(downgrade),
        suppressions=suppressions_in(source),
        schema_names=tuple(_names_in_operations(tree)),
    )


def migration_files(folders: tuple[Path, ...], recursive: bool = False) -> list[Path]:
    files: list[Path] = []
    for folder in folders:
        pattern = "**/*.py" if recursive else "*.py"
        files.extend(p for p in sorted(folder.glob(pattern)) if p.name != "__init__.py" and
                     "__pycache__" not in p.parts)
    return files
