"""Stage: the new migrations on tables filled to a realistic size, observed statement by statement.

The scratch database is made anew and brought to the base's head, every table is filled with synthetic rows
(fill.py), then the change's own revisions run through the project's env.py as one `alembic upgrade` would, with
each statement captured and observed (observe.py). The rules (rules.py) read what was observed; report.py holds
what the reporters show.
"""


from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from migration_check.alembic_runner import BEFORE_FIRST_STEP, AlembicProject, Step, StepResult
from migration_check.config import DataVolume
from migration_check.database import ScratchDatabase
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.paths import relative_to_root
from migration_check.progress import Ticker
from migration_check.stages.volume.fill import fill
from migration_check.stages.volume.observe import BLOCKS, SHOWN_MODE, Statement, StatementCapture, committed_relations
from migration_check.stages.volume.report import RevisionRun, VolumeReport, format_time
from migration_check.stages.volume.rules import (
    BLOCKING_LOCK,
    FAILS_ON_EXISTING_ROWS,
    SLOW_MIGRATION,
    TABLE_REWRITE,
)


class VolumeSkipped(Exception):
    """The stage could not get to the new revisions; the report says why."""


def run_volume(project: AlembicProject, database: ScratchDatabase, scripts: list[MigrationScript],
               at_base: set[str] | None, settings: DataVolume, excluded: tuple[str, ...], root: Path,
               advance: Ticker | None = None, at_head: bool = False) -> tuple[VolumeReport, list[Finding]]:
    """The database at the base's head, the fill, then the new revisions, observed. at_head: the database is
    at head and the new revisions' downgrades were proved exact, so it goes down through them; else it is made
    anew and the base's revisions are applied."""
    order = project.ordered_revisions()
    # the change's revisions; without a base, the head's own revision(s), on the history below them
    new = sorted(project.script.get_heads(), key=order.index) if at_base is None \
        else [revision for revision in order if revision not in at_base]
    base = [revision for revision in order if revision not in new]
    by_revision = {script.revision: script for script in scripts}

    version_table = ["alembic_version"]

    def note_version_table(index: int, context: Any, _result: StepResult | None) -> None:
        if index == BEFORE_FIRST_STEP:
            version_table[0] = context.version_table

    if at_head:
        # The round trip proved each new revision's downgrade exact: going down through them gives the base's
        # schema without applying the whole history again (800 revisions: 0.05 s instead of 2.5 s)
        run = project.run_steps([Step(revision, False) for revision in reversed(new)], note_version_table)
        if run.stopped is not None:
            raise VolumeSkipped(f"revision {new[len(new) - 1 - run.stopped.index]}'s downgrade failed on the way "
                                f"back to the base: {run.stopped.error.splitlines()[0]}")
    else:
        database.start_over()
        project.scratch_database_recreated(database.identity())
        if base:
            run = project.run_steps([Step(revision, True) for revision in base], note_version_table)
            if run.stopped is not None:  # it passed in the other stages: a history that behaves differently
                raise VolumeSkipped(f"revision {base[run.stopped.index]} of the base failed when applied again on "
                                    f"a fresh database: {run.stopped.error.splitlines()[0]}")
    named: set[str] | None = None
    if settings.fill == "touched" and all(revision in by_revision for revision in new):
        # the words of the new migrations: every table they name is among them (op calls and raw SQL alike)
        named = {word for revision in new for word in _WORDS.findall(by_revision[revision].source)}
    with database.connect() as connection:
        filled = fill(connection, (*excluded,), settings.rows_for, skip=(version_table[0],), named=named)
        relations = committed_relations(connection)
    report = VolumeReport(filled, default_rows=settings.default_rows, estimated=bool(settings.real_sizes),
                          base_reached_by="downgraded" if at_head else "rebuilt")
    real = dict(settings.real_sizes)

    with database.connect() as probe:
        probe.autocommit = False
        probe.execute("SET lock_timeout = '1ms'")
        probe.commit()
        capture = StatementCapture(probe, filled.rows, relations, real)
        timing: dict[str, float] = {}
        started = [time.perf_counter(), 0.0]  # when the revision began, and the observation's time by then

        def observe(index: int, context: Any, _result: StepResult | None) -> None:
            if index == BEFORE_FIRST_STEP:
                capture.watch_version_table(context.version_table)
                capture.revision = new[0]
                started[:] = [time.perf_counter(), capture.overhead]
                return
            # the revision's own time: its wall time less what observing its statements took
            timing[new[index]] = time.perf_counter() - started[0] - (capture.overhead - started[1])
            if advance is not None:
                advance(index + 1, len(new), "revisions")
            if index + 1 < len(new):
                capture.revision = new[index + 1]
            started[:] = [time.perf_counter(), capture.overhead]

        run = project.run_steps([Step(revision, True) for revision in new], observe, events=capture.events())
        failed_statement = capture.failed(run.stopped.error) if run.stopped is not None else None
    for index, revision in enumerate(new):
        script = by_revision.get(revision)
        file = relative_to_root(script.path, root) if script else None
        statements = [s for s in capture.statements if s.revision == revision and not _inert(s)]
        stopped_here = run.stopped is not None and run.stopped.index == index
        if run.stopped is not None and index > run.stopped.index:
            break
        seconds = timing.get(revision, sum(s.seconds for s in statements))
        report.revisions.append(RevisionRun(revision, file, seconds, statements,
                                            run.stopped.error if stopped_here and run.stopped else None))
    findings = _findings(report, settings, by_revision, root)
    if run.stopped is not None:
        revision = new[run.stopped.index]
        script = by_revision.get(revision)
        file = relative_to_root(run.stopped.file, root) if run.stopped.file else \
            (relative_to_root(script.path, root) if script else None)
        line = run.stopped.line or (script.revision_line if script else None)
        tables = ", ".join(f"{table} ({rows:,} rows)" for table, rows in filled.rows.items()
                           if failed_statement and table.partition(".")[2] in failed_statement.sql) or \
            f"{len(filled.rows)} tables filled with rows"
        details: dict[str, Any] = {"error": run.stopped.error}
        if failed_statement is not None:
            details["statement"] = failed_statement.sql
        findings.append(Finding(FAILS_ON_EXISTING_ROWS.id, FAILS_ON_EXISTING_ROWS.severity,
                                f"Revision {revision} applies to empty tables but fails once they have rows "
                                f"({tables}): {run.stopped.error.splitlines()[0]}", file, line, revision, details))
    return report, findings


