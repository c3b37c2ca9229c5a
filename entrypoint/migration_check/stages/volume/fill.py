"""Filling every table with synthetic rows, generated from the live schema.

One set-based `INSERT ... SELECT ... FROM generate_series(1, N)` per table, parents before children: values are
made from each column's type, distinct wherever the type allows (so that a new unique index does not fail on
duplicates only the synthetic data has), a foreign key takes its parent's rows in turn (joined by
row number, so serial keys and rows the migrations inserted work alike), a text column that a CHECK limits to a
list takes values from the list. A table that cannot be filled is skipped, with the database's reason."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

_TABLES = """
SELECT c.oid, n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_'
  AND n.nspname <> ALL(%(excluded)s::text[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
"""
_COLUMNS = """
SELECT a.attrelid, a.attname, a.attnotnull, a.atthasdef, a.attidentity, a.attgenerated,
       format_type(a.atttypid, a.atttypmod) AS shown,
       coalesce(bt.typname, t.typname) AS base, t.typtype, coalesce(bt.typcategory, t.typcategory) AS category,
       coalesce(et.typname, '') AS element, coalesce(et.typtype, '') AS element_kind,
       format_type(coalesce(nullif(t.typelem, 0), nullif(bt.typelem, 0)), NULL) AS element_shown
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
LEFT JOIN pg_type et ON et.oid = coalesce(nullif(t.typelem, 0), nullif(bt.typelem, 0))
WHERE a.attrelid = ANY(%(tables)s) AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum
"""
# Columns in a unique index or a primary key: they get distinct values.
_UNIQUE_COLUMNS = """
SELECT i.indrelid, a.attname
FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
WHERE i.indisunique AND i.indrelid = ANY(%(tables)s)
"""
_FOREIGN_KEYS = """
SELECT c.conrelid, c.confrelid,
       ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.num ORDER BY k.pos)::text[],
       ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(num, pos)
             JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.num ORDER BY k.pos)::text[]
FROM pg_constraint c WHERE c.contype = 'f' AND c.conrelid = ANY(%(tables)s)
"""
_CHECKS = """
SELECT conrelid, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'c' AND conrelid = ANY(%(tables)s)
"""
# status IN ('a', 'b'), as PostgreSQL shows it: ((status)::text = ANY ((ARRAY['a'::character varying, ...])::text[]))
_IN_LIST = re.compile(r"\(+\"?(?P<column>[^\s\"()]+)\"?\)?(?:::[\w ]+)?\s*=\s*ANY\s*\(+ARRAY\[(?P<items>[^\]]*)\]")
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


@dataclass
class Column:
    name: str
    not_null: bool
    has_default: bool
    identity: bool
    generated: bool
    shown: str  # format_type: the type as SQL names it
    base: str
    kind: str  # typtype: b base, e enum, d domain...
    category: str
    element: str
    element_kind: str
    element_shown: str | None


@dataclass
class Table:
    oid: int
    schema: str
    name: str
    columns: list[Column] = field(default_factory=list)
    unique: set[str] = field(default_factory=set)
    # (parent oid, our columns, its columns)
    foreign_keys: list[tuple[int, list[str], list[str]]] = field(default_factory=list)
    choices: dict[str, list[str]] = field(default_factory=dict)  # column -> values a CHECK allows

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def identifier(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)


@dataclass
class Filled:
    """What the fill did: rows per table (by "schema.table"), tables skipped and why, the time it took."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def as_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "skipped": self.skipped, "seconds": round(self.seconds, 3),
                "rows_per_second": round(self.total_rows / self.seconds) if self.seconds else None}


class CannotFill(Exception):
    """A column this module cannot make values for."""


def read_tables(connection: psycopg.Connection, excluded: tuple[str, ...]) -> list[Table]:
    tables = {row[0]: Table(row[0], row[1], row[2])
              for row in connection.execute(_TABLES, {"excluded": list(excluded)}).fetchall()}
    oids = list(tables)
    for row in connection.execute(_COLUMNS, {"tables": oids}).fetchall():
        tables[row[0]].columns.append(Column(row[1], row[2], row[3], bool(row[4]), bool(row[5]), *row[6:]))
    for relid, column in connection.execute(_UNIQUE_COLUMNS, {"tables": oids}).fetchall():
        tables[relid].unique.add(column)
    for child, parent, columns, referred in connection.execute(_FOREIGN_KEYS, {"tables": oids}).fetchall():
        tables[child].foreign_keys.append((parent, list(columns), list(referred)))
    for relid, definition in connection.execute(_CHECKS, {"tables": oids}).fetchall():
        match = _IN_LIST.search(definition)
        if match and " OR " not in definition and " AND " not in definition:
            values = [value.replace("''", "'") for value in _LITERAL.findall(match["items"])]
            if values:
                tables[relid].choices[match["column"]] = values
    return list(tables.values())


