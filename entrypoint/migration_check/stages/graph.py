"""Stage: the revision graph, read statically: one head, no dangling links, no duplicate ids, no cycles."""

from __future__ import annotations

from pathlib import Path

from migration_check.findings import Finding
from migration_check.history.scripts import MigrationScript
from migration_check.paths import relative_to_root
from migration_check.rules import BROKEN_REVISION_GRAPH, MULTIPLE_HEADS

# The problems that stop Alembic from loading the graph at all (its KeyError or CycleDetected): nothing that
# needs the revisions in order can run.
UNLOADABLE_GRAPH = {"unknown-parent": "a down_revision names no migration",
                    "unknown-dependency": "a depends_on names no revision or branch label",
                    "cycle": "the revisions form a cycle"}


def heads(scripts: list[MigrationScript]) -> list[MigrationScript]:
    revised = {parent for script in scripts for parent in script.down_revisions}
    return [script for script in scripts if script.revision and script.revision not in revised]


def _cycle(scripts: list[MigrationScript]) -> list[str] | None:
    parents = {s.revision: s.down_revisions for s in scripts if s.revision}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(revision: str, trail: list[str]) -> list[str] | None:
        state[revision] = 1
        for parent in parents.get(revision, ()):
            if state.get(parent) == 1:
                return [*trail[trail.index(parent):], parent] if parent in trail else [revision, parent]
            if parent in parents and state.get(parent) != 2:
                found = visit(parent, [*trail, parent])
                if found:
                    return found
        state[revision] = 2
        return None

    for revision in parents:
        if revision not in state:
            found = visit(revision, [revision])
            if found:
                return found
    return None


def check_graph(scripts: list[MigrationScript], root: Path) -> list[Finding]:
    findings: list[Finding] = []

    def broken(script: MigrationScript, message: str, line: int, **details: object) -> None:
        findings.append(Finding(BROKEN_REVISION_GRAPH.id, BROKEN_REVISION_GRAPH.severity, message,
                                relative_to_root(script.path, root), line, script.revision, dict(details)))

    by_revision: dict[str, MigrationScript] = {}
    for script in scripts:
        if not script.revision:
            broken(script, f"{script.path.name} declares no revision id.", script.revision_line, problem="no-id")
            continue
        if script.revision in by_revision:
            first = by_revision[script.revision]
            broken(script, f"Revision {script.revision} is declared twice: here and in {first.path.name}.",
                   script.revision_line, problem="duplicate", other=relative_to_root(first.path, root))
            continue
        by_revision[script.revision] = script
    labels = {label for script in scripts for label in script.branch_labels}
    for script in scripts:
        for parent in script.down_revisions:
            if parent not in by_revision:
                broken(script, f"down_revision names {parent}, which no migration declares.",
                       script.down_revision_line, problem="unknown-parent", missing=parent)
        for dependency in script.depends_on:
            if dependency not in by_revision and dependency not in labels:
                broken(script, f"depends_on names {dependency}, which is neither a revision nor a branch label.",
                       script.down_revision_line, problem="unknown-dependency", missing=dependency)
    cycle = _cycle(scripts)
    if cycle:
        script = by_revision[cycle[0]]
        broken(script, f"The revisions form a cycle: {' → '.join(cycle)}.", script.down_revision_line,
               problem="cycle", cycle=cycle)

    tips = heads(list(by_revision.values()))
    # a down_revision that names nothing makes its migration a root and cuts the graph: the heads it shows then
    # are the broken link's doing, not a branch to merge
    dangling = any(f.details.get("problem") == "unknown-parent" for f in findings)
    if len(tips) > 1 and not dangling:
        names = " ".join(tip.revision or "" for tip in tips)
        files = ", ".join(relative_to_root(tip.path, root) or "" for tip in tips)
        for tip in tips:
            findings.append(Finding(
                MULTIPLE_HEADS.id, MULTIPLE_HEADS.severity,
                f"The graph has {len(tips)} heads ({names}: {files}). Merge them: "
                f"alembic merge -m \"merge heads\" {names}",
                relative_to_root(tip.path, root), tip.down_revision_line, tip.revision,
                {"heads": [t.revision for t in tips], "command": f"alembic merge -m \"merge heads\" {names}"},
            ))
    return findings