def _inert(statement: Statement) -> bool:
    """A read that touched no table of the project: Alembic's and SQLAlchemy's catalog look-ups."""
    return statement.error is None and statement.sql.lstrip()[:6].upper() == "SELECT" and not statement.locks \
        and not statement.rows_read and not statement.rows_written


def _findings(report: VolumeReport, settings: DataVolume, scripts: dict[str, MigrationScript],
              root: Path) -> list[Finding]:
    findings: list[Finding] = []
    for run in report.revisions:
        script = scripts.get(run.revision)
        for statement in run.riskiest_first():
            if statement.error:
                continue
            line = _line_of(script, statement) if script else None
            finding = _statement_finding(statement, settings)
            if finding is not None:
                rule, message, details = finding
                findings.append(Finding(rule.id, rule.severity, f"Revision {run.revision}: {message}", run.file,
                                        line, run.revision, details))
        if run.error is None and run.seconds * 1000 > settings.slow_migration_ms:
            findings.append(Finding(
                SLOW_MIGRATION.id, SLOW_MIGRATION.severity,
                f"Revision {run.revision} took {format_time(run.seconds)} on tables of {report.default_rows:,} rows "
                f"(threshold {settings.slow_migration_ms:,} ms)", run.file, script.revision_line if script else None,
                run.revision, {"seconds": round(run.seconds, 3), "threshold_ms": settings.slow_migration_ms}))
    return findings


def _statement_finding(statement: Statement, settings: DataVolume) \
        -> tuple[Any, str, dict[str, Any]] | None:
    estimate = f", about {format_time(statement.estimated_seconds)} at the real size (an estimate)" \
        if statement.estimated_seconds is not None else ""
    details: dict[str, Any] = {"statement": statement.sql, "seconds": round(statement.seconds, 4),
                               "locks": statement.locks, "blocked": statement.blocked,
                               "table_rows": statement.table_rows, "safe_alternative": safe_alternative(statement)}
    if statement.estimated_seconds is not None:
        details["estimated_seconds"] = round(statement.estimated_seconds, 3)
    rewritten = [table for table in statement.rewritten if statement.table_rows.get(table)]
    if rewritten:
        table = rewritten[0]
        mode = statement.locks.get(table, "AccessExclusiveLock")
        details["table"] = table
        return TABLE_REWRITE, (
            f"{_short(statement.sql)} rewrote {table} ({statement.table_rows[table]:,} rows) in "
            f"{format_time(statement.seconds)}{estimate}, holding {SHOWN_MODE.get(mode, mode)}"
            f"{_blocked_words(statement, table)}"), details
    target = _target(statement.sql)
    for table, mode in sorted(statement.locks.items(), key=lambda item: item[0].partition(".")[2] != target):
        rows = statement.table_rows.get(table, 0)
        if mode not in BLOCKS or not rows:
            continue
        worked = statement.rows_read.get(table, 0) + statement.rows_written.get(table, 0)
        if worked or statement.seconds * 1000 >= settings.lock_threshold_ms:
            details["table"] = table
            # a scan's count can be short of the table: a parallel index build's workers count in their own backends
            what = f"scanned {table} ({rows:,} rows)" if statement.rows_read.get(table) \
                else f"wrote {worked:,} rows of {table} ({rows:,} rows)" if worked \
                else f"ran on {table} ({rows:,} rows)"
            earlier = " (taken by an earlier statement of the transaction)" if table in statement.inherited else ""
            return BLOCKING_LOCK, (
                f"{_short(statement.sql)} holds {SHOWN_MODE.get(mode, mode)}{earlier} and {what} in "
                f"{format_time(statement.seconds)}{estimate}{_blocked_words(statement, table)}; the lock stays until "
                "the migration's transaction commits"), details
    return None


