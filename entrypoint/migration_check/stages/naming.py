"""Stage: names and foreign keys.

Reads three things after the migrations ran: the models' MetaData (conventions, unnamed constraints, long names,
foreign-key cycles), the migrated database's catalog (names against the convention, unindexed foreign keys) and
the names migration files pass to Alembic's operations (long names).
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import (
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Sequence,
    Table,
    UniqueConstraint,
)
from sqlalchemy.sql.naming import conv

from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.locate import Location, ModelIndex
from migration_check.rules import (
    FK_CYCLE_WITHOUT_USE_ALTER,
    FK_WITHOUT_INDEX,
    IDENTIFIER_TOO_LONG,
    MISSING_NAMING_CONVENTION,
    NAMING_CONVENTION,
    UNNAMED_CONSTRAINT,
)

MAX_NAME_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1
KIND_OF_CLASS: dict[type, str] = {
    Index: "ix",
    PrimaryKeyConstraint: "pk",
    CheckConstraint: "ck",
    UniqueConstraint: "uq",
    ForeignKeyConstraint: "fk",
}
KIND_WORDS = {"ix": "Index", "uq": "Unique constraint", "ck": "Check constraint", "fk": "Foreign key",
              "pk": "Primary key"}
STANDARD_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLALCHEMY_DEFAULT_CONVENTION = {"ix": "ix_%(column_0_label)s"}
_TOKEN = re.compile(r"%\((\w+)\)s|%%")
_COLUMN_TOKEN = re.compile(r"(referred_)?column_(\d+)(_N|N)?_(name|label|key)")

def name_bytes(name: str) -> int:
    return len(name.encode("utf-8"))


def clipped(name: str) -> str:
    """The name PostgreSQL stores: cut to 63 bytes, at a character boundary."""
    return name.encode("utf-8")[:MAX_NAME_BYTES].decode("utf-8", errors="ignore")


def sqlalchemy_cut(name: str) -> str:
    """What SQLAlchemy sends for a convention-made name (or one in op.f()): over 63 characters, it keeps 55 and
    adds a hash, counting characters, not bytes."""
    if len(name) <= MAX_NAME_BYTES:
        return name
    return name[: MAX_NAME_BYTES - 8] + "_" + hashlib.md5(name.encode("utf-8")).hexdigest()[-4:]


def convention_for(convention: Mapping[Any, Any], item_class: type) -> Any:
    """The convention entry SQLAlchemy uses for this kind of item: keyed by "ix"..."pk" or by the class."""
    for super_class in item_class.__mro__:
        short = KIND_OF_CLASS.get(super_class)
        if short is not None and short in convention:
            return convention[short]
        if super_class in convention:
            return convention[super_class]
    return None


def convention_code(convention: Mapping[Any, Any]) -> str:
    """A MetaData(...) with the project's own entries kept and the standard ones added, on one line."""
    merged = {key: value for key, value in convention.items() if isinstance(key, str) and isinstance(value, str)}
    for kind, pattern in STANDARD_CONVENTION.items():
        if convention_for(convention, _CLASS_OF_KIND[kind]) is None:
            merged[kind] = pattern
    entries = ", ".join(f'"{key}": "{value}"' for key, value in merged.items())
    return f"MetaData(naming_convention={{{entries}}})"


_CLASS_OF_KIND = {kind: cls for cls, kind in KIND_OF_CLASS.items()}


def _qualified(schema: str | None, table: str) -> str:
    return f"{schema}.{table}" if schema else table


def _has_deterministic_name(item: Any) -> bool:
    name = item.name
    # a deferred convention name for a check constraint that needs its own name, and has none, is "_unnamed_"
    return isinstance(name, str) and type(name).__name__ != "_defer_none_name"


def _column_names(item: Any) -> list[str]:
    if isinstance(item, ForeignKeyConstraint):
        return [element.parent.name for element in item.elements if element.parent is not None]
    try:
        return [column.name for column in item.columns]
    except AttributeError:
        return []


