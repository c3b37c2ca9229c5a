"""A cheap, comparable picture of a database schema, from PostgreSQL's catalogs in one query.

Names and definitions are normalised by PostgreSQL itself (format_type, pg_get_constraintdef, pg_get_indexdef,
pg_get_viewdef), so equal schemas give equal snapshots. System schemas, the migration version table and the
schemas the caller leaves out (a preset's stand-ins) are not part of it. Used by the round trip, and by the
scheduled audit later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# One row per object: (kind, name, definition). Schemas to skip are filled into the query as literals, since
# the query must run through any of the project's drivers, whose parameter styles differ.
_QUERY = """
WITH ns AS (
    SELECT oid, nspname FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp_%%'
      AND nspname NOT LIKE 'pg_toast_temp_%%' AND nspname NOT IN ({skipped})
),
rel AS (
    SELECT c.oid, c.relname, c.relkind, ns.nspname FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE NOT (c.relname = {version_table} AND ns.nspname = {version_schema})
)
SELECT 'schema', nspname, '' FROM ns WHERE nspname <> 'public'
UNION ALL
SELECT CASE relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN
       'materialized view' WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' END,
       nspname || '.' || relname,
       CASE WHEN relkind IN ('v', 'm') THEN pg_get_viewdef(oid) ELSE '' END
FROM rel WHERE relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
UNION ALL
SELECT 'column', rel.nspname || '.' || rel.relname || '.' || a.attname,
       format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE ' NULL' END
       || COALESCE(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
       || CASE WHEN a.attidentity <> '' THEN ' IDENTITY' ELSE '' END
FROM pg_attribute a JOIN rel ON rel.oid = a.attrelid AND rel.relkind IN ('r', 'p', 'v', 'm', 'f')
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique constraint' WHEN 'f' THEN
       'foreign key' WHEN 'c' THEN 'check constraint' WHEN 'x' THEN 'exclusion constraint' ELSE 'constraint' END,
       rel.nspname || '.' || rel.relname || '.' || con.conname, pg_get_constraintdef(con.oid)
FROM pg_constraint con JOIN rel ON rel.oid = con.conrelid
UNION ALL
SELECT 'index', rel.nspname || '.' || ic.relname, pg_get_indexdef(i.indexrelid)
FROM pg_index i JOIN rel ON rel.oid = i.indrelid JOIN pg_class ic ON ic.oid = i.indexrelid
UNION ALL
SELECT CASE t.typtype WHEN 'e' THEN 'enum type' WHEN 'd' THEN 'domain' ELSE 'type' END,
       ns.nspname || '.' || t.typname,
       CASE WHEN t.typtype = 'e' THEN (SELECT string_agg(e.enumlabel, ', ' ORDER BY e.enumsortorder)
                                       FROM pg_enum e WHERE e.enumtypid = t.oid)
            WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) ELSE '' END
FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
WHERE t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND EXISTS (
    SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
UNION ALL
SELECT 'function', ns.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       md5(pg_get_functiondef(p.oid))
FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
WHERE p.prokind IN ('f', 'p') AND NOT EXISTS (
    SELECT 1 FROM pg_depend dep WHERE dep.objid = p.oid AND dep.deptype = 'e')
UNION ALL
SELECT 'extension', extname, '' FROM pg_extension WHERE extname <> 'plpgsql'
UNION ALL
SELECT 'trigger', rel.nspname || '.' || rel.relname || '.' || tg.tgname, pg_get_triggerdef(tg.oid)
FROM pg_trigger tg JOIN rel ON rel.oid = tg.tgrelid WHERE NOT tg.tgisinternal
"""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class Snapshot:
    objects: frozenset[tuple[str, str, str]]

    def difference(self, expected: Snapshot) -> list[str]:
        """What differs from `expected`, one line per object: left over, missing, or changed."""
        mine = {(kind, name): definition for kind, name, definition in self.objects}
        theirs = {(kind, name): definition for kind, name, definition in expected.objects}
        lines = []
        for key in sorted(mine.keys() - theirs.keys()):
            lines.append(f"left over: {key[0]} {key[1]}" + (f" ({mine[key]})" if mine[key] else ""))
        for key in sorted(theirs.keys() - mine.keys()):
            lines.append(f"missing: {key[0]} {key[1]}" + (f" ({theirs[key]})" if theirs[key] else ""))
        for key in sorted(mine.keys() & theirs.keys()):
            if mine[key] != theirs[key]:
                lines.append(f"changed: {key[0]} {key[1]}: {theirs[key]} → {mine[key]}")
        return lines


def query(skipped_schemas: tuple[str, ...], version_table: str = "alembic_version",
          version_schema: str | None = None) -> str:
    skipped = ", ".join(_literal(s) for s in skipped_schemas) or "''"
    schema = _literal(version_schema) if version_schema else "current_schema()"
    return _QUERY.format(skipped=skipped, version_table=_literal(version_table), version_schema=schema)


def take(connection: Any, sql: str) -> Snapshot:
    """Through the project's own SQLAlchemy connection (sync, or an async one's run_sync side), or a psycopg
    connection of the tool's own."""
    execute = getattr(connection, "exec_driver_sql", None) or connection.execute
    rows = execute(sql).fetchall()
    return Snapshot(frozenset((str(kind), str(name), str(definition or "")) for kind, name, definition in rows))
