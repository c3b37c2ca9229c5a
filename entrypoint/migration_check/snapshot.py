"""A cheap, comparable picture of a database schema, read from PostgreSQL's catalogs.

Names and definitions are normalised by PostgreSQL itself (format_type, pg_get_constraintdef, pg_get_indexdef,
pg_get_viewdef), so equal schemas give equal snapshots. System schemas, the migration version table and the
schemas the caller leaves out (a preset's stand-ins) are not part of it. Used by the round trip, and by the
scheduled audit later.

Reading the whole schema after every step of a long history costs time in proportion to the schema, so the round
trip tracks the schema instead (SchemaTracker): event triggers note which objects each step's DDL touched, and
only those objects, and the ones whose definitions name them, are read again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

Row = tuple[str, str, str]  # (kind, name, definition)

# One row per object: (group, member, kind, name, definition). A group is what is read again as a whole when any
# of its members is touched: a relation with its columns, constraints, indexes and triggers, or a type, function,
# extension or schema on its own. Schemas to skip are filled in as literals, since the query must run through
# any of the project's drivers, whose parameter styles differ (hence also the doubled %).
_QUERY = """
WITH ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp_%%'
      AND nspname NOT LIKE 'pg_toast_temp_%%' AND nspname NOT IN ({skipped})
),
{targets}
rel AS (
    SELECT c.oid, c.relname, c.relkind, ns.nspname FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT (c.relname = {version_table} AND ns.nspname = {version_schema})
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {only_rel}
)
SELECT oid, oid, 'schema', nspname::text, ''::text FROM ns WHERE nspname <> 'public' AND {only_ns}
UNION ALL
SELECT oid, oid, CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN
       'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END,
       nspname || '.' || relname,
       CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(oid) ELSE '' END
FROM rel
UNION ALL
SELECT rel.oid, rel.oid, 'column', rel.nspname || '.' || rel.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
       || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' IDENTITY' ELSE '' END
FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid AND rel.relkind <> 'S'
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT rel.oid, con.oid, CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint'
       WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check constraint' WHEN 'x' THEN 'exclusion constraint'
       ELSE 'constraint' END,
       rel.nspname || '.' || rel.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN rel ON rel.oid = con.conrelid
UNION ALL
SELECT rel.oid, i.indexrelid, 'index', rel.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN rel ON rel.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT rel.oid, tg.oid, 'trigger', rel.nspname || '.' || rel.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
FROM pg_trigger tg JOIN rel ON rel.oid = tg.tgrelid WHERE NOT tg.tgisinternal
UNION ALL
SELECT t.oid, t.oid, CASE t.typtype WHEN 'e' THEN 'enum type' WHEN 'd' THEN 'domain' ELSE 'type' END,
       ns.nspname || '.' || t.typname,
       CASE WHEN t.typtype = 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                                       FROM pg_enum e WHERE e.enumtypid = t.oid)
            WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
WHERE (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND EXISTS (
    SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))) AND {only_type}
UNION ALL
SELECT p.oid, p.oid, 'function',
       ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(pg_get_functiondef(p.oid))
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND {only_proc} AND NOT EXISTS (
    SELECT 1 FROM pg_depend dep WHERE dep.objid = p.oid AND dep.deptype = 'e')
