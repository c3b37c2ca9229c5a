"""Stage: Alembic's autogenerate comparison between the models and the migrated database.

Each difference becomes one model-drift finding that says, in words, what differs and where the model is.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import postgresql

from migration_check.alembic_runner import Comparison
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.locate import Location, ModelIndex, mapped_class_source
from migration_check.paths import is_inside
from migration_check.rules import MODEL_DRIFT

_DIALECT = postgresql.dialect()


def _type(value: Any) -> str:
    try:
        return str(value.compile(dialect=_DIALECT))
    except Exception:
        return repr(value)


def _default(value: Any) -> str:
    if value is None:
        return "no default"
    text = getattr(value, "arg", value)  # a DefaultClause wraps the text
    text = getattr(text, "text", text)  # which may be a TextClause
    return f"default {text}"


def _qualified(schema: str | None, table: str | None) -> str:
    return f"{schema}.{table}" if schema else str(table)


def _columns(item: Any) -> list[str]:
    try:
        return [str(getattr(c, "name", c)) for c in item.columns]
    except Exception:
        return []


def _constraint_kind(constraint: Any) -> str:
    name = type(constraint).__name__
    return {
        "UniqueConstraint": "Unique constraint",
        "CheckConstraint": "Check constraint",
        "PrimaryKeyConstraint": "Primary key",
        "ForeignKeyConstraint": "Foreign key",
    }.get(name, "Constraint")


def _fk_target(fk: Any) -> str:
    try:
        element = fk.elements[0]
        target = element.target_fullname.rsplit(".", 1)[0]
        return f"{target} ({', '.join(e.target_fullname.rsplit('.', 1)[1] for e in fk.elements)})"
    except Exception:
        return "?"


def describe(diff: tuple[Any, ...]) -> tuple[str, dict[str, Any]]:
    """One sentence for one Alembic diff, and its details for the JSON report."""
    op = diff[0]
    details: dict[str, Any] = {"op": op}
    in_models = "is in the models, but no migration creates it"
    in_database = "exists after the migrations, but the models do not define it"
    if op in ("add_table", "remove_table"):
        table = diff[1]
        details.update(schema=table.schema, table=table.name)
        where = in_models if op == "add_table" else in_database
        return f"Table {_qualified(table.schema, table.name)} {where}.", details
    if op in ("add_column", "remove_column"):
        _, schema, table, column = diff
        nullable = "nullable" if column.nullable else "NOT NULL"
        details.update(schema=schema, table=table, column=column.name, type=_type(column.type),
                       nullable=column.nullable)
        name = f"{_qualified(schema, table)}.{column.name}"
        if op == "add_column":
            return f"Column {name} ({_type(column.type)}, {nullable}) is in the models, but no migration adds it.", \
                details
        return f"Column {name} ({_type(column.type)}) exists after the migrations, but the model has no such " \
               "column.", details
    if op.startswith("modify_"):
        _, schema, table, column, _existing, old, new = diff
        details.update(schema=schema, table=table, column=column)
        name = f"{_qualified(schema, table)}.{column}"
        if op == "modify_type":
            old_text, new_text = _type(old), _type(new)
        elif op == "modify_nullable":
            old_text = "nullable" if old else "NOT NULL"
            new_text = "nullable" if new else "NOT NULL"
        elif op == "modify_default":
            old_text, new_text = _default(old), _default(new)
        elif op == "modify_comment":
            old_text = f"comment {old!r}" if old else "no comment"
            new_text = f"comment {new!r}" if new else "no comment"
        else:
            old_text, new_text = str(old), str(new)
        details.update(old=old_text, new=new_text)
        return f"Column {name} is {old_text} after the migrations, but {new_text} in the models.", details
    if op in ("add_index", "remove_index"):
        index = diff[1]
        table = index.table
        columns = _columns(index)
        details.update(schema=table.schema if table is not None else None,
                       table=table.name if table is not None else None, name=index.name, columns=columns,
                       unique=bool(index.unique))
        kind = "Unique index" if index.unique else "Index"
        where = in_models if op == "add_index" else in_database
        on = f" on {_qualified(details['schema'], details['table'])} ({', '.join(columns)})"
        return f"{kind} {index.name or '(unnamed)'}{on} {where}.", details
    if op in ("add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        constraint = diff[1]
        table = constraint.table
        columns = _columns(constraint)
        details.update(schema=table.schema, table=table.name, name=constraint.name, columns=columns)
        kind = _constraint_kind(constraint)
        target = ""
        if op.endswith("_fk"):
            details["references"] = _fk_target(constraint)
            target = f" → {details['references']}"
        where = in_models if op.startswith("add_") else in_database
        label = f" {constraint.name}" if constraint.name else ""
        return f"{kind}{label} on {_qualified(table.schema, table.name)} ({', '.join(columns)}){target} {where}.", \
            details
    if op in ("add_table_comment", "remove_table_comment"):
        table = diff[1]
        details.update(schema=table.schema, table=table.name, new=table.comment)
        return f"The comment of table {_qualified(table.schema, table.name)} differs from the models.", details
    details["diff"] = repr(diff)
    return f"The models and the database differ: {op}.", details


def _model_location(details: dict[str, Any], models: ModelIndex) -> Location | None:
    if details["op"] == "remove_table":
        return None  # the table is not in the models, so there is no line to point at
    column = details.get("column")
    if column and details["op"] != "remove_column":
        return models.column(details.get("table"), column)
    if details["op"].startswith("add_") and (details.get("name") or details.get("columns")):
        # an index or constraint: its own definition, else the column it covers (index=True, unique=True)
        columns = details.get("columns") or [None]
        return models.named(details.get("name")) or models.column(details.get("table"), columns[0])
    return models.table(details.get("table"))


def _body(code: str) -> str:
    """Alembic's rendered commands, without its banner comments, indented as a function body."""
    lines = [line for line in code.splitlines() if not line.strip().startswith("# ###")]
    body = textwrap.dedent("\n".join(lines)).strip("\n")
    return textwrap.indent(body, "    ") if body else "    pass"


