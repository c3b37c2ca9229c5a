"""Statement capture: what each statement a migration sends does to the filled tables, read on its own
connection right after it ran, inside its transaction.

For each statement: its text and duration, the locks its transaction newly holds on the project's tables
(pg_locks, for its own backend), the tables and indexes PostgreSQL rewrote (pg_class.relfilenode changed), and
the rows it read by scanning or wrote (pg_stat_xact_user_tables, which counts the running transaction's own
work). A second connection then tries the locks a plain SELECT and INSERT take on each such table, with NOWAIT:
what would have waited behind the migration, observed rather than looked up."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

# What a lock the migration holds does to other sessions' requests (PostgreSQL's table-level lock conflicts).
BLOCKS = {
    "AccessExclusiveLock": ("reads", "writes"),
    "ExclusiveLock": ("writes",),
    "ShareRowExclusiveLock": ("writes",),
    "ShareLock": ("writes",),
}
SHOWN_MODE = {mode: re.sub(r"(?<!^)([A-Z])", r" \1", mode[:-4]).upper() for mode in
              ("AccessExclusiveLock", "ExclusiveLock", "ShareRowExclusiveLock", "ShareLock",
               "ShareUpdateExclusiveLock", "RowExclusiveLock", "RowShareLock", "AccessShareLock")}
_STRENGTH = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
             "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]

# No % anywhere: some drivers format the text of a statement sent without parameters.
_RELATIONS = """
SELECT c.oid, n.nspname || '.' || c.relname, c.relkind, c.relfilenode,
       coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid), c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm', 'i') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_'
"""
_WORK = """
SELECT relid, seq_tup_read, n_tup_ins + n_tup_upd + n_tup_del, n_tup_ins - n_tup_del
FROM pg_stat_xact_user_tables
"""
_LOCKS = """
SELECT relation, mode FROM pg_locks
WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted AND relation IS NOT NULL
"""


@dataclass(frozen=True)
class Relation:
    name: str  # schema.name
    kind: str  # relkind
    filenode: int
    table: int  # the table's oid (itself for a table; the indexed table for an index)


@dataclass
class Statement:
    """One statement a new migration sent, and what it was seen to do."""

    revision: str
    sql: str
    seconds: float
    locks: dict[str, str] = field(default_factory=dict)  # table -> the strongest lock newly held on it
    blocked: dict[str, list[str]] = field(default_factory=dict)  # table -> "reads", "writes" that would wait
    rewritten: list[str] = field(default_factory=list)  # tables whose data was written anew
    rebuilt_indexes: list[str] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)  # table -> rows scanned
    rows_written: dict[str, int] = field(default_factory=dict)  # table -> rows inserted, updated or deleted
    table_rows: dict[str, int] = field(default_factory=dict)  # the rows of the tables above, before it ran
    inherited: set[str] = field(default_factory=set)  # tables whose lock an earlier statement took
    error: str | None = None
    estimated_seconds: float | None = None  # scaled to the real table sizes, where they are known
    in_transaction: bool = True

    @property
    def risk(self) -> tuple[int, float]:
        """Riskiest first: a rewrite, then a lock that blocks reads, then writes, then the time."""
        worst = 0
        for table, mode in self.locks.items():
            if self.table_rows.get(table):
                worst = max(worst, 2 if "reads" in BLOCKS.get(mode, ()) else 1 if mode in BLOCKS else 0)
        if any(self.table_rows.get(table) for table in self.rewritten):
            worst = 3
        return worst, self.seconds

    def as_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "sql": self.sql, "seconds": round(self.seconds, 4),
                "locks": self.locks, "blocked": self.blocked, "rewritten": self.rewritten,
                "rebuilt_indexes": self.rebuilt_indexes, "rows_read": self.rows_read,
                "rows_written": self.rows_written, "table_rows": self.table_rows,
                "locks_taken_earlier": sorted(self.inherited), "error": self.error,
                "estimated_seconds": None if self.estimated_seconds is None else round(self.estimated_seconds, 3),
                "in_transaction": self.in_transaction}


def _fetch(connection: Any, query: str) -> list[tuple[Any, ...]]:
    """A query on the migration's own DBAPI connection (psycopg, psycopg2, asyncpg's adapter, pg8000 alike)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(query)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def _relations(rows: list[tuple[Any, ...]]) -> dict[int, Relation]:
    """_RELATIONS' rows, by oid."""
    return {int(row[0]): Relation(row[1], row[2], int(row[3]), int(row[4])) for row in rows}