UNION ALL
SELECT x.oid, x.oid, 'extension', x.extname, '' FROM pg_extension x WHERE x.extname <> 'plpgsql' AND {only_ext}
"""

# The objects to read again: the touched ones, and those whose definitions show a touched one's name (a foreign
# key's referenced table, a column's enum type, a view's tables, a default's sequence), found through pg_depend.
_TARGETS = """
SELECT array_agg(DISTINCT target) INTO targets FROM (
    SELECT unnest(wanted)
    UNION
    SELECT CASE d.classid WHEN 'pg_class'::regclass THEN COALESCE(i.indrelid, d.objid)
                          WHEN 'pg_constraint'::regclass THEN NULLIF(con.conrelid, 0)
                          WHEN 'pg_rewrite'::regclass THEN rw.ev_class
                          WHEN 'pg_attrdef'::regclass THEN ad.adrelid
                          WHEN 'pg_trigger'::regclass THEN tg.tgrelid
                          WHEN 'pg_type'::regclass THEN d.objid END
    FROM pg_depend d
    LEFT JOIN pg_index i ON d.classid = 'pg_class'::regclass AND i.indexrelid = d.objid
    LEFT JOIN pg_constraint con ON d.classid = 'pg_constraint'::regclass AND con.oid = d.objid
    LEFT JOIN pg_rewrite rw ON d.classid = 'pg_rewrite'::regclass AND rw.oid = d.objid
    LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
    LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
    WHERE d.refclassid IN ('pg_class'::regclass, 'pg_type'::regclass, 'pg_proc'::regclass)
      AND d.refobjid = ANY(wanted)
) AS found(target) WHERE target IS NOT NULL;
"""

# The event triggers that note what each step touched. They run as their owner (the server's superuser), so a
# migration that switches roles still runs them, and they record the touched object's group: an index, a
# constraint, a default or a trigger stands for its table. Dropped objects are gone from the catalogs by then,
# so they are recorded as they are and looked up in the tracker's own map.
TRACE_SCHEMA = "migration_check_trace"
_TRACE_SETUP = f"""
CREATE SCHEMA {TRACE_SCHEMA};
CREATE UNLOGGED TABLE {TRACE_SCHEMA}.touched (object oid, catalog text, dropped boolean);
CREATE FUNCTION {TRACE_SCHEMA}.on_ddl() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO {TRACE_SCHEMA}.touched
    SELECT CASE classid
               WHEN 'pg_class'::regclass THEN COALESCE((SELECT indrelid FROM pg_index WHERE indexrelid = objid), objid)
               WHEN 'pg_constraint'::regclass THEN (SELECT COALESCE(NULLIF(conrelid, 0), contypid)
                                                    FROM pg_constraint WHERE oid = objid)
               WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_attrdef WHERE oid = objid)
               WHEN 'pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_trigger WHERE oid = objid)
               WHEN 'pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_rewrite WHERE oid = objid)
               WHEN 'pg_type'::regclass THEN COALESCE((SELECT NULLIF(typrelid, 0) FROM pg_type WHERE oid = objid),
                                                      objid)
               ELSE objid END,
           classid::regclass::text, false
    FROM pg_event_trigger_ddl_commands();
END $$;
CREATE FUNCTION {TRACE_SCHEMA}.on_drop() RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO {TRACE_SCHEMA}.touched SELECT objid, classid::regclass::text, true
    FROM pg_event_trigger_dropped_objects();
END $$;
CREATE EVENT TRIGGER migration_check_ddl ON ddl_command_end EXECUTE FUNCTION {TRACE_SCHEMA}.on_ddl();
CREATE EVENT TRIGGER migration_check_drop ON sql_drop EXECUTE FUNCTION {TRACE_SCHEMA}.on_drop();
"""
_TRACE_TRIGGERS = ("migration_check_ddl", "migration_check_drop")
_TRACE_TEARDOWN = f"""
DROP EVENT TRIGGER IF EXISTS migration_check_ddl;
DROP EVENT TRIGGER IF EXISTS migration_check_drop;
DROP SCHEMA IF EXISTS {TRACE_SCHEMA} CASCADE;
"""
# Touching one of these can change the names of many objects at once: read everything again.
_READ_ALL_AFTER = ("pg_namespace", "pg_extension")
_READ_ALL_ABOVE = 500  # touched groups in one step; beyond this one full read is cheaper
# One round trip per step: what the step touched (rows without a group: kind 'touched' or 'dropped', the object,
# its catalog), then the touched objects' groups as read_groups gives them. Nothing is read after a schema or an
# extension was touched, since the caller then reads everything.
_REFRESH_FUNCTION = f"""
CREATE FUNCTION {TRACE_SCHEMA}.refresh()
RETURNS TABLE (o_group oid, o_member oid, o_kind text, o_name text, o_definition text)
LANGUAGE plpgsql AS $body$
DECLARE objects oid[]; catalogs text[]; drops boolean[];
BEGIN
    WITH gone AS (DELETE FROM {TRACE_SCHEMA}.touched RETURNING object, catalog, dropped)
    SELECT array_agg(object), array_agg(catalog), array_agg(dropped) INTO objects, catalogs, drops FROM gone;
    IF objects IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT NULL::oid, u.o, CASE WHEN u.d THEN 'dropped' ELSE 'touched' END, u.c, ''::text
        FROM unnest(objects, catalogs, drops) AS u(o, c, d);
    IF catalogs && ARRAY[{", ".join(f"'{c}'" for c in _READ_ALL_AFTER)}] THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT * FROM {TRACE_SCHEMA}.read_groups(ARRAY(
        SELECT DISTINCT u.o FROM unnest(objects) AS u(o) WHERE u.o IS NOT NULL));