# --- the models --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelTables:
    """The tables of target_metadata that the check covers (the excluded schemas left out)."""

    metadata: tuple[MetaData, ...]
    tables: tuple[Table, ...]

    @classmethod
    def of(cls, metadata: Iterable[MetaData], excluded_schemas: tuple[str, ...]) -> ModelTables:
        metadata = tuple(metadata)
        tables = tuple(table for each in metadata for table in each.tables.values()
                       if table.schema not in excluded_schemas)
        return cls(metadata, tables)

    def items(self, table: Table) -> Iterator[tuple[str, Any]]:
        """Each constraint and index of a table, with its kind: ix, uq, ck, fk, pk."""
        for constraint in sorted(table.constraints, key=lambda c: (type(c).__name__, str(c.name), id(c))):
            kind = next((k for cls, k in KIND_OF_CLASS.items() if isinstance(constraint, cls)), None)
            if kind is None or (kind == "pk" and not constraint.columns):
                continue
            yield kind, constraint
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            yield "ix", index


def _location_of(item: Any, table: Table, models: ModelIndex) -> Location | None:
    if isinstance(getattr(item, "name", None), str):
        found = models.named(item.name)
        if found:
            return found
    columns = _column_names(item)
    if len(columns) == 1:
        return models.column(table.name, columns[0])
    return models.table_arguments(table.name)


def check_conventions(tables: ModelTables, models: ModelIndex, root: Path) -> list[Finding]:
    findings = []
    for metadata in tables.metadata:
        if not any(t.metadata is metadata for t in tables.tables):
            continue
        convention = metadata.naming_convention
        missing = [kind for kind, cls in _CLASS_OF_KIND.items() if convention_for(convention, cls) is None]
        if not missing:
            continue
        location = models.metadata_calls[0] if len(tables.metadata) == 1 and models.metadata_calls else \
            models.table(next(t.name for t in tables.tables if t.metadata is metadata))
        findings.append(MISSING_NAMING_CONVENTION.at(
            f"The models' MetaData has no naming convention for {', '.join(missing)}: constraints of "
            f"{'that kind' if len(missing) == 1 else 'those kinds'} get names PostgreSQL makes up. Use "
            f"{convention_code(convention)}",
            location, root, missing=missing, code=convention_code(convention),
        ))
    return findings


def check_unnamed(tables: ModelTables, models: ModelIndex, root: Path,
                  configured: Mapping[str, str] | None = None) -> list[Finding]:
    """One finding per MetaData, at its first unnamed constraint or index, with the count and the whole list:
    without a convention for a kind, every constraint of that kind is unnamed, and one line per constraint would
    drown the report. Primary keys are left out: PostgreSQL names them <table>_pkey, which a downgrade can spell;
    unless the settings file gives a `pk` naming pattern, which says that the team wants them named."""
    with_primary_keys = "pk" in (configured or {})
    findings = []
    for metadata in tables.metadata:
        unnamed = [(table, kind, item) for table in tables.tables if table.metadata is metadata
                   for kind, item in tables.items(table)
                   if (kind != "pk" or with_primary_keys) and not _has_deterministic_name(item)]
        if not unnamed:
            continue
        listed = [_described(kind, table, item) for table, kind, item in unnamed]
        kinds = sorted({kind for _table, kind, _item in unnamed})
        lacking = [kind for kind in kinds if convention_for(metadata.naming_convention, _CLASS_OF_KIND[kind]) is None]
        why = (f"the naming convention has no {', '.join(repr(k) for k in lacking)} "
               f"{'entry' if len(lacking) == 1 else 'entries'}" if lacking
               else "the naming convention needs explicit names (%(constraint_name)s)")
        table, kind, item = unnamed[0]
        others = f" and {len(unnamed) - 1} more (listed in the details)" if len(unnamed) > 1 else ""
        findings.append(UNNAMED_CONSTRAINT.at(
            f"{listed[0]}{others} {'get' if others else 'gets'} a name PostgreSQL makes up: they have no name and "
            f"{why}." if others else f"{listed[0]} gets a name PostgreSQL makes up: it has no name and {why}.",
            _location_of(item, table, models), root,
            kind=kind, schema=table.schema, table=table.name, columns=_column_names(item), count=len(unnamed),
            unnamed=listed,
        ))
    return findings


