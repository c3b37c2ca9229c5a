"""Stage: the round trip. Each revision is applied, downgraded and applied again (the stairway), and the schema,
read from the catalogs, is compared after every step with what it should be. In full mode the whole history is
then downgraded to base and applied once more; in changed mode only the change's revisions take the stairway,
on top of the base's.

All steps run in one pass of the project's env.py, like one `alembic upgrade`, so that the cost is the
migrations' own plus one catalog query per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_check import snapshot
from migration_check.alembic_runner import AlembicProject, Step
from migration_check.database import ScratchDatabase
from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.paths import relative_to_root
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
PREFIX, FIRST_UP, DOWN, RE_UP, TO_BASE, FINAL_UP = "prefix", "first-up", "down", "re-up", "to-base", "final-up"
_FAILURE_RULE = {PREFIX: UPGRADE_FAILED, FIRST_UP: UPGRADE_FAILED, DOWN: DOWNGRADE_FAILED, TO_BASE: DOWNGRADE_FAILED,
                 RE_UP: UPGRADE_NOT_IDEMPOTENT, FINAL_UP: UPGRADE_NOT_IDEMPOTENT}


@dataclass
class RoundTripOutcome:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    at_head: bool = True  # whether the database ended at head, ready for the comparison
    upgrade_failed: bool = False
    steps: int = 0


def _plan(order: list[str], prefix: list[str], irreversible: set[str], full: bool) -> list[tuple[str, Step]]:
    plan = [(PREFIX, Step(revision, True)) for revision in prefix]
    for revision in order:
        plan.append((FIRST_UP, Step(revision, True)))
        if revision not in irreversible:
            plan += [(DOWN, Step(revision, False)), (RE_UP, Step(revision, True))]
    if full and not irreversible:
        plan += [(TO_BASE, Step(revision, False)) for revision in reversed(order)]
        plan += [(FINAL_UP, Step(revision, True)) for revision in order]
    return plan


def check_roundtrip(
    project: AlembicProject,
    database: ScratchDatabase,
    scripts: list[MigrationScript],
    at_base: set[str] | None,
    excluded_schemas: tuple[str, ...],
    root: Path,
) -> RoundTripOutcome:
    """at_base: the base ref's revisions, applied plainly before the stairway takes the change's own (changed
    mode); None for the stairway over the whole history (full mode)."""
    outcome = RoundTripOutcome()
    by_revision = {script.revision: script for script in scripts}
    order = project.ordered_revisions()
    stairway = [r for r in order if at_base is None or r not in at_base]
    prefix = [r for r in order if r not in stairway]
    irreversible = {r for r in stairway if by_revision.get(r) is not None and by_revision[r].marked_irreversible}
    plan = _plan(stairway, prefix, irreversible, full=at_base is None)
    outcome.steps = len(plan)

    def where(revision: str) -> tuple[str | None, int | None]:
        script = by_revision.get(revision)
        return (relative_to_root(script.path, root), script.revision_line) if script else (None, None)

    for revision in sorted(irreversible, key=order.index):
        file, line = where(revision)
        outcome.findings.append(Finding(IRREVERSIBLE_MIGRATION.id, IRREVERSIBLE_MIGRATION.severity,
                                        f"Revision {revision} is marked irreversible: it was applied but not "
                                        "downgraded.", file, line, revision, {}))
    if irreversible and at_base is None:
        outcome.notes.append("roundtrip: the downgrade to base was skipped, since a migration is irreversible")

    query = snapshot.query(excluded_schemas)
    with database.connect() as connection:
        initial = snapshot.take(connection, query)
    after_first_up: dict[str, snapshot.Snapshot] = {}
    before: dict[str, snapshot.Snapshot] = {}
    state = {"last": initial}

    def mismatch(rule: Rule, revision: str, differences: list[str], what: str) -> None:
        file, line = where(revision)
        listed = "; ".join(differences[:MAX_LISTED]) + ("; …" if len(differences) > MAX_LISTED else "")
        outcome.findings.append(Finding(rule.id, rule.severity, f"{what} revision {revision}: {listed}", file, line,
                                        revision, {"differences": differences}))

    def observe(index: int, context: Any) -> None:
        role, step = plan[index]
        needs_snapshot = role != PREFIX or index + 1 == len(prefix)
        if role == TO_BASE and index + 1 < len(plan) and plan[index + 1][0] == TO_BASE:
            needs_snapshot = False  # only the bottom of the downgrade to base is compared
        if role == FINAL_UP:
            return  # the comparison stage checks the final state against the models
        if not needs_snapshot:
            return
        now = snapshot.take(context.connection, query)
        if role == FIRST_UP:
            before[step.revision] = state["last"]
            after_first_up[step.revision] = now
        elif role == DOWN:
            differences = now.difference(before[step.revision])
            if differences:
                mismatch(ROUNDTRIP_MISMATCH, step.revision, differences, "After downgrading")
        elif role == RE_UP:
            differences = now.difference(after_first_up[step.revision])
            if differences:
                mismatch(UPGRADE_NOT_IDEMPOTENT, step.revision, differences, "Applying again")
        elif role == TO_BASE:
            differences = now.difference(initial)
            heads = context.get_current_heads()
            if heads:
                differences.append(f"alembic_version still holds {', '.join(heads)}")
            if differences:
                mismatch(ROUNDTRIP_MISMATCH, step.revision, differences, "After downgrading everything to base, below")
        state["last"] = now

    failure = project.run_steps([step for _role, step in plan], observe)
    if failure is not None:
        role, step = plan[failure.index]
        rule = _FAILURE_RULE[role]
        file = relative_to_root(failure.file, root) if failure.file else where(step.revision)[0]
        verb = "Applying" if step.upgrade else "Downgrading"
        again = " again" if role in (RE_UP, FINAL_UP) else ""
        if rule is UPGRADE_FAILED:
            outcome.findings.append(upgrade_failure(step.revision, file, failure.line, failure.error))
        else:
            outcome.findings.append(Finding(rule.id, rule.severity,
                                            f"{verb}{again} revision {step.revision} failed: "
                                            f"{failure.error.splitlines()[0]}",
                                            file, failure.line, step.revision, {"error": failure.error, "step": role}))
        outcome.at_head = False
        outcome.upgrade_failed = rule is UPGRADE_FAILED
    return outcome