class StatementCapture:
    """SQLAlchemy cursor events on env.py's connection: each statement timed, then observed."""

    def __init__(self, probe: psycopg.Connection, rows: dict[str, int], committed: dict[int, Relation],
                 real_sizes: dict[str, int] | None = None) -> None:
        self.probe = probe  # our own connection to the database, for the NOWAIT probes
        self.rows = dict(rows)  # table -> rows now (filled, then as the migrations change them)
        self.committed = committed  # the relations as the probe sees them: from before the first new migration
        self.real_sizes = real_sizes or {}
        self.revision = ""
        self.statements: list[Statement] = []
        self.version_table = re.compile(r"^$")
        self._began = 0.0
        self._busy = False  # our own queries on the connection are not captured
        self._relations: dict[int, Relation] | None = None
        self._work: dict[int, tuple[int, int, int]] = {}
        self._locks: set[tuple[int, str]] = set()
        self._pending: Statement | None = None
        # seconds spent observing (catalog reads, probes): not the migration's, taken out of its time
        self.overhead = 0.0

    def events(self) -> list[tuple[str, Any]]:
        return [("before_cursor_execute", self.before), ("after_cursor_execute", self.after)]

    def watch_version_table(self, name: str) -> None:
        self.version_table = re.compile(
            rf"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM|SELECT\b.*?\bFROM)\s+\S*\b{re.escape(name)}\b",
            re.IGNORECASE | re.DOTALL)

    def _state(self, connection: Any) -> None:
        self._relations = _relations(_fetch(connection, _RELATIONS))
        self._work = {int(r[0]): (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0)) for r in _fetch(connection, _WORK)}
        self._locks = {(int(r[0]), str(r[1])) for r in _fetch(connection, _LOCKS)}

    def before(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self._busy or self.version_table.search(statement):
            return
        self._busy = True
        began = time.perf_counter()
        try:  # read anew each time: the counters restart with each transaction, and skipped statements count
            self._state(connection)
        finally:
            self._busy = False
            self.overhead += time.perf_counter() - began
        self._pending = Statement(self.revision, statement.strip(), 0.0)
        self._began = time.perf_counter()

    def after(self, connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self._busy or self._pending is None:
            return
        observed, self._pending = self._pending, None
        observed.seconds = time.perf_counter() - self._began
        # Alembic's autocommit_block() sets this option; reading the level itself would send a query
        observed.in_transaction = connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
        self._busy = True
        began = time.perf_counter()
        try:
            before_relations, before_work, before_locks = self._relations or {}, self._work, self._locks
            self._state(connection)
            self._describe(observed, before_relations, before_work, before_locks)
        finally:
            self._busy = False
            self.overhead += time.perf_counter() - began
        self.statements.append(observed)

    def failed(self, error: str) -> Statement | None:
        """The statement that was running when the migration failed."""
        if self._pending is None:
            return None
        failed, self._pending = self._pending, None
        failed.seconds = time.perf_counter() - self._began
        failed.error = error
        self.statements.append(failed)
        return failed

    def _describe(self, observed: Statement, relations: dict[int, Relation], work: dict[int, tuple[int, int, int]],
                  locks: set[tuple[int, str]]) -> None:
        now = self._relations or {}

        def name(oid: int) -> str | None:
            relation = now.get(oid) or relations.get(oid)
            return relation.name if relation else None

        for oid, relation in relations.items():
            after = now.get(oid)
            if after is not None and after.filenode != relation.filenode:
                table = name(relation.table)
                if relation.kind == "i":
                    observed.rebuilt_indexes.append(relation.name)
                elif table:
                    observed.rewritten.append(table)
        for oid, (read, written, _grown) in self._work.items():
            table = name(oid)
            if table is None:
                continue
            was = work.get(oid, (0, 0, 0))
            if read - was[0]:
                observed.rows_read[table] = read - was[0]
            if written - was[1]:
                observed.rows_written[table] = written - was[1]
        # The strongest lock the transaction holds on each table the statement locked anew or worked on: the
        # statement's work happens under it, even where an earlier statement took it.
        worked = {*observed.rewritten, *observed.rows_read, *observed.rows_written}
        taken_now: set[tuple[str, str]] = set()
        for oid, mode in self._locks:
            relation = now.get(oid) or relations.get(oid)
            if relation is None or relation.kind == "i" or mode not in _STRENGTH:
                continue
            anew = (oid, mode) not in locks
            if anew:
                taken_now.add((relation.name, mode))
            elif relation.name not in worked:
                continue
            held = observed.locks.get(relation.name)
            if held is None or _STRENGTH.index(mode) > _STRENGTH.index(held):
                observed.locks[relation.name] = mode
        observed.inherited = {table for table, mode in observed.locks.items() if (table, mode) not in taken_now}
        touched = {*observed.locks, *observed.rewritten, *observed.rows_read, *observed.rows_written}
        observed.table_rows = {table: self.rows.get(table, 0) for table in sorted(touched)}
        for oid, (_read, _written, grown) in self._work.items():  # rows the statement added or removed
            table = name(oid)
            if table is not None:
                self.rows[table] = self.rows.get(table, 0) + grown - work.get(oid, (0, 0, 0))[2]
        self._probe(observed)
        self._estimate(observed)

    def _probe(self, observed: Statement) -> None:
        """Whether a SELECT and an INSERT on each table the statement locked would wait now."""
        committed = {relation.name: relation for relation in self.committed.values() if relation.kind != "i"}
        for table, mode in observed.locks.items():
            if mode not in BLOCKS or not observed.table_rows.get(table) or table not in committed:
                continue
            schema, _, relname = table.partition(".")
            waits = []
            for what, request in (("reads", "ACCESS SHARE"), ("writes", "ROW EXCLUSIVE")):
                try:
                    with self.probe.transaction():
                        self.probe.execute(sql.SQL("LOCK TABLE {} IN {} MODE NOWAIT").format(
                            sql.Identifier(schema, relname), sql.SQL(request)))
                except psycopg.errors.LockNotAvailable:
                    waits.append(what)
            if waits:
                observed.blocked[table] = waits

    def _estimate(self, observed: Statement) -> None:
        """The measured time scaled to the real size of the table it worked on most, where that is known."""
        if not self.real_sizes:
            return
        worked = {table: observed.rows_read.get(table, 0) + observed.rows_written.get(table, 0)
                  for table in observed.table_rows}
        rewritten = [table for table in observed.rewritten if observed.table_rows.get(table)]
        busiest = rewritten[0] if rewritten else max(worked, key=lambda table: worked[table], default=None)
        if busiest is None or not (worked.get(busiest) or busiest in rewritten) \
                or not observed.table_rows.get(busiest):
            return
        real = self.real_sizes.get(busiest) or self.real_sizes.get(busiest.partition(".")[2])
        if real:
            observed.estimated_seconds = observed.seconds * real / observed.table_rows[busiest]


def committed_relations(connection: psycopg.Connection) -> dict[int, Relation]:
    """The relations as the database has them committed (our own connection, before the new migrations)."""
    return _relations(connection.execute(_RELATIONS).fetchall())