def fill_order(tables: list[Table]) -> list[Table]:
    """Parents before children; a cycle is broken where the order meets it (its nullable keys get NULL)."""
    by_oid = {table.oid: table for table in tables}
    ordered: list[Table] = []
    state: dict[int, int] = {}  # 1: being visited, 2: done

    def visit(table: Table) -> None:
        if state.get(table.oid):
            return
        state[table.oid] = 1
        for parent, _columns, _referred in table.foreign_keys:
            if parent in by_oid and parent != table.oid:
                visit(by_oid[parent])
        state[table.oid] = 2
        ordered.append(table)

    for table in tables:
        visit(table)
    return ordered


def _value(column: Column, table: Table, distinct: bool, count: int) -> sql.Composable | None:
    """An SQL expression of g (1..count) for the column, or None to leave it to its default or NULL."""
    if column.name in table.choices:
        items = sql.SQL(", ").join(sql.Literal(value) for value in table.choices[column.name])
        return sql.SQL("(ARRAY[{}])[1 + g % {}]::{}").format(items, len(table.choices[column.name]),
                                                           sql.SQL(column.shown))
    if column.category == "A":
        element = _scalar(column.element, column.element_kind, column.element_shown or "text", False, count)
        if element is None:
            return None
        return sql.SQL("ARRAY[{}]::{}").format(element, sql.SQL(column.shown))
    return _scalar(column.base, column.kind, column.shown, distinct, count)


def _scalar(base: str, kind: str, shown: str, distinct: bool, count: int) -> sql.Composable | None:
    cast = sql.SQL(shown)
    number = sql.SQL("g") if distinct else sql.SQL("(1 + g % 97)")
    if kind == "e":
        # scalar subqueries: the values are read once per statement, not twice per row
        return sql.SQL("(SELECT enum_range(NULL::{0}))[1 + g % (SELECT cardinality(enum_range(NULL::{0})))]"
                       ).format(cast)
    if base == "int2":
        return sql.SQL("({} % 32767)::int2").format(number) if distinct and count > 32767 else \
            sql.SQL("{}::int2").format(number)
    if base in ("int4", "int8", "numeric", "float4", "float8", "oid"):
        return sql.SQL("{}::{}").format(number, cast)
    if base in ("text", "varchar", "bpchar", "citext", "name"):
        return sql.SQL("('v' || {})::{}").format(number, cast)
    if base == "bool":
        return sql.SQL("(g % 2 = 0)")
    if base == "uuid":
        return sql.SQL("md5(g::text || {})::uuid").format(sql.Literal(shown))
    if base in ("timestamp", "timestamptz"):
        return sql.SQL("(timestamp '2024-01-01' + g * interval '1 second')::{}").format(cast)
    if base == "date":
        return sql.SQL("(date '2000-01-01' + g::int)::{}").format(cast)
    if base in ("time", "timetz"):
        return sql.SQL("(time '00:00' + (g % 86400) * interval '1 second')::{}").format(cast)
    if base == "interval":
        return sql.SQL("(g * interval '1 second')")
    if base in ("json", "jsonb"):
        return sql.SQL("json_build_object('n', g)::{}").format(cast)
    if base == "bytea":
        return sql.SQL("convert_to('v' || g, 'UTF8')")
    if base in ("inet", "cidr"):
        return sql.SQL("('10.0.0.0'::inet + g)::{}").format(cast)
    if base == "money":
        return sql.SQL("(g % 1000)::numeric::money")
    return None


