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
from migration_check.alembic_runner import BEFORE_FIRST_STEP, AlembicProject, Step, StepFailure
from migration_check.database import ScratchDatabase
from migration_check.downgrade_code import downgrade_code
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.paths import relative_to_root
from migration_check.progress import Ticker
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
    steps: int = 0


def _stairway_plan(order: list[str], prefix: list[str], irreversible: set[str]) -> list[tuple[str, Step]]:
    plan = [(PREFIX, Step(revision, True)) for revision in prefix]
    for revision in order:
        plan.append((FIRST_UP, Step(revision, True)))
        if revision not in irreversible:
            plan += [(DOWN, Step(revision, False)), (RE_UP, Step(revision, True))]
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

    @property
    def goes_down_to_base(self) -> bool:
        return self.full and not self.irreversible

    def _where(self, revision: str) -> tuple[str | None, int | None]:
        script = self.by_revision.get(revision)
        return (relative_to_root(script.path, self.root), script.revision_line) if script else (None, None)

    def _mismatch(self, rule: Rule, revision: str, changes: snapshot.Changes, what: str,
                  code: list[str] | None = None, extra: list[str] | None = None) -> Finding:
        file, line = self._where(revision)
        summary = changes.summary() + (extra or [])
        listed = "; ".join(summary[:MAX_LISTED]) + ("; …" if len(summary) > MAX_LISTED else "")
        details: dict[str, object] = {"differences": changes.lines() + (extra or [])}
        if code:
            details["suggested_downgrade"] = "\n".join(code)
        return Finding(rule.id, rule.severity, f"{what} revision {revision}: {listed}", file, line, revision,
                       details)

    def stairway(self, advance: Ticker | None = None) -> RoundTripOutcome:
        outcome = RoundTripOutcome()
        plan = _stairway_plan(self.stairway_revisions, self.prefix, self.irreversible)
        outcome.steps = len(plan)
        for revision in sorted(self.irreversible, key=self.order.index):
            file, line = self._where(revision)
            outcome.findings.append(Finding(IRREVERSIBLE_MIGRATION.id, IRREVERSIBLE_MIGRATION.severity,
                                            f"Revision {revision} is marked irreversible: it was applied but not "
                                            "downgraded.", file, line, revision, {}))
        if self.irreversible and self.full:
            outcome.notes.append("roundtrip: the downgrade to base was skipped, since a migration is irreversible")

        tracker = snapshot.SchemaTracker(self.query)
        with self.database.connect() as connection:
            superuser = connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            tracker.start(connection, can_trace=bool(superuser and superuser[0]))
        self.initial = tracker.view(tracker.state, tracker.state)
        before: dict[str, snapshot.State] = {}  # the schema before each revision's first upgrade
        after_up: dict[str, snapshot.State] = {}
        touched: dict[str, set[int]] = {}  # the groups each revision's steps touched so far

        def observe(index: int, context: Any) -> None:
            if index == BEFORE_FIRST_STEP:
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
                    tracker.refresh(context.connection, everything=True)
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
            changes = tracker.view(tracker.state, scope).changes(tracker.view(expected, scope))
            if changes.lines():
                code = (downgrade_code(changes, tracker.view(tracker.state, tracker.state))
                        if rule is ROUNDTRIP_MISMATCH else None)
                outcome.findings.append(self._mismatch(rule, revision, changes, what, code))

        try:
            failure = self.project.run_steps([step for _role, step in plan], observe)
        except BaseException:
            # the error (or the signal) matters more than removing the event triggers from a doomed database
            with contextlib.suppress(Exception):
                self._stop_tracking(tracker)
            raise
        self._stop_tracking(tracker)
        if failure is not None:
            role, step = plan[failure.index]
            code = None
            if role == DOWN and step.revision in after_up:
                # what the upgrade did, taken back: the downgrade that would have worked
                scope = touched[step.revision]
                undo = tracker.view(after_up[step.revision], scope).changes(tracker.view(before[step.revision], scope))
                code = downgrade_code(undo)
            outcome.findings.append(self._failure(role, step, failure, code))
            outcome.at_head = False
            outcome.upgrade_failed = _FAILURE_RULE[role] is UPGRADE_FAILED
        return outcome

    def _stop_tracking(self, tracker: snapshot.SchemaTracker) -> None:
        with self.database.connect() as connection:
            tracker.stop(connection)

    def down_to_base(self, advance: Ticker | None = None) -> list[Finding]:
        """Downgrade everything, then check that nothing but an empty alembic_version is left."""
        assert self.initial is not None, "the stairway runs first"
        plan = [(TO_BASE, Step(revision, False)) for revision in reversed(self.order)]
        findings: list[Finding] = []
        initial = self.initial

        def observe(index: int, context: Any) -> None:
            if index == BEFORE_FIRST_STEP:
                return
            if advance is not None:
                advance(index + 1, len(plan), "steps")
            if index + 1 < len(plan):
                return  # only the bottom is compared
            changes = snapshot.take(context.connection, self.query).changes(initial)
            heads = context.get_current_heads()
            extra = [f"alembic_version still holds {', '.join(heads)}"] if heads else []
            if changes.lines() or extra:
                findings.append(self._mismatch(ROUNDTRIP_MISMATCH, plan[index][1].revision, changes,
                                               "After downgrading everything to base, below", extra=extra))

        failure = self.project.run_steps([step for _role, step in plan], observe)
        if failure is not None:
            role, step = plan[failure.index]
            findings.append(self._failure(role, step, failure))
        return findings

    def _failure(self, role: str, step: Step, failure: StepFailure, code: list[str] | None = None) -> Finding:
        rule = _FAILURE_RULE[role]
        file = relative_to_root(failure.file, self.root) if failure.file else self._where(step.revision)[0]
        if rule is UPGRADE_FAILED:
            return upgrade_failure(step.revision, file, failure.line, failure.error)
        verb = "Applying again" if role == RE_UP else "Applying" if step.upgrade else "Downgrading"
        details: dict[str, object] = {"error": failure.error, "step": role}
        if code:
            details["suggested_downgrade"] = "\n".join(code)
        return Finding(rule.id, rule.severity, f"{verb} revision {step.revision} failed: "
                       f"{failure.error.splitlines()[0]}", file, failure.line, step.revision, details)