def _described(kind: str, table: Table, item: Any) -> str:
    columns = _column_names(item)
    on = f" ({', '.join(columns)})" if columns else ""
    return f"{KIND_WORDS[kind]} on {_qualified(table.schema, table.name)}{on}"


def _model_names(tables: ModelTables) -> Iterator[tuple[str, str, str, Table | None, Any]]:
    """(namespace, what, name as sent to PostgreSQL, table, item) for every name the models create."""
    for table in tables.tables:
        schema = table.schema or ""
        yield f"relation {schema}", "table", table.name, table, table
        for column in table.columns:
            yield f"column {schema}.{table.name}", "column", column.name, table, column
            if isinstance(column.type, Enum) and column.type.name and column.type.native_enum:
                yield f"type {column.type.schema or schema}", "type", column.type.name, None, column
            if isinstance(column.default, Sequence):
                yield f"relation {column.default.schema or schema}", "sequence", column.default.name, table, column
        for kind, item in tables.items(table):
            if not _has_deterministic_name(item):
                continue
            name = sqlalchemy_cut(item.name) if isinstance(item.name, conv) else item.name
            # indexes, and the indexes behind primary keys and unique constraints, are relations of the schema
            namespace = f"relation {schema}" if kind in ("ix", "pk", "uq") else f"constraint {schema}.{table.name}"
            yield namespace, KIND_WORDS[kind].lower(), name, table, item


def check_long_names(tables: ModelTables, scripts: list[MigrationScript], models: ModelIndex,
                     root: Path) -> list[Finding]:
    findings: list[Finding] = []
    reported: set[str] = set()
    by_clip: dict[tuple[str, str], dict[str, tuple[str, Table | None, Any]]] = defaultdict(dict)
    for namespace, what, name, table, item in _model_names(tables):
        by_clip[(namespace, clipped(name))].setdefault(name, (what, table, item))
        if name_bytes(name) <= MAX_NAME_BYTES or name in reported:
            continue
        reported.add(name)
        location = _long_name_location(what, name, table, item, models)
        findings.append(IDENTIFIER_TOO_LONG.at(
            f"The {what} name {name} is {name_bytes(name)} bytes long; PostgreSQL keeps the first 63: "
            f"{clipped(name)}.",
            location, root, what=what, name=name, bytes=name_bytes(name), stored_as=clipped(name),
        ))
    for (namespace, short), names in by_clip.items():
        if len(names) < 2:
            continue
        (first, (what, table, item)), (second, _other) = list(names.items())[:2]
        findings.append(IDENTIFIER_TOO_LONG.at(
            f"The names {first} and {second} both become {short} in PostgreSQL, which keeps 63 bytes of a name.",
            _long_name_location(what, first, table, item, models), root,
            what=what, name=first, other=second, stored_as=short, namespace=namespace,
        ))
    return findings + check_long_names_in_migrations(scripts, root, reported)


def check_long_names_in_migrations(scripts: list[MigrationScript], root: Path,
                                   reported: set[str] | None = None) -> list[Finding]:
    """The over-long names the migration files spell, read from their source: this needs neither the models
    nor a migrated database, so it also runs when an upgrade failed (SQLAlchemy refuses such names)."""
    findings: list[Finding] = []
    reported = set() if reported is None else reported
    for script in scripts:
        for name, line in script.schema_names:
            if name_bytes(name) > MAX_NAME_BYTES and name not in reported:
                reported.add(name)
                findings.append(IDENTIFIER_TOO_LONG.at(
                    f"Migration {script.revision} uses the name {name}, {name_bytes(name)} bytes long; "
                    f"PostgreSQL keeps the first 63: {clipped(name)}.",
                    Location(script.path, line), root,
                    what="name", name=name, bytes=name_bytes(name), stored_as=clipped(name),
                ))
    return findings


