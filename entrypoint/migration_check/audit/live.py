"""A live database, read and never written: a session that PostgreSQL itself keeps read-only, with short lock and
statement timeouts and a name that says who it is. Everything is read from the catalogs and the version table;
the project's env.py never runs here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from migration_check import __version__, connection_errors, snapshot
from migration_check.audit.config import LiveTarget
from migration_check.errors import DatabaseUnavailable

APPLICATION_NAME = f"migration-check audit {__version__}"[:63]
LOCK_TIMEOUT = "2s"  # a catalog read that waits behind a migration's lock gives up instead of queueing others
STATEMENT_TIMEOUT = "60s"
# Applied on each new session before anything else runs; SET, since poolers such as PgBouncer refuse startup
# options.
_SESSION_SETTINGS = (
    "SET default_transaction_read_only = on",
    "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    f"SET lock_timeout = '{LOCK_TIMEOUT}'",
    f"SET statement_timeout = '{STATEMENT_TIMEOUT}'",
    "SET idle_in_transaction_session_timeout = '60s'",
    f"SET application_name = '{APPLICATION_NAME}'",
)

# The planner's row estimate; for a table never analysed (reltuples -1 on PostgreSQL 14+), the statistics
# collector's count of live rows. The version table is left out: it is not the project's data.
_TABLE_SIZES = """
SELECT n.nspname, c.relname,
       COALESCE(NULLIF(c.reltuples, -1)::bigint, (SELECT s.n_live_tup FROM pg_stat_all_tables s WHERE s.relid = c.oid)),
       pg_total_relation_size(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp_%%' AND NOT c.relispartition
  AND c.oid <> COALESCE(to_regclass(%s), 0)
ORDER BY 1, 2
"""


class LiveUnavailable(DatabaseUnavailable):
    """One live database could not be read: why, and what to do (the message never holds its URL or host). It
    ends that database's audit, not the run's: the run reports it and exits 2 once the others are audited."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message, fix=fix)


@dataclass(frozen=True)
class TableSize:
    schema: str
    table: str
    rows: int | None  # the planner's estimate (reltuples); None where the table was never analysed
    bytes: int

    def as_json(self) -> dict[str, object]:
        return {"schema": self.schema, "table": self.table, "rows": self.rows, "bytes": self.bytes}


@dataclass
class LiveState:
    """What the audit read from one live database."""

    server_version: str
    version_table: bool  # whether the project's version table exists there
    revisions: tuple[str, ...]  # its rows (several where branches are applied), sorted
    snapshot: snapshot.Snapshot
    tables: list[TableSize] = field(default_factory=list)
    extensions: tuple[str, ...] = ()


def _read_only_engine(target: LiveTarget) -> sa.Engine:
    url = make_url(target.url).set(drivername="postgresql+psycopg")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool, connect_args={"connect_timeout": 10})

    @sa.event.listens_for(engine, "connect")
    def read_only_session(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.autocommit = True  # SET outside a transaction block: for the whole session
        with dbapi_connection.cursor() as cursor:
            for statement in _SESSION_SETTINGS:
                cursor.execute(statement)
            cursor.execute("SHOW transaction_read_only")
            if cursor.fetchone()[0] != "on":
                raise LiveUnavailable("the session could not be made read-only.",
                                      "Audit through a user and pooler that accept SET default_transaction_read_only.")
        dbapi_connection.autocommit = False
        dbapi_connection.read_only = True  # psycopg's own: every transaction begins READ ONLY

    return engine


def _unavailable(target: LiveTarget, exc: BaseException) -> LiveUnavailable:
    """Why a database could not be reached, in words that hold neither its URL nor its host."""
    texts = [str(link) for link in (exc, exc.__cause__, getattr(exc, "orig", None)) if link is not None]
    text = " ".join(texts)
    attempt = connection_errors.attempt_in(texts)
    why = attempt.why if attempt else (texts[-1].strip().splitlines() or ["no answer"])[-1]
    if "password authentication failed" in text or "no password supplied" in text:
        return LiveUnavailable(f"the server refused the login ({why.strip()}).",
                               f"Check the user and password in the URL of {target.name} ({target.where}).")
    if "does not exist" in text and "database" in text:
        return LiveUnavailable(f"the server has no such database ({why.strip()}).",
                               f"Check the database name in the URL of {target.name} ({target.where}).")
    if "timeout" in text.lower():
        return LiveUnavailable(f"the server did not answer in time ({why.strip()}).",
                               "Check that the database is reachable from where the audit runs (a firewall, a "
                               "private network needs a self-hosted runner or a bastion).")
    return LiveUnavailable(f"cannot connect ({why.strip()}).",
                           "Check that the database is running and reachable from where the audit runs, and the "
                           f"host and port in the URL of {target.name} ({target.where}).")


@contextlib.contextmanager
def read_only_connection(target: LiveTarget) -> Iterator[sa.Connection]:
    """A SQLAlchemy connection on which PostgreSQL refuses every write."""
    engine = _read_only_engine(target)
    try:
        try:
            connection = engine.connect()
        except LiveUnavailable:
            raise
        except (sa_exc.DBAPIError, OSError) as exc:
            if isinstance(getattr(exc, "orig", None), LiveUnavailable):
                raise exc.orig from None  # type: ignore[misc]
            raise _unavailable(target, exc) from None
        with connection:
            yield connection
    finally:
        engine.dispose()


# Who holds a table exclusively right now: after a read timed out waiting for a lock.
_EXCLUSIVE_HOLDERS = """
SELECT n.nspname || '.' || c.relname, COALESCE(NULLIF(a.application_name, ''), 'a session'),
       COALESCE(extract(epoch FROM now() - a.xact_start)::int, 0)
FROM pg_locks l JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.granted AND l.mode = 'AccessExclusiveLock' AND l.pid <> pg_backend_pid()
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY 3 DESC LIMIT 3
"""


def lock_holders(connection: sa.Connection) -> list[str]:
    """The tables another session holds ACCESS EXCLUSIVE on, as "public.agents (psql, for 12 s)"."""
    connection.rollback()
    return [f"{table} ({application}, for {seconds} s)"
            for table, application, seconds in _rows(connection, _EXCLUSIVE_HOLDERS)]


def _rows(connection: sa.Connection, sql: str, *params: object) -> list[Any]:
    return list(connection.exec_driver_sql(sql, params if params else ()).fetchall())


def read_state(connection: sa.Connection, query: snapshot.SchemaQuery, version_table: str,
               version_schema: str | None) -> LiveState:
    """The version table's rows, the schema's snapshot and the tables' sizes, in one read-only transaction."""
    version = str(_rows(connection, "SHOW server_version")[0][0]).split()[0]
    qualified = f'"{version_schema}"."{version_table}"' if version_schema else f'"{version_table}"'
    found = _rows(connection, "SELECT to_regclass(%s) IS NOT NULL", qualified)[0][0]
    revisions: tuple[str, ...] = ()
    if found:
        revisions = tuple(sorted(str(row[0]) for row in _rows(connection, f"SELECT version_num FROM {qualified}")))
    taken = snapshot.take(connection, query)
    tables = [TableSize(str(schema), str(name), int(rows) if rows is not None and rows >= 0 else None, int(size))
              for schema, name, rows, size in _rows(connection, _TABLE_SIZES, qualified)]
    extensions = tuple(row[1] for row in taken.objects if row[0] == "extension")
    connection.rollback()  # nothing to keep: end the read-only transaction
    return LiveState(version, bool(found), revisions, taken, tables, extensions)