_TARGET = re.compile(r'^\s*(?:ALTER\s+TABLE(?:\s+IF\s+EXISTS)?(?:\s+ONLY)?|CREATE\s+(?:UNIQUE\s+)?INDEX\b.*?\bON'
                     r'(?:\s+ONLY)?|UPDATE(?:\s+ONLY)?|DELETE\s+FROM(?:\s+ONLY)?|INSERT\s+INTO)\s+(?:"?\w+"?\.)?"?(\w+)"?',
                     re.IGNORECASE | re.DOTALL)


def _target(text: str) -> str | None:
    """The table a statement changes (ALTER TABLE x, CREATE INDEX ... ON x, UPDATE x...)."""
    match = _TARGET.match(text)
    return match[1] if match else None


def _blocked_words(statement: Statement, table: str) -> str:
    blocked = statement.blocked.get(table) or list(BLOCKS.get(statement.locks.get(table, ""), ()))
    if not blocked:
        return ""
    return f": {' and '.join(blocked)} on {table} wait" + ("ed (observed)" if statement.blocked.get(table) else "")


def _short(text: str, most: int = 90) -> str:
    flat = " ".join(text.split())
    return f"`{flat if len(flat) <= most else flat[:most - 1] + '…'}`"


_WORDS = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _line_of(script: MigrationScript, statement: Statement) -> int | None:
    """The first line of the migration that names an object the statement names (the index, the column...)."""
    names = [word for word in _WORDS.findall(statement.sql) if word.upper() not in _SQL_WORDS and len(word) > 2]
    for name in reversed(names):  # the last names are the most particular (the column, the index)
        line = script.line_naming(name)
        if line is not None:
            return line
    return script.revision_line


_SQL_WORDS = {"ALTER", "TABLE", "ADD", "COLUMN", "CREATE", "INDEX", "UNIQUE", "DROP", "CONSTRAINT", "FOREIGN",
              "KEY", "REFERENCES", "NOT", "NULL", "DEFAULT", "TYPE", "USING", "SET", "PRIMARY", "CHECK", "ON",
              "CONCURRENTLY", "VALID", "VALIDATE", "UPDATE", "INSERT", "INTO", "DELETE", "FROM", "WHERE", "BIGINT",
              "INTEGER", "VARCHAR", "TEXT", "UUID", "NOW", "GEN_RANDOM_UUID", "RENAME", "EXISTS", "IF"}


def safe_alternative(statement: Statement) -> str | None:
    """The usual safe way to do what the statement did, in Alembic code."""
    text = " ".join(statement.sql.split()).upper()
    if text.startswith("CREATE") and " INDEX " in f" {text} " and "CONCURRENTLY" not in text:
        return ("with op.get_context().autocommit_block():\n"
                "    op.create_index(..., postgresql_concurrently=True)")
    if "FOREIGN KEY" in text and "NOT VALID" not in text:
        return ('op.create_foreign_key(name, source, referent, local_cols, remote_cols, postgresql_not_valid=True)\n'
                'op.execute("ALTER TABLE <source> VALIDATE CONSTRAINT <name>")  # SHARE UPDATE EXCLUSIVE: '
                'writes go on')
    if " CHECK " in f" {text} " and "NOT VALID" not in text:
        return ('op.create_check_constraint(name, table, condition, postgresql_not_valid=True)\n'
                'op.execute("ALTER TABLE <table> VALIDATE CONSTRAINT <name>")')
    if "SET NOT NULL" in text:
        return ('op.create_check_constraint("ck_<table>_<column>_not_null", table, "<column> IS NOT NULL", '
                'postgresql_not_valid=True)\n'
                'op.execute("ALTER TABLE <table> VALIDATE CONSTRAINT ck_<table>_<column>_not_null")\n'
                'op.alter_column(table, column, nullable=False)  # PostgreSQL 12+ uses the constraint: no scan\n'
                'op.drop_constraint("ck_<table>_<column>_not_null", table)')
    if " TYPE " in text and text.startswith("ALTER TABLE"):
        return ("op.add_column(table, sa.Column(\"<column>_new\", NewType(), nullable=True))\n"
                "# backfill in batches, keep both columns in step (a trigger or the application), then swap the "
                "names in a short migration")
    if "ADD COLUMN" in text and "DEFAULT" in text:
        return ("op.add_column(table, sa.Column(name, Type(), nullable=True))\n"
                "# backfill in batches, then add NOT NULL through a validated CHECK constraint")
    if ("PRIMARY KEY" in text or "UNIQUE" in text) and "ADD CONSTRAINT" in text:
        return ("with op.get_context().autocommit_block():\n"
                "    op.create_index(\"<name>\", table, columns, unique=True, postgresql_concurrently=True)\n"
                "op.execute(\"ALTER TABLE <table> ADD CONSTRAINT <name> UNIQUE USING INDEX <name>\")")
    return None