def _long_name_location(what: str, name: str, table: Table | None, item: Any, models: ModelIndex) -> Location | None:
    if table is None:
        return models.named(name)
    if what == "table":
        return models.table(table.name)
    if what in ("column", "type", "sequence"):
        return models.column(table.name, item.name)
    return _location_of(item, table, models)


def _referred_table(fk: ForeignKeyConstraint) -> str | None:
    try:
        return str(fk.referred_table.fullname)
    except Exception:  # the referred table is not in the metadata: it cannot be part of a cycle
        return None


def check_fk_cycles(tables: ModelTables, models: ModelIndex, root: Path) -> list[Finding]:
    """Cycles in the graph of foreign keys that no use_alter=True (with a name) breaks."""
    edges: dict[str, dict[str, ForeignKeyConstraint]] = defaultdict(dict)
    by_name = {table.fullname: table for table in tables.tables}
    for table in tables.tables:
        for fk in table.foreign_key_constraints:
            target = _referred_table(fk)
            if target is None or target == table.fullname or target not in by_name:
                continue  # a table that refers to itself is created and dropped in one statement
            if fk.use_alter and _has_deterministic_name(fk):
                continue
            edges[table.fullname].setdefault(target, fk)
    findings = []
    for component in _cycles(list(by_name), edges):
        ordered = sorted(component)
        first = ordered[0]
        fk = next(fk for target, fk in edges[first].items() if target in component)
        findings.append(FK_CYCLE_WITHOUT_USE_ALTER.at(
            f"The foreign keys of {', '.join(ordered)} form a cycle, and none of them has use_alter=True with a "
            f"name, so no table can be created or dropped first.",
            _location_of(fk, by_name[first], models), root, tables=ordered,
        ))
    return findings


def _cycles(nodes: list[str], edges: Mapping[str, Mapping[str, Any]]) -> list[set[str]]:
    """The strongly connected components with more than one table (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(edges.get(start, {})))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


# --- the migrated database ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NamedObject:
    """A constraint or index in the migrated database."""

    kind: str  # ix, uq, ck, fk, pk
    schema: str
    table: str
    name: str
    columns: tuple[str | None, ...]  # None: an expression
    referred_table: str | None = None
    referred_columns: tuple[str, ...] = ()
    backs_constraint: bool = False  # the index of a primary key or unique constraint


_CATALOG = """
SELECT n.nspname, t.relname, c.conname, c.contype::text,
       ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.pos),
       r.relname,
       ARRAY(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.pos),
       false
  FROM pg_constraint c
  JOIN pg_class t ON t.oid = c.conrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
  LEFT JOIN pg_class r ON r.oid = c.confrelid
 WHERE c.contype IN ('p', 'u', 'f', 'c') AND n.nspname = ANY(%(schemas)s)
UNION ALL
SELECT n.nspname, t.relname, i.relname, 'i',
       ARRAY(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(num, pos)
             LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num
             WHERE k.pos <= x.indnkeyatts ORDER BY k.pos),
       NULL, NULL,
       EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))
  FROM pg_index x
  JOIN pg_class i ON i.oid = x.indexrelid
  JOIN pg_class t ON t.oid = x.indrelid
  JOIN pg_namespace n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(%(schemas)s)
