"""One audit, end to end: the project → a throwaway server for the references → each live database read
(concurrently, read-only) → the references built up to each live revision → findings, database by database."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from migration_check import redact, snapshot
from migration_check.alembic_runner import AlembicProject, Comparison, ComparisonOptions, PendingRevision
from migration_check.audit import live
from migration_check.audit.config import AuditConfig, LiveTarget
from migration_check.audit.report import AuditReport, DatabaseAudit
from migration_check.audit.rules import (
    LIVE_BEHIND_HEAD,
    LIVE_MODEL_DRIFT,
    LIVE_NO_VERSION_TABLE,
    LIVE_SCHEMA_DIVERGED,
    LIVE_UNKNOWN_REVISION,
)
from migration_check.database import ScratchDatabase, find_server_binaries, throwaway_database
from migration_check.downgrade_code import downgrade_code
from migration_check.drivers import choose_driver
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.locate import Location, ModelIndex
from migration_check.paths import relative_to_root, repository_root
from migration_check.pipeline import aimed_at
from migration_check.policy import graded
from migration_check.presets import PRESETS
from migration_check.progress import Progress, StepNote, counted
from migration_check.rules import Rule
from migration_check.stages.compare import check_models, describe, suggested_migration
from migration_check.stages.setup import run_setup
from migration_check.stages.static import read_scripts

MOST_PENDING_SHOWN = 10


@dataclass
class _Read:
    """What the worker thread read from one live database."""

    target: LiveTarget
    state: live.LiveState | None = None
    models: Comparison | None = None  # the models compared with the live database
    error: live.LiveUnavailable | None = None
    seconds: float = 0.0


@dataclass
class _Reference:
    """The migrations applied from scratch up to some revisions, on the throwaway server."""

    snapshot: snapshot.Snapshot | None
    models: Comparison | None
    failure: str | None = None  # why the migrations did not get there


def _read_one(target: LiveTarget, project: AlembicProject, options: ComparisonOptions,
              query: snapshot.SchemaQuery, excluded: tuple[str, ...], compare_lock: threading.Lock) -> _Read:
    started = time.perf_counter()
    read = _Read(target)
    try:
        with live.read_only_connection(target) as connection:
            try:
                read.state = live.read_state(connection, query, options.version_table,
                                             options.version_table_schema)
                if read.state.version_table:
                    with compare_lock:  # autogenerate and the models are shared: one comparison at a time
                        read.models = project.compare_on(connection, options, excluded)
                    connection.rollback()
            except sa_exc.DBAPIError as exc:
                read.error = _read_failed(exc, connection)
    except live.LiveUnavailable as exc:
        read.error = exc
    read.seconds = time.perf_counter() - started
    return read


def _read_failed(exc: sa_exc.DBAPIError, connection: sa.Connection) -> live.LiveUnavailable:
    """Why a read-only read failed, and what to do; for a lock, who holds it."""
    text = redact.redact(str(getattr(exc, "orig", exc)).strip().splitlines()[0])
    if "permission denied" in text:
        return live.LiveUnavailable(f"reading it failed: {text}",
                                    "Give the audit's user read access: `GRANT pg_read_all_data TO <user>` "
                                    "(PostgreSQL 14+), or SELECT on the version table.")
    if "lock timeout" in text:
        try:
            holders = live.lock_holders(connection)
        except sa_exc.DBAPIError:
            holders = []
        held = f": {', '.join(holders)} held exclusively" if holders else ""
        return live.LiveUnavailable(
            f"its schema is being changed right now{held}; the audit waited {live.LOCK_TIMEOUT} for a lock, and "
            "does not read a schema in mid-change (a migration or a deploy is running?).",
            "Schedule the audit away from deploys, or run it again when the migration has finished.")
    if "statement timeout" in text:
        return live.LiveUnavailable(f"a catalog read took longer than {live.STATEMENT_TIMEOUT}: {text}",
                                    "Run the audit when the database is less busy.")
    return live.LiveUnavailable(f"reading it failed: {text}",
                                "Check that the user can read the catalogs and the version table.")


def _read_all(config: AuditConfig, project: AlembicProject, options: ComparisonOptions,
              query: snapshot.SchemaQuery, excluded: tuple[str, ...], note: StepNote) -> list[_Read]:
    lock = threading.Lock()
    done = 0
    results: list[_Read] = []
    with ThreadPoolExecutor(max_workers=max(1, min(config.concurrency, len(config.targets)))) as pool:
        futures = [pool.submit(_read_one, target, project, options, query, excluded, lock)
                   for target in config.targets]
        for future in futures:
            results.append(future.result())
            done += 1
            note.advance(done, len(futures), "databases")
    return results


@contextlib.contextmanager
def _sa_connection_to(database: ScratchDatabase) -> Iterator[sa.Connection]:
    """A SQLAlchemy connection of the tool's own to the scratch database, for the models' comparison."""
    engine = sa.create_engine(database.url("psycopg"), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def _build_reference(project: AlembicProject, database: ScratchDatabase, revisions: tuple[str, ...] | str,
                     options: ComparisonOptions, query: snapshot.SchemaQuery,
                     excluded: tuple[str, ...]) -> _Reference:
    database.start_over()
    project.scratch_database_recreated(database.identity())
    failure = project.upgrade(revisions)
    if failure is not None:
        return _Reference(None, None, f"revision {failure.revision or '?'} fails: {failure.error.splitlines()[0]}")
    with database.connect() as connection:
        taken = snapshot.take(connection, query)
    with _sa_connection_to(database) as connection:
        models = project.compare_on(connection, options, excluded)
    return _Reference(taken, models)


def run_audit(config: AuditConfig, progress: Progress) -> AuditReport:
    check = config.check
    location = check.alembic
    root = repository_root(location.project_dir)
    report = AuditReport(project=relative_to_root(location.project_dir, root) or ".",
                         config_file=relative_to_root(location.main_file, root), listed=config.listed,
                         shards=[str(config.shard)] if config.shard else [])
    if not config.targets:  # a shard of a list shorter than the matrix: nothing to audit, a report all the same
        progress.say(f"shard {config.shard} of a list of {config.listed} databases has none: nothing to audit")
        return report
    preset = PRESETS[check.preset] if check.preset else None
    excluded = (*check.excluded_schemas, *(preset.schemas if preset else ()))

    with progress.step("configuration", "reading the Alembic configuration") as note:
        project = AlembicProject(location)
        driver, why = choose_driver(check.driver, [project.configured_url], project.env_py)
        note.text = f"{relative_to_root(location.main_file, root)}, driver {driver} ({why})"
    with contextlib.ExitStack() as stack:
        with progress.step("database", "starting a throwaway PostgreSQL for the references") as note:
            database = stack.enter_context(throwaway_database(find_server_binaries(check.postgres_bin), check.port))
            report.reference = database.info
            note.text = database.info.describe()
        stack.enter_context(aimed_at(project, database, driver, check))
        with progress.step("revisions", "reading the migrations") as note:
            project.discover_version_locations()
            project.load_revisions()
            report.heads = tuple(sorted(project.script.get_heads()))
            note.text = f"{counted(len(project.revision_files()), 'revision')}, head {', '.join(report.heads)}"
        if preset or check.setup_sql:
            with progress.step("setup", "running setup SQL") as note:
                note.text = counted(run_setup(database, preset, check.setup_sql), "script")
        database.keep_starting_point()  # each reference starts from here
        with progress.step("options", f"reading the comparison options of {project.env_py.name}"):
            options = project.comparison_options()
        query = snapshot.SchemaQuery(excluded, options.version_table, options.version_table_schema)

        with progress.step("live", f"reading {counted(len(config.targets), 'live database')}, read-only") as note:
            reads = _read_all(config, project, options, query, excluded, note)
            failed = [read for read in reads if read.error is not None]
            note.failed = bool(failed)
            note.text = f"{len(reads) - len(failed)} read" + (f", {len(failed)} could not be" if failed else "")

        at: dict[tuple[str, ...], _Reference] = {}
        wanted = sorted({read.state.revisions for read in reads if read.state and read.state.revisions
                         and all(project.known(revision) for revision in read.state.revisions)})
        with progress.step("references", "applying the migrations up to each live revision") as note:
            head = _build_reference(project, database, "heads", options, query, excluded)
            for number, revisions in enumerate(wanted, start=1):
                note.advance(number, len(wanted), "revisions")
                at[revisions] = head if revisions == report.heads else \
                    _build_reference(project, database, revisions, options, query, excluded)
            note.text = f"head and {counted(len([r for r in wanted if r != report.heads]), 'older revision')}"

        scripts = read_scripts(project)
        models = ModelIndex.from_loaded_modules(skip=project.version_folders())
        reference_major = database.info.version.split(".")[0]
        for read in reads:
            audited = _audit_one(read, project, head, at, models, scripts, root, report, options.version_table_shown)
            # the team's levels from .migration-check.yml: a rule made a warning, or turned off
            audited.findings = [found for found in (graded(check, f) for f in audited.findings) if found]
            live_major = (audited.server_version or "").split(".")[0]
            if live_major and live_major != reference_major:
                audited.notes.append(
                    f"the references were built on PostgreSQL {reference_major} and this database runs "
                    f"{live_major}: definitions are compared as each server writes them; should a difference be "
                    f"one of spelling only, build the references on PostgreSQL {live_major} (--postgres-bin)")
            report.databases.append(audited)
    if any(f.rule == LIVE_MODEL_DRIFT.id for f in report.findings) and head.models is not None:
        report.suggested_migration = suggested_migration(head.models.upgrade_code, head.models.downgrade_code)
    report.timings = list(progress.timings)
    return report


def _audit_one(read: _Read, project: AlembicProject, head: _Reference, at: dict[tuple[str, ...], _Reference],
               models: ModelIndex, scripts: list[MigrationScript], root: Path, report: AuditReport,
               table: str) -> DatabaseAudit:
    result = DatabaseAudit(name=read.target.name, seconds=read.seconds)
    if read.state is None:
        assert read.error is not None
        result.error, result.fix = read.error.message, read.error.fix
        return result
    result.server_version = read.state.server_version
    result.revisions = read.state.revisions
    result.tables = [size.as_json() for size in read.state.tables]
    result.findings = _findings(read, project, head, at, models, scripts, root, report, table, result)
    return result


def _findings(read: _Read, project: AlembicProject, head: _Reference, at: dict[tuple[str, ...], _Reference],
              models: ModelIndex, scripts: list[MigrationScript], root: Path, report: AuditReport, table: str,
              result: DatabaseAudit) -> list[Finding]:
    """One database's findings, in the order its questions are asked: is there a version table, is its revision
    the repository's, is it behind, does its schema match its migrations, do the models match it. Pending
    migrations and notes go on result."""
    name = read.target.name
    state = read.state
    assert state is not None
    heads = ", ".join(report.heads) or "none"

    def finding(rule: Rule, message: str, location: Location | None = None, **details: object) -> Finding:
        return rule.at(f"{name}: {message}", location, root, database=name, **details)

    if not state.version_table:
        differing = head.snapshot and state.snapshot.changes(head.snapshot).without_not_null().summary()
        if head.snapshot is not None and not differing:
            return [finding(LIVE_NO_VERSION_TABLE, f"has no version table ({table}), and its schema matches the "
                            f"migrations at head ({heads}): run `alembic stamp head` there, once, to record it.",
                            stamp=True)]
        schema = ("It holds no schema objects at all." if not state.snapshot.objects else
                  f"Its schema differs from the migrations at head in {counted(len(differing), 'object')}."
                  if differing else "")
        return [finding(LIVE_NO_VERSION_TABLE, f"has no version table ({table}): it was never migrated with "
                        f"Alembic, or the URL names another database. {schema}".rstrip(), stamp=False,
                        differences=list(differing or [])[:50])]
    if not state.revisions:
        return [finding(LIVE_NO_VERSION_TABLE, "has an empty version table: no migration is recorded there, "
                        f"although {counted(len(state.snapshot.objects), 'object')} exist. Check the URL, or "
                        "`alembic stamp` the revision its schema matches.", stamp=False)]
    unknown = [revision for revision in state.revisions if not project.known(revision)]
    if unknown:
        return [finding(LIVE_UNKNOWN_REVISION, f"is at revision {', '.join(unknown)}, which no migration file in "
                        f"the repository has (the repository's head: {heads}): run from a branch that was never "
                        "merged, or a file deleted after it ran. Its schema was not compared.", revisions=unknown)]

    found = []
    pending = project.pending(state.revisions)
    result.pending = [{"revision": p.revision, "message": p.message,
                       "file": relative_to_root(p.path, root) if p.path else None} for p in pending]
    if pending:
        found.append(finding(LIVE_BEHIND_HEAD, f"is at revision {', '.join(state.revisions)}, "
                             f"{counted(len(pending), 'migration')} behind head {heads}: {_pending_list(pending)}.",
                             Location(pending[0].path, 1) if pending[0].path else None,
                             pending=[p.revision for p in pending]))
    reference = at.get(state.revisions)
    if reference is None or reference.snapshot is None:
        why = reference.failure if reference else "it was not built"
        result.notes.append(f"schema not compared: the migrations do not build revision "
                            f"{', '.join(state.revisions)} from scratch ({why})")
        return found
    found.extend(_diverged(name, state, reference.snapshot, state.revisions, root))
    platform = sorted(row[1] for row in state.snapshot.changes(reference.snapshot).left_over if row[0] == "extension")
    if platform:
        result.notes.append(f"extensions installed outside the migrations (not compared): {', '.join(platform)}")
    if read.models is not None and reference.models is not None and head.models is not None:
        found.extend(_model_drift(name, read.models, reference.models, head.models, models, scripts, root,
                                  project))
    return found


def _pending_list(pending: list[PendingRevision]) -> str:
    shown = [f"{p.revision} ({p.message})" if p.message else p.revision for p in pending[:MOST_PENDING_SHOWN]]
    more = len(pending) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _object_groups(changes: snapshot.Changes) -> list[snapshot.Changes]:
    """One group per differing object: a table (or view) that is only on one side takes its members with it."""
    whole = {row[1] for row in (*changes.left_over, *changes.missing) if row[0] in snapshot.RELATION_KINDS}
    # a unique or primary key constraint's index, "schema.name", goes with the constraint "schema.table.name"
    constraints = {f"{row[1].split('.')[0]}.{row[1].split('.')[-1]}": row[1]
                   for row in (*changes.left_over, *changes.missing) if row[0] in snapshot.CONSTRAINT_KINDS}
    groups: dict[tuple[str, str, str], snapshot.Changes] = {}
    for side in ("left_over", "missing"):
        for row in getattr(changes, side):
            owner = snapshot.owner_of(row)
            if owner in whole:
                key = (side, "relation", owner)
            elif row[0] == "index" and row[1] in constraints:
                key = (side, "constraint", constraints[row[1]])
            elif row[0] in snapshot.CONSTRAINT_KINDS:
                key = (side, "constraint", row[1])
            else:
                key = (side, row[0], row[1])
            group = groups.setdefault(key, snapshot.Changes([], [], []))
            getattr(group, side).append(row)
    for expected, found in changes.changed:
        groups[("changed", expected[0], expected[1])] = snapshot.Changes([], [], [(expected, found)])
    return list(groups.values())


def _diverged(name: str, state: live.LiveState, reference: snapshot.Snapshot, revisions: tuple[str, ...],
              root: Path) -> list[Finding]:
    changes = state.snapshot.changes(reference).without_not_null()
    changes = snapshot.Changes([row for row in changes.left_over if row[0] != "extension"], changes.missing,
                               changes.changed)
    at = ", ".join(revisions)
    findings = []
    for group in _object_groups(changes):
        lines = group.summary()
        line = next((text for text in lines if ": index " not in text), lines[0])  # a constraint, not its index
        _side, _, rest = line.partition(": ")
        if group.left_over:
            what = f"{rest} is in the live database, but the migrations up to {at} do not create it"
        elif group.missing:
            what = f"{rest} is not in the live database, but the migrations up to {at} create it"
        else:
            (expected, found), = group.changed
            what = (f"{expected[0]} {expected[1]} is {found[2] or '(nothing)'} in the live database, but "
                    f"{expected[2] or '(nothing)'} after the migrations up to {at}")
        revert = downgrade_code(group, state.snapshot)
        adopt = downgrade_code(group.reversed(), reference)
        findings.append(LIVE_SCHEMA_DIVERGED.at(
            f"{name}: {what} (a manual change, or a migration left half-done).", None, root, database=name,
            objects=group.lines(), adopt_code="\n".join(adopt), revert_code="\n".join(revert)))
    return findings


def _key(diff: tuple[object, ...]) -> str:
    return describe(diff)[0]


def _model_drift(name: str, on_live: Comparison, at_live_revision: Comparison, at_head: Comparison,
                 models: ModelIndex, scripts: list[MigrationScript], root: Path,
                 project: AlembicProject) -> list[Finding]:
    """The models against the live database, less what pending migrations explain (differences at the live
    revision that head no longer has) and less what the live database's own divergence explains (differences
    the migrations at its revision do not have): what is left, no migration makes go away."""
    explained_by_neither = {_key(diff) for diff in at_live_revision.diffs} & {_key(diff) for diff in at_head.diffs}
    kept = [diff for diff in on_live.diffs if _key(diff) in explained_by_neither]
    if not kept:
        return []
    found, _code = check_models(dataclasses.replace(on_live, diffs=kept), models, root, scripts, project.env_py)
    return [dataclasses.replace(finding, rule=LIVE_MODEL_DRIFT.id, severity=LIVE_MODEL_DRIFT.severity,
                                message=f"{name}: " + finding.message.replace("after the migrations",
                                                                              "in the live database"),
                                details={**finding.details, "database": name}) for finding in found]