# A call on a module path outside any string: sa.Integer(, sqlmodel.sql.sqltypes.AutoString(, app.types.Money(
_MODULE_CALL = re.compile(r"(?<![\w.'\"])(?P<path>[a-z_]\w*(?:\.[a-z_]\w*)*)\.[A-Za-z_]\w*\(")
_BOUND = {"op", "sa", "postgresql"}


def _imports_for(code: str) -> list[str]:
    """The imports the rendered code needs. Alembic writes a type from outside SQLAlchemy after its module's
    name (sqlmodel.sql.sqltypes.AutoString()) and leaves the import to the project's script.py.mako."""
    imports = ["from alembic import op", "import sqlalchemy as sa"]
    if re.search(r"(?<![\w.])postgresql\.", code):
        imports.append("from sqlalchemy.dialects import postgresql")
    # names the code binds itself (`with op.batch_alter_table("t") as batch_op:`) are variables, not modules
    bound = _BOUND | set(re.findall(r"\bas\s+([A-Za-z_]\w*)\s*:", code))
    modules = {match["path"] for match in _MODULE_CALL.finditer(code) if match["path"].split(".")[0] not in bound}
    imports.extend(f"import {module}" for module in sorted(modules))
    return imports


def suggested_migration(upgrade_code: str | None, downgrade_code: str | None) -> str | None:
    """The missing migration's code, ready to paste into a new revision file."""
    if not upgrade_code:
        return None
    header = "\n".join(_imports_for(upgrade_code + "\n" + (downgrade_code or "")))
    return f"{header}\n\n\ndef upgrade() -> None:\n{_body(upgrade_code)}\n\n\ndef downgrade() -> None:\n" \
        f"{_body(downgrade_code or '')}\n"


def _migration_location(details: dict[str, Any], scripts: list[MigrationScript]) -> Location | None:
    """For what the database has and the models lack, there is no model line: the migration that spells the
    object's name (the one that made it, as a rule) is where a reviewer looks."""
    op = str(details["op"])
    if not op.startswith("remove_"):
        return None
    table, name = details.get("table"), details.get("name")
    wanted = table if op == "remove_table" else details.get("column") if op == "remove_column" else name
    if not wanted:
        return None
    if op == "remove_table":  # the migration that creates it, before one that only spells the same word
        creates = re.compile(rf"""create_table\(\s*["']{re.escape(str(wanted))}["']""")
        for script in scripts:
            for number, text in enumerate(script.source.splitlines(), start=1):
                if creates.search(text):
                    return Location(script.path, number)
    for script in scripts:
        if table and op == "remove_column" and script.line_naming(str(table)) is None:
            continue
        line = script.line_naming(str(wanted))
        if line is not None:
            return Location(script.path, line)
    return None


def _model_table(comparison: Comparison, details: dict[str, Any]) -> Any:
    key = _qualified(details.get("schema"), details.get("table"))
    return next((metadata.tables[key] for metadata in comparison.metadata if key in metadata.tables), None)


def _metadata_line(env_py: Path | None) -> Location | None:
    """Where env.py hands the models to Alembic (its target_metadata), the project's own line for models that
    are defined outside it."""
    if env_py is None:
        return None
    try:
        lines = env_py.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    spelled = [number for number, text in enumerate(lines, start=1) if "target_metadata" in text]
    assigned = [number for number in spelled if re.match(r"\s*target_metadata\s*[:=]", lines[number - 1])]
    return Location(env_py, (assigned or spelled or [1])[0])


def check_models(comparison: Comparison, models: ModelIndex, root: Path,
                 scripts: list[MigrationScript] | None = None,
                 env_py: Path | None = None) -> tuple[list[Finding], str | None]:
    findings = []
    for diff in comparison.diffs:
        message, details = describe(diff)
        location = _model_location(details, models)
        if details["op"] != "remove_table" and location is None:
            # not in the project's source: a model of an installed package (a plugin), found through SQLAlchemy's
            # registry; say where it is, and point at the line of env.py that brings it into the comparison
            table = _model_table(comparison, details)
            source = mapped_class_source(table) if table is not None else None
            if source and is_inside(source[1].file, root):
                location = source[1]  # the project's, written in a way the source index does not read
            elif source:
                model = f"{source[0]} in {source[1].file}:{source[1].line}"
                message += f" (the model is defined outside the project: {model})"
                details["model_source"] = model
                location = _metadata_line(env_py)
        location = location or _migration_location(details, scripts or [])
        findings.append(MODEL_DRIFT.at(message, location, root, **details))
    return findings, suggested_migration(comparison.upgrade_code, comparison.downgrade_code)