END $body$;
"""
_REFRESH = f"SELECT * FROM {TRACE_SCHEMA}.refresh()"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _execute(connection: Any, sql: str) -> list[Any]:
    """Through the project's own SQLAlchemy connection (sync, or an async one's run_sync side), or a psycopg
    connection of the tool's own."""
    execute = getattr(connection, "exec_driver_sql", None) or connection.execute
    result = execute(sql)
    returns_rows = getattr(result, "returns_rows", None)  # SQLAlchemy's result; psycopg's cursor has description
    if returns_rows is None:
        returns_rows = result.description is not None
    return list(result.fetchall()) if returns_rows else []


RELATION_KINDS = ("table", "view", "materialized view", "sequence", "foreign table")
CONSTRAINT_KINDS = ("primary key", "unique constraint", "foreign key", "check constraint", "exclusion constraint",
                    "constraint")
MEMBER_KINDS = ("column", "trigger", "index", *CONSTRAINT_KINDS)
_INDEX_TABLE = re.compile(r" ON (?:ONLY )?(?P<table>\S+) USING ")


def owner_of(row: Row) -> str | None:
    """The "schema.relation" a member (column, constraint, trigger, index) belongs to; None for the others."""
    kind, name, definition = row
    if kind == "index":
        match = _INDEX_TABLE.search(definition)
        return match["table"].replace('"', "") if match else None
    if kind in MEMBER_KINDS:
        schema, table, _member = name.split(".", 2)
        return f"{schema}.{table}"
    return None


def _is_not_null(row: Row) -> bool:
    """PostgreSQL 18 lists each NOT NULL as a constraint too; the column's definition already says it."""
    return row[0] == "constraint" and row[2].startswith("NOT NULL ")


def _plural(kind: str) -> str:
    return kind + ("es" if kind.endswith("x") else "s")


def _folded(prefix: str, rows: list[Row]) -> list[str]:
    """Lines for a message: a whole table says how many members it has instead of listing each of them (a view's
    columns are left out), and the whole relations come first, since they say the most."""
    counts: dict[str, dict[str, int]] = {name: {} for kind, name, _definition in rows if kind in RELATION_KINDS}
    shown = []
    for row in rows:
        owner = owner_of(row)
        if owner in counts:
            counts[owner][row[0]] = counts[owner].get(row[0], 0) + 1
        else:
            shown.append(row)

    def order(row: Row) -> tuple[int, str, str]:
        kind, name, _definition = row
        return (RELATION_KINDS.index(kind) if kind in RELATION_KINDS else len(RELATION_KINDS), kind, name)

    lines = []
    for kind, name, definition in sorted(shown, key=order):
        if kind == "table" and counts[name]:
            definition = ", ".join(f"{count} {_plural(member) if count > 1 else member}"
                                   for member, count in counts[name].items())
        elif kind in ("view", "materialized view"):
            definition = ""
        lines.append(f"{prefix}: {kind} {name}" + (f" ({definition})" if definition else ""))
    return lines