"""
_KIND_OF_CONTYPE = {"p": "pk", "u": "uq", "f": "fk", "c": "ck", "i": "ix"}


def read_named_objects(connection: psycopg.Connection, schemas: list[str]) -> list[NamedObject]:
    rows = connection.execute(_CATALOG, {"schemas": schemas}).fetchall()
    return [
        NamedObject(_KIND_OF_CONTYPE[contype], schema, table, name, tuple(columns), referred,
                    tuple(referred_columns or ()), backs)
        for schema, table, name, contype, columns, referred, referred_columns, backs in rows
    ]


@dataclass(frozen=True)
class ExpectedName:
    matcher: re.Pattern[str]  # a %(constraint_name)s matches any text; a long name, either way it is cut
    shown: str  # for people: <name> where the constraint's own name goes


def expected_name(pattern: str, obj: NamedObject, table: Table) -> ExpectedName | None:
    """What the pattern makes of this object, or None where it cannot be rendered from the catalog alone."""
    parts: list[str] = []
    position = 0
    rendered = ""
    wildcard = False
    for match in _TOKEN.finditer(pattern):
        parts.append(re.escape(pattern[position:match.start()]))
        rendered += pattern[position:match.start()]
        position = match.end()
        token = match.group(1)
        if token is None:  # %%
            parts.append("%")
            rendered += "%"
            continue
        if token == "constraint_name":
            parts.append(".+")
            rendered += "<name>"
            wildcard = True
            continue
        value = _token_value(token, obj, table)
        if value is None:
            return None
        parts.append(re.escape(value))
        rendered += value
    parts.append(re.escape(pattern[position:]))
    rendered += pattern[position:]
    if wildcard:
        return ExpectedName(re.compile("".join(parts)), rendered)
    # the name as SQLAlchemy sends it, or as PostgreSQL cuts a long name that came from raw SQL
    sent = sqlalchemy_cut(rendered)
    return ExpectedName(re.compile(f"{re.escape(sent)}|{re.escape(clipped(rendered))}"), sent)


def _token_value(token: str, obj: NamedObject, table: Table) -> str | None:
    if token == "table_name":
        return obj.table
    if token == "referred_table_name":
        return obj.referred_table
    match = _COLUMN_TOKEN.fullmatch(token)
    if match is None or (obj.kind == "ck"):
        return None  # a custom token, or a check constraint, whose columns SQLAlchemy does not know
    referred, number, multiples, attribute = match.groups()
    if referred and attribute != "name":
        return None
    columns = obj.referred_columns if referred else obj.columns
    if multiples:
        picked: Iterable[str | None] = columns
    else:
        position = int(number)
        if position >= len(columns):
            return ""  # as SQLAlchemy renders a column the item does not have
        picked = [columns[position]]
    values = []
    for column in picked:
        if column is None:
            return None  # an expression in an index
        if attribute == "name" or referred:
            values.append(column)
        elif attribute == "key":  # the attribute name in the model, where it differs from the column's
            values.append(next((c.key for c in table.columns if c.name == column), column))
        else:  # label: schema_table_column, the schema only where the model names it
            values.append("_".join(part for part in (table.schema and table.schema.replace(".", "_"),
                                                        obj.table, column) if part))
    return ("_" if multiples == "_N" else "").join(values)


def _patterns(metadata: MetaData, configured: Mapping[str, str]) -> dict[str, str]:
    """The patterns to check the names of one MetaData's tables with: the configured ones win. The MetaData's
    own count only when the project set a convention (SQLAlchemy's default alone says nothing)."""
    convention = metadata.naming_convention
    own: dict[str, str] = {}
    if dict(convention) != SQLALCHEMY_DEFAULT_CONVENTION:
        for kind, cls in _CLASS_OF_KIND.items():
            pattern = convention_for(convention, cls)
            if isinstance(pattern, str):
                own[kind] = pattern
    return {**own, **configured}


def check_database_names(objects: list[NamedObject], tables: ModelTables, default_schema: str,
                         configured: Mapping[str, str], scripts: list[MigrationScript], models: ModelIndex,
                         root: Path) -> list[Finding]:
    by_key = {(table.schema or default_schema, table.name): table for table in tables.tables}
    patterns = {id(metadata): _patterns(metadata, configured) for metadata in tables.metadata}
    # a name the models spell out (not one the convention made) is the team's choice, not a slip
    chosen = {(table.schema or default_schema, table.name, item.name) for table in tables.tables
              for _kind, item in tables.items(table)
              if isinstance(item.name, str) and not isinstance(item.name, conv)}
    findings = []
    for obj in objects:
        table = by_key.get((obj.schema, obj.table))
        if table is None or (obj.kind == "ix" and obj.backs_constraint) or (obj.schema, obj.table, obj.name) in chosen:
            continue
        pattern = patterns[id(table.metadata)].get(obj.kind)
        if pattern is None:
            continue
        expected = expected_name(pattern, obj, table)
        if expected is None or expected.matcher.fullmatch(obj.name):
            continue
        shown = expected.shown
        columns = [c or "(expression)" for c in obj.columns]
        location = _where_named(obj.name, scripts) or models.named(obj.name) or \
            (models.column(obj.table, obj.columns[0]) if len(obj.columns) == 1 and obj.columns[0] else None) or \
            models.table(obj.table)
        findings.append(NAMING_CONVENTION.at(
            f"{KIND_WORDS[obj.kind]} {obj.name} on {_qualified(table.schema, obj.table)} ({', '.join(columns)}) "
            f"does not follow the naming convention {pattern!r}: expected {shown}.",
            location, root, kind=obj.kind, schema=obj.schema, table=obj.table, name=obj.name, expected=shown,
            columns=columns,
        ))
    return findings


def _where_named(name: str, scripts: list[MigrationScript]) -> Location | None:
    """The first migration line that names the object."""
    for script in scripts:
        line = script.line_naming(name)
        if line is not None:
            return Location(script.path, line)
    return None


def check_unindexed_fks(objects: list[NamedObject], tables: ModelTables, default_schema: str,
                        models: ModelIndex, root: Path) -> list[Finding]:
    by_key = {(table.schema or default_schema, table.name): table for table in tables.tables}
    index_columns: dict[tuple[str, str], list[tuple[str | None, ...]]] = defaultdict(list)
    for obj in objects:
        if obj.kind == "ix":
            index_columns[(obj.schema, obj.table)].append(obj.columns)
    findings = []
    for obj in objects:
        table = by_key.get((obj.schema, obj.table))
        if obj.kind != "fk" or table is None:
            continue
        wanted = set(obj.columns)
        if any(set(columns[:len(wanted)]) == wanted for columns in index_columns[(obj.schema, obj.table)]):
            continue
        findings.append(FK_WITHOUT_INDEX.at(
            f"Foreign key {obj.name} on {_qualified(table.schema, obj.table)} ({', '.join(map(str, obj.columns))}) "
            f"has no index that starts with its columns.",
            models.column(obj.table, obj.columns[0]) if obj.columns else models.table(obj.table), root,
            schema=obj.schema, table=obj.table, name=obj.name, columns=list(obj.columns),
        ))
    return findings


def check_names(
    metadata: Iterable[MetaData],
    connection: psycopg.Connection,
    scripts: list[MigrationScript],
    excluded_schemas: tuple[str, ...],
    configured_patterns: Mapping[str, str],
    models: ModelIndex,
    root: Path,
    unindexed_fks: bool,
) -> list[Finding]:
    """All the naming and foreign-key rules; fk-without-index only where the configuration turns it on."""
    tables = ModelTables.of(metadata, excluded_schemas)
    default_schema = connection.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
    schemas = sorted({table.schema or default_schema for table in tables.tables})
    objects = read_named_objects(connection, schemas)
    findings = [
        *check_conventions(tables, models, root),
        *check_unnamed(tables, models, root, configured_patterns),
        *check_database_names(objects, tables, default_schema, configured_patterns, scripts, models, root),
        *check_long_names(tables, scripts, models, root),
        *check_fk_cycles(tables, models, root),
    ]
    if unindexed_fks:
        findings.extend(check_unindexed_fks(objects, tables, default_schema, models, root))
    return findings
