"""Stage: the round trip. Each revision is applied, downgraded and applied again (the stairway), and the schema,
read from the catalogs, is compared after every step with what it should be. In full mode the whole history is
later downgraded to base (after the models were compared at head, so that nothing has to be applied a fifth
time); in changed mode only the change's revisions take the stairway, on top of the base's.

All steps run in one pass of the project's env.py, like one `alembic upgrade`, so that the cost is the
migrations' own plus a catalog read of what each step touched.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_check import snapshot
from migration_check.alembic_runner import BEFORE_FIRST_STEP, AlembicProject, Step, StepFailure, StepResult
from migration_check.database import ScratchDatabase
from migration_check.downgrade_code import downgrade_code
from migration_check.errors import UsageError
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.paths import relative_to_root
from migration_check.progress import Ticker, counted
from migration_check.rules import (
    DOWNGRADE_FAILED,
    IRREVERSIBLE_MIGRATION,
    ROUNDTRIP_MISMATCH,
    UPGRADE_FAILED,
    UPGRADE_NOT_IDEMPOTENT,
    Rule,
)
from migration_check.stages.apply import upgrade_failure

MAX_LISTED = 12  # differences listed in one finding's message; all of them are in its details

# What each planned step is for, which decides what is compared after it and what its failure means.
PREFIX, FIRST_UP, DOWN, RE_UP, TO_BASE = "prefix", "first-up", "down", "re-up", "to-base"
_FAILURE_RULE = {PREFIX: UPGRADE_FAILED, FIRST_UP: UPGRADE_FAILED, DOWN: DOWNGRADE_FAILED, TO_BASE: DOWNGRADE_FAILED,
                 RE_UP: UPGRADE_NOT_IDEMPOTENT}


@dataclass
class RoundTripOutcome:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    at_head: bool = True  # whether the database ended at head, ready for the comparison
    upgrade_failed: bool = False
    steps: int = 0  # the steps that ran
    planned: int = 0
    stopped_at: str | None = None  # the revision whose failing step ended the stairway
    # Revisions whose round trip changed the schema for good (env.py committed each migration, so the savepoint
    # could not take it back): the database must start over before the models are compared.
    changed_for_good: list[str] = field(default_factory=list)


def _stairway_plan(order: list[str], prefix: list[str], irreversible: set[str]) -> list[tuple[str, Step]]:
    """Each revision's downgrade and re-upgrade form one undo group: when either fails, the database goes back to
    the revision applied once, and the stairway goes on with the next revision, so that one run names every
    broken downgrade."""
    plan = [(PREFIX, Step(revision, True)) for revision in prefix]
    for revision in order:
        plan.append((FIRST_UP, Step(revision, True)))
        if revision not in irreversible:
            group = len(plan)
            plan += [(DOWN, Step(revision, False, undo_group=group)), (RE_UP, Step(revision, True, undo_group=group))]
    return plan


class RoundTrip:
    """The stairway, then (full mode) the downgrade to base, on one database, sharing one schema tracker."""

    def __init__(
        self,
        project: AlembicProject,
        database: ScratchDatabase,
        scripts: list[MigrationScript],
        at_base: set[str] | None,
        excluded_schemas: tuple[str, ...],
        root: Path,
    ) -> None:
        """at_base: the base ref's revisions, applied plainly before the stairway takes the change's own (changed
        mode); None for the stairway over the whole history (full mode)."""
        self.project, self.database, self.root = project, database, root
        self.full = at_base is None
        self.by_revision = {script.revision: script for script in scripts}
        self.order = project.ordered_revisions()
        self.stairway_revisions = [r for r in self.order if at_base is None or r not in at_base]
        self.prefix = [r for r in self.order if r not in self.stairway_revisions]
        self.irreversible = {r for r in self.stairway_revisions
                             if r in self.by_revision and self.by_revision[r].marked_irreversible}
        self.query = snapshot.SchemaQuery(excluded_schemas)
        self.initial: snapshot.Snapshot | None = None
        self.failed_downgrades: list[str] = []  # in the stairway, lowest first
        # revisions whose downgrade and re-upgrade could not be taken back (a commit in between): the database
        # at head has been through them, unlike one that was only ever upgraded
        self.went_through: list[str] = []
        # what the stairway's downgrades left over or lost: the downgrade to base does not report it again
        self.reported: set[snapshot.Row] = set()

    @property
    def goes_down_to_base(self) -> bool:
        """Whether the downgrade to base can say anything: it would stop at the topmost failing downgrade."""
        return self.full and bool(self.order) and not self.irreversible and not self.failed_downgrades

    def _where(self, revision: str) -> tuple[str | None, int | None]:
        script = self.by_revision.get(revision)
        return (relative_to_root(script.path, self.root), script.revision_line) if script else (None, None)

    def _mismatch(self, rule: Rule, revision: str, changes: snapshot.Changes, what: str, step: str,
                  code: list[str] | None = None, extra: list[str] | None = None) -> Finding:
        file, line = self._where(revision)
        summary = changes.summary() + (extra or []) or changes.lines()  # never an empty message
        listed = "; ".join(summary[:MAX_LISTED]) + ("; …" if len(summary) > MAX_LISTED else "")
        details: dict[str, object] = {"differences": changes.lines() + (extra or []), "step": step}
        if code:
            details["suggested_downgrade"] = "\n".join(code)
        return Finding(rule.id, rule.severity, f"{what} revision {revision}: {listed}", file, line, revision,
                       details)

    def stairway(self, advance: Ticker | None = None) -> RoundTripOutcome:
        outcome = RoundTripOutcome()
        plan = _stairway_plan(self.stairway_revisions, self.prefix, self.irreversible)
        outcome.planned = len(plan)
        for revision in sorted(self.irreversible, key=self.order.index):
            file, line = self._where(revision)
            how = ("its downgrade() raises NotImplementedError" if self.by_revision[revision].downgrade_refuses
                   else "it is marked irreversible")
            outcome.findings.append(Finding(IRREVERSIBLE_MIGRATION.id, IRREVERSIBLE_MIGRATION.severity,
                                            f"Revision {revision} cannot be undone ({how}): it was applied but not "
                                            "downgraded.", file, line, revision, {}))
        if self.irreversible and self.full:
            outcome.notes.append("roundtrip: the downgrade to base was skipped, since a migration is irreversible")

        tracker = snapshot.SchemaTracker(self.query)
        with self.database.connect() as connection:
            superuser = connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            tracker.start(connection, can_trace=bool(superuser and superuser[0]))
            if self.prefix:  # the base's revisions: the whole schema is read after them, so nothing is noted
                tracker.pause(connection)
        self.initial = tracker.view(tracker.state, tracker.state)
        before: dict[str, snapshot.State] = {}  # the schema before each revision's first upgrade
        after_up: dict[str, snapshot.State] = {}
        touched: dict[str, set[int]] = {}  # the groups each revision's steps touched so far
        clean_downgrades: set[str] = set()  # revisions whose downgrade gave the schema back exactly

        def suggested_downgrade(revision: str) -> list[str] | None:
            """What the upgrade did, taken back: the downgrade that would have worked."""
            if revision not in after_up:
                return None
            scope = touched[revision]
            return downgrade_code(tracker.view(after_up[revision], scope).changes(tracker.view(before[revision],
                                                                                               scope)))

        def observe(index: int, context: Any, result: StepResult | None) -> None:
            if index == BEFORE_FIRST_STEP:
                already = context.get_current_heads()
                if already:
                    raise _upgraded_behind_our_back(already, self.project)
                # what env.py and Alembic set up before any migration (a schema for the version table, the version
                # table) belongs to no revision: it is part of the starting point
                tracker.refresh(context.connection)
                self.initial = tracker.view(tracker.state, tracker.state)
                return
            if advance is not None:
                advance(index + 1, len(plan), "steps")
            role, step = plan[index]
            revision = step.revision
            if role == PREFIX:
                if index + 1 == len(self.prefix):
                    tracker.resume(context.connection)
                return
            assert result is not None
            if result.failure is not None:  # taken back: the schema is again as the first upgrade left it
                code = suggested_downgrade(revision) if role == DOWN else None
                outcome.findings.append(self._failure(role, step, result.failure, code))
                if role == DOWN:
                    self.failed_downgrades.append(revision)
                tracker.state = after_up[revision].copy()
                for kept in (before, after_up, touched):
                    kept.pop(revision, None)
                return
            if role == RE_UP and result.taken_back and revision in clean_downgrades:
                # The downgrade gave back the schema as it was before the first upgrade, so applying the revision
                # again starts from the same schema; the savepoint's rollback now takes the re-upgrade back. A
                # re-upgrade that fails (data the downgrade left) is still a failure; reading the schema it left
                # would only repeat what the first upgrade's read showed (a third of the tracker's reads).
                clean_downgrades.discard(revision)
                tracker.state = after_up.pop(revision).copy()
                del touched[revision]
                before.pop(revision, None)
                return
            previous = tracker.state.copy()
            groups = tracker.refresh(context.connection)
            if role == FIRST_UP:
                before[revision], after_up[revision], touched[revision] = previous, tracker.state.copy(), set(groups)
                return
            touched[revision] |= groups
            scope = touched[revision]  # only what the revision's steps touched can differ
            if role == DOWN:
                expected, what, rule = before.pop(revision), "After downgrading", ROUNDTRIP_MISMATCH
            else:
                expected, what, rule = after_up.pop(revision), "Applying again", UPGRADE_NOT_IDEMPOTENT
                del touched[revision]
                before.pop(revision, None)
            # PostgreSQL 18's NOT NULL constraints are left out: the columns' definitions say NOT NULL, and a
            # constraint's name (taken from the table's name at the time) is no difference a migration can make
            changes = tracker.view(tracker.state, scope).changes(tracker.view(expected, scope)).without_not_null()
            if role == RE_UP:  # what the downgrade left behind is its finding, not the re-upgrade's as well
                changes = changes.without(self.reported)
            if role == DOWN and not changes.lines():
                clean_downgrades.add(revision)
            if changes.lines():
                code = None
                if rule is ROUNDTRIP_MISMATCH:
                    code = downgrade_code(changes, tracker.view(tracker.state, tracker.state))
                    self.reported |= {*changes.left_over, *changes.missing}
                outcome.findings.append(self._mismatch(rule, revision, changes, what, role, code))
            if result.taken_back:  # the database is again as the first upgrade left it
                tracker.state = expected.copy()
            elif role == RE_UP:
                self.went_through.append(revision)

        try:
            run = self.project.run_steps([step for _role, step in plan], observe)
        except BaseException:
            # the error (or the signal) matters more than removing the event triggers from a doomed database
            with contextlib.suppress(Exception):
                self._stop_tracking(tracker)
            raise
        self._stop_tracking(tracker)
        outcome.steps = run.ran
        if run.stopped is not None:
            failure = run.stopped
            role, step = plan[failure.index]
            outcome.findings.append(self._failure(role, step, failure,
                                                  suggested_downgrade(step.revision) if role == DOWN else None))
            outcome.at_head = False
            outcome.upgrade_failed = _FAILURE_RULE[role] is UPGRADE_FAILED
            outcome.stopped_at = step.revision
            position = self.stairway_revisions.index(step.revision) if step.revision in self.stairway_revisions \
                else -1
            unchecked = self.stairway_revisions[position + 1:]
            if unchecked:
                outcome.notes.append(
                    f"roundtrip: stopped at revision {step.revision} after {run.ran} of {len(plan)} steps; "
                    f"{counted(len(unchecked), 'revision')} above it {_were(unchecked)} not checked "
                    f"({listed_revisions(unchecked)})")
        if run.skipped:
            outcome.notes.append(
                f"roundtrip: {listed_revisions(self.failed_downgrades)} {_were(self.failed_downgrades)} not applied "
                "again (upgrade-not-idempotent not checked), since the downgrade failed")
        changed_by_trip = sorted({f.revision for f in outcome.findings if f.revision in self.went_through
                                  and f.rule in (ROUNDTRIP_MISMATCH.id, UPGRADE_NOT_IDEMPOTENT.id)},
                                 key=self.order.index)
        if run.stopped is None:
            outcome.changed_for_good = changed_by_trip
        if self.full and not self.irreversible:
            if run.stopped is not None:
                outcome.notes.append(f"to-base: not run, since the round trip stopped at revision "
                                     f"{plan[run.stopped.index][1].revision}")
            elif self.failed_downgrades:
                outcome.notes.append(
                    f"to-base: not run: the downgrade to base would stop at revision {self.failed_downgrades[-1]}, "
                    "whose downgrade fails (downgrade-failed), so what is left at base could not be compared")
        return outcome

    def _stop_tracking(self, tracker: snapshot.SchemaTracker) -> None:
        with self.database.connect() as connection:
            tracker.stop(connection)

    def down_to_base(self, advance: Ticker | None = None) -> tuple[list[Finding], int]:
        """Downgrade everything, then check that nothing but an empty alembic_version is left. Returns the
        findings and the number of steps that ran."""
        assert self.initial is not None, "the stairway runs first"
        plan = [(TO_BASE, Step(revision, False)) for revision in reversed(self.order)]
        findings: list[Finding] = []
        initial = self.initial

        def observe(index: int, context: Any, _result: StepResult | None) -> None:
            if index == BEFORE_FIRST_STEP:
                return
            if advance is not None:
                advance(index + 1, len(plan), "steps")
            if index + 1 < len(plan):
                return  # only the bottom is compared
            changes = snapshot.take(context.connection, self.query).changes(initial).without(self.reported)
            changes = changes.without_not_null()
            heads = context.get_current_heads()
            extra = [f"alembic_version still holds {', '.join(heads)}"] if heads else []
            if changes.lines() or extra:
                findings.append(self._mismatch(ROUNDTRIP_MISMATCH, plan[index][1].revision, changes,
                                               "After downgrading everything to base, below", TO_BASE, extra=extra))

        run = self.project.run_steps([step for _role, step in plan], observe)
        if run.stopped is not None:
            role, step = plan[run.stopped.index]
            findings.append(self._failure(role, step, run.stopped))
        return findings, run.ran

    def _failure(self, role: str, step: Step, failure: StepFailure, code: list[str] | None = None) -> Finding:
        rule = _FAILURE_RULE[role]
        file = relative_to_root(failure.file, self.root) if failure.file else self._where(step.revision)[0]
        if rule is UPGRADE_FAILED:
            return upgrade_failure(step.revision, file, failure.line, failure.error,
                                   first=step.revision in self.project.roots())
        verb = "Applying again" if role == RE_UP else "Applying" if step.upgrade else "Downgrading"
        details: dict[str, object] = {"error": failure.error, "step": role}
        if code:
            details["suggested_downgrade"] = "\n".join(code)
        return Finding(rule.id, rule.severity, f"{verb} revision {step.revision} failed: "
                       f"{failure.error.splitlines()[0]}", file, failure.line, step.revision, details)


def listed_revisions(revisions: list[str], most: int = 8) -> str:
    shown = ", ".join(revisions[:most]) + (f" and {len(revisions) - most} more" if len(revisions) > most else "")
    return ("revision " if len(revisions) == 1 else "revisions ") + shown


def _were(items: list[str]) -> str:
    return "was" if len(items) == 1 else "were"


def _upgraded_behind_our_back(heads: tuple[str, ...], project: AlembicProject) -> UsageError:
    """The scratch database was empty when the check began; at the first step it already holds revisions."""
    flask = " (a Flask create_app() that calls flask_migrate.upgrade(), say)" if project.flask_app else ""
    return UsageError(
        f"The scratch database already held revision {', '.join(heads)} before the round trip applied anything: "
        f"the project migrated it itself while env.py or the application loaded{flask}. The check needs an "
        "empty database to start from.",
        fix="Make the application skip its own upgrade when it is loaded for migrations (a factory argument, or "
        "an environment flag you pass with --env NAME=VALUE), or name an application that does not upgrade "
        "with --env FLASK_APP=module:app.",
        file=project.env_py,
    )