@dataclass(frozen=True)
class Changes:
    """How a schema differs from the expected one, object by object, each list sorted by (kind, name)."""

    left_over: list[Row]
    missing: list[Row]
    changed: list[tuple[Row, Row]]  # (expected, found)

    def lines(self) -> list[str]:
        """One line per object, as the findings list them."""
        return ([f"left over: {kind} {name}" + (f" ({definition})" if definition else "")
                 for kind, name, definition in self.left_over]
                + [f"missing: {kind} {name}" + (f" ({definition})" if definition else "")
                   for kind, name, definition in self.missing]
                + [f"changed: {kind} {name}: {expected} → {found}"
                   for (kind, name, expected), (_kind, _name, found) in self.changed])

    def without_not_null(self) -> Changes:
        """The same without PostgreSQL 18's NOT NULL constraint rows, which the columns' definitions already say."""
        return Changes([row for row in self.left_over if not _is_not_null(row)],
                       [row for row in self.missing if not _is_not_null(row)],
                       [(expected, found) for expected, found in self.changed if not _is_not_null(expected)])

    def reversed(self) -> Changes:
        """The same differences seen from the other side: what was left over is missing, and so on."""
        return Changes(self.missing, self.left_over, [(found, expected) for expected, found in self.changed])

    def without(self, reported: set[Row]) -> Changes:
        """The same without objects already left over or missing in these rows (reported elsewhere)."""
        return Changes([row for row in self.left_over if row not in reported],
                       [row for row in self.missing if row not in reported], self.changed)

    def summary(self) -> list[str]:
        """The lines for a message: as lines(), but a whole table (or view) stands for its members, and NOT NULL
        constraints, which the columns say, are left out."""
        shown = self.without_not_null()
        return (_folded("left over", shown.left_over) + _folded("missing", shown.missing)
                + [f"changed: {kind} {name}: {expected} → {found}"
                   for (kind, name, expected), (_kind, _name, found) in shown.changed])


@dataclass(frozen=True)
class Snapshot:
    objects: frozenset[Row]

    def changes(self, expected: Snapshot) -> Changes:
        mine = {(kind, name): definition for kind, name, definition in self.objects}
        theirs = {(kind, name): definition for kind, name, definition in expected.objects}
        return Changes([(*key, mine[key]) for key in sorted(mine.keys() - theirs.keys())],
                       [(*key, theirs[key]) for key in sorted(theirs.keys() - mine.keys())],
                       [((*key, theirs[key]), (*key, mine[key])) for key in sorted(mine.keys() & theirs.keys())
                        if mine[key] != theirs[key]])

    def difference(self, expected: Snapshot) -> list[str]:
        """What differs from `expected`, one line per object: left over, missing, or changed."""
        return self.changes(expected).lines()


class SchemaQuery:
    """The snapshot query for one database: the whole schema, or only some groups of objects."""

    def __init__(self, skipped_schemas: Iterable[str], version_table: str = "alembic_version",
                 version_schema: str | None = None) -> None:
        self._values = {
            "skipped": ", ".join(_literal(s) for s in (*skipped_schemas, TRACE_SCHEMA)),
            "version_table": _literal(version_table),
            "version_schema": _literal(version_schema) if version_schema else "current_schema()",
        }

    def everything(self) -> str:
        return _QUERY.format(**self._values, targets="", only_rel="true", only_ns="true", only_type="true",
                             only_proc="true", only_ext="true")

    def groups_function(self) -> str:
        """A function that reads some groups: planning the query costs more than running it, and a PL/pgSQL
        function keeps its plan for the session, where the same query sent as text would be planned each step."""
        only = "{}.oid = ANY(targets)"
        body = _QUERY.format(**self._values, targets="", only_rel=only.format("c"),
                             only_ns="false", only_type=only.format("t"), only_proc=only.format("p"),
                             only_ext="false")
        return f"""
CREATE FUNCTION {TRACE_SCHEMA}.read_groups(wanted oid[])
RETURNS TABLE (o_group oid, o_member oid, o_kind text, o_name text, o_definition text)
LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET enable_hashjoin = off
SET enable_mergejoin = off AS $body$
DECLARE targets oid[];
BEGIN
{_TARGETS}
    RETURN QUERY SELECT q.g::oid, q.m::oid, q.k::text, q.n::text, q.d::text FROM ({body}) AS q(g, m, k, n, d);
END $body$;
GRANT USAGE ON SCHEMA {TRACE_SCHEMA} TO PUBLIC;
"""

    @staticmethod
    def groups(oids: Iterable[int]) -> str:
        return f"SELECT * FROM {TRACE_SCHEMA}.read_groups('{{{','.join(str(int(oid)) for oid in oids)}}}'::oid[])"