def insert_statement(table: Table, count: int, parents: dict[int, Table], parent_rows: dict[int, int]) \
        -> sql.Composable:
    """INSERT ... SELECT for `count` rows of the table. Raises CannotFill where a NOT NULL column cannot be
    given a value."""
    targets: list[sql.Composable] = []
    values: list[sql.Composable] = []
    joins: list[sql.Composable] = []
    keyed: set[str] = set()
    for position, (parent_oid, columns, referred) in enumerate(table.foreign_keys):
        if any(column in keyed for column in columns):
            continue
        rows = parent_rows.get(parent_oid, 0)
        parent = parents.get(parent_oid)
        if parent is None or parent_oid == table.oid or rows == 0:
            continue  # NULL where allowed; a NOT NULL one is caught below
        alias = sql.Identifier(f"p{position}")
        keyed.update(columns)
        targets += [sql.Identifier(column) for column in columns]
        values += [sql.SQL("{}.{}").format(alias, sql.Identifier(column)) for column in referred]
        referred_list = sql.SQL(", ").join(sql.Identifier(column) for column in referred)
        joins.append(sql.SQL(" JOIN (SELECT {0}, row_number() OVER () AS rn FROM {1} WHERE {2}) {3} "
                             "ON {3}.rn = 1 + (g - 1) % {4}").format(
            referred_list, parent.identifier(),
            sql.SQL(" AND ").join(sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in referred),
            alias, sql.Literal(rows)))
    for column in table.columns:
        if column.name in keyed or column.generated or column.identity:
            continue
        # distinct values in every column that can have them, key or not: a migration that adds a unique index or
        # a primary key must not fail on duplicates that only the synthetic data has
        distinct = True
        if column.has_default:
            continue  # a serial key, now(), a constant: the column's own default gives it a value
        value = _value(column, table, distinct, count)
        if value is None:
            if column.not_null and not column.has_default:
                raise CannotFill(f"no value can be made for column {column.name} of type {column.shown}")
            continue
        targets.append(sql.Identifier(column.name))
        values.append(value)
    for column in table.columns:
        if column.not_null and not column.has_default and not column.generated and not column.identity \
                and column.name not in keyed and any(column.name in fk[1] for fk in table.foreign_keys):
            parent = next(fk[0] for fk in table.foreign_keys if column.name in fk[1])
            shown = parents[parent].qualified if parent in parents else "its parent"
            raise CannotFill(f"column {column.name} must refer to a row of {shown}, which has none")
    if not targets:
        return sql.SQL("INSERT INTO {} SELECT FROM generate_series(1, {}) g").format(table.identifier(),
                                                                                  sql.Literal(count))
    return sql.SQL("INSERT INTO {} ({}) SELECT {} FROM generate_series(1, {}) g{}").format(
        table.identifier(), sql.SQL(", ").join(targets), sql.SQL(", ").join(values), sql.Literal(count),
        sql.SQL("").join(joins))


SUPPORT_ROWS = 1000  # rows of a table filled only so that its children's foreign keys have rows to refer to


def around(tables: list[Table], named: set[str]) -> tuple[list[Table], set[int]]:
    """The tables a change names (by name or "schema.name") and the tables that refer to them (a new constraint
    or key type checks or rewrites those too), at full size; and the tables they refer to, all the way up, as
    support (a NOT NULL foreign key takes its parent's rows). Returns the tables and the support tables' oids."""
    by_oid = {table.oid: table for table in tables}
    named_oids = {table.oid for table in tables if table.name in named or table.qualified in named}
    full = named_oids | {table.oid for table in tables
                         if any(parent in named_oids for parent, _columns, _referred in table.foreign_keys)}
    chosen = set(full)
    waiting = list(full)
    while waiting:
        for parent, _columns, _referred in by_oid[waiting.pop()].foreign_keys:
            if parent in by_oid and parent not in chosen:
                chosen.add(parent)
                waiting.append(parent)
    return [table for table in tables if table.oid in chosen], chosen - full


def fill(connection: psycopg.Connection, excluded: tuple[str, ...], rows_for: Any,
         skip: tuple[str, ...] = (), named: set[str] | None = None) -> Filled:
    """Fill every table (but `skip`, by "schema.table" or name), or with `named` the tables around those
    (around(): the support tables get at most SUPPORT_ROWS), with rows_for(qualified name) rows, in one
    transaction, then ANALYZE. The connection is in autocommit mode."""
    began = time.perf_counter()
    filled = Filled()
    found = read_tables(connection, excluded)
    support: set[int] = set()
    if named is not None:
        found, support = around(found, named)
    tables = fill_order(found)
    by_oid = {table.oid: table for table in tables}
    existing: dict[int, int] = {}
    with connection.transaction():
        try:  # user triggers (audit logs, counters) would run once per row: not what is measured here
            with connection.transaction():
                connection.execute("SET LOCAL session_replication_role = replica")
        except psycopg.Error:
            pass  # not a superuser (--database-url): triggers run, which is only slower
        for table in tables:
            if table.qualified in skip or table.name in skip:
                continue
            count = rows_for(table.qualified)
            if table.oid in support:
                count = min(count, SUPPORT_ROWS)
            present = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(table.identifier())).fetchone()
            existing[table.oid] = int(present[0]) if present else 0
            if count <= 0:
                continue
            try:
                statement = insert_statement(table, count, by_oid, existing)
            except CannotFill as exc:
                filled.skipped[table.qualified] = str(exc)
                continue
            try:
                with connection.transaction():
                    cursor = connection.execute(statement)
                filled.rows[table.qualified] = cursor.rowcount
                existing[table.oid] += cursor.rowcount
            except psycopg.Error as exc:
                message = (exc.diag.message_primary or str(exc)).splitlines()[0]
                filled.skipped[table.qualified] = f"the insert failed: {message}"
    connection.execute("ANALYZE")
    filled.seconds = time.perf_counter() - began
    return filled