def take(connection: Any, query: SchemaQuery) -> Snapshot:
    """The whole schema, in one query."""
    return Snapshot(frozenset((str(kind), str(name), str(definition or ""))
                              for _group, _member, kind, name, definition in _execute(connection, query.everything())))


State = dict[int, frozenset[Row]]  # group → its rows


class SchemaTracker:
    """Keeps a snapshot up to date step by step, reading again only what each step's DDL touched.

    Where event triggers cannot be created (not a superuser on a given database), every refresh reads the whole
    schema, with the same results.
    """

    def __init__(self, query: SchemaQuery) -> None:
        self.query = query
        self.state: State = {}
        self._group_of: dict[int, int] = {}  # member (index, constraint, trigger) → group, for dropped members
        self.traced = False

    def start(self, connection: Any, can_trace: bool) -> None:
        """Read the whole schema and, where allowed, start tracing DDL (connection: autocommit, the tool's own)."""
        if can_trace:
            _execute(connection, _TRACE_SETUP + self.query.groups_function() + _REFRESH_FUNCTION
                     + f"DELETE FROM {TRACE_SCHEMA}.touched;")
            self.traced = True
        self._read_all(connection)

    def pause(self, connection: Any) -> None:
        """Stop noting DDL until resume(): for steps after which the whole schema is read anyway."""
        if self.traced:
            for trigger in _TRACE_TRIGGERS:
                _execute(connection, f"ALTER EVENT TRIGGER {trigger} DISABLE")

    def resume(self, connection: Any) -> None:
        """Note DDL again, and read the whole schema (what ran while paused was not noted)."""
        if self.traced:
            for trigger in _TRACE_TRIGGERS:
                _execute(connection, f"ALTER EVENT TRIGGER {trigger} ENABLE")
        self._read_all(connection)

    def stop(self, connection: Any) -> None:
        if self.traced:
            _execute(connection, _TRACE_TEARDOWN)
            self.traced = False

    def refresh(self, connection: Any, everything: bool = False) -> frozenset[int]:
        """Bring the state up to date after a step; returns the groups that were read again."""
        if not self.traced:
            return self._read_all(connection)
        groups: set[int] = set()
        asked: set[int] = set()  # what the server read the groups of: every object the step touched
        rows = []
        for row in _execute(connection, _REFRESH):
            if row[0] is not None:
                rows.append(row)
                continue
            _group, oid, what, catalog, _definition = row
            if catalog in _READ_ALL_AFTER:
                everything = True
            if oid is None:
                continue
            asked.add(int(oid))
            group = self._group_of.get(int(oid)) if what == "dropped" else int(oid)
            if group is not None:
                groups.add(group)
        if everything or len(groups) > _READ_ALL_ABOVE:
            return self._read_all(connection)
        if not groups:
            return frozenset()
        read = self._store(rows)
        if groups - asked:
            # a dropped index or constraint stands for its table, which only this side knows: read it too
            read |= self._store(_execute(connection, self.query.groups(groups - asked)))
        for group in groups - read.keys():
            self.state.pop(group, None)  # dropped
        return frozenset(groups | read.keys())

    def view(self, state: State, groups: Iterable[int]) -> Snapshot:
        """The part of a (saved) state that covers these groups, for comparing with the same part of another."""
        rows: set[Row] = set()
        for group in groups:
            rows |= state.get(group, frozenset())
        return Snapshot(frozenset(rows))

    def _read_all(self, connection: Any) -> frozenset[int]:
        before = set(self.state)
        self.state = {}
        self._store(_execute(connection, self.query.everything()))
        return frozenset(before | self.state.keys())

    def _store(self, rows: list[Any]) -> dict[int, frozenset[Row]]:
        grouped: dict[int, set[Row]] = {}
        for group, member, kind, name, definition in rows:
            group, member = int(group), int(member)
            grouped.setdefault(group, set()).add((str(kind), str(name), str(definition or "")))
            self._group_of[member] = group
        read = {group: frozenset(rows) for group, rows in grouped.items()}
        self.state.update(read)
        return read
