"""Stage: the change against the base ref: no migration edited or deleted, new ones on the base head, and not
too many of them."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

from migration_check.errors import ProjectLoadError
from migration_check.findings import Finding, Severity
from migration_check.history.git import files_at, resolve_commit
from migration_check.history.scripts import MigrationScript, read_script
from migration_check.paths import relative_to_root
from migration_check.rules import DELETED_MIGRATION, MODIFIED_MIGRATION, NOT_ON_BASE_HEAD, SPLIT_MIGRATIONS
from migration_check.stages.graph import heads


def _same_code(before: str, after: str) -> bool:
    """Equal but for comments and whitespace (docstrings count: they are the message)."""
    try:
        return ast.dump(ast.parse(before)) == ast.dump(ast.parse(after))
    except SyntaxError:
        return False


def _first_changed_line(before: str, after: str) -> int:
    matcher = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False)
    for tag, _i1, _i2, j1, _j2 in matcher.get_opcodes():
        if tag != "equal":
            return j1 + 1
    return 1


def check_history(
    scripts: list[MigrationScript], folders: tuple[Path, ...], recursive: bool, base_ref: str, root: Path
) -> list[Finding]:
    commit = resolve_commit(root, base_ref)
    base_files: dict[Path, str] = {}
    for folder in folders:
        base_files.update(files_at(root, commit, folder, recursive))
    base_scripts = []
    for path, text in base_files.items():
        try:
            base_scripts.append(read_script(path, text))
        except ProjectLoadError:
            continue  # a file that did not parse at the base ref cannot have run anywhere
    current = {script.path: script for script in scripts}
    findings: list[Finding] = []

    for path, before in sorted(base_files.items()):
        script = current.get(path)
        if script is None:
            moved = next((s for s in scripts if s.revision and s.revision in
                          {b.revision for b in base_scripts if b.path == path}), None)
            how = f"renamed to {relative_to_root(moved.path, root)}" if moved else "deleted"
            findings.append(Finding(DELETED_MIGRATION.id, DELETED_MIGRATION.severity,
                                    f"{relative_to_root(path, root)} exists at {base_ref} and was {how}.",
                                    relative_to_root(moved.path if moved else path, root), 1,
                                    moved.revision if moved else None, {"base_ref": base_ref}))
        elif script.source != before:
            cosmetic = _same_code(before, script.source)
            findings.append(Finding(
                MODIFIED_MIGRATION.id, Severity.WARNING if cosmetic else MODIFIED_MIGRATION.severity,
                f"Revision {script.revision} exists at {base_ref} and was changed"
                f"{' (comments or whitespace only)' if cosmetic else ''}: applied databases will never run the "
                "new version.", relative_to_root(path, root), _first_changed_line(before, script.source),
                script.revision, {"base_ref": base_ref, "cosmetic": cosmetic}))

    added = [script for path, script in current.items() if path not in base_files]
    added_revisions = {s.revision for s in added}
    base_heads = {s.revision for s in heads(base_scripts)}
    suggestion = " or ".join(sorted(r for r in base_heads if r)) or "the base head"
    for script in added:
        wrong = [p for p in script.down_revisions if p not in base_heads and p not in added_revisions]
        new_root = not script.down_revisions and base_scripts and not script.branch_labels
        if wrong or new_root:
            parent = ", ".join(wrong) if wrong else "nothing (a new root)"
            findings.append(Finding(
                NOT_ON_BASE_HEAD.id, NOT_ON_BASE_HEAD.severity,
                f"New revision {script.revision} revises {parent}, but the head at {base_ref} is "
                f"{suggestion}: merging would make a second head. Set down_revision = {suggestion!r}.",
                relative_to_root(script.path, root), script.down_revision_line, script.revision,
                {"base_ref": base_ref, "base_heads": sorted(r for r in base_heads if r), "parents": wrong}))
    new_migrations = [s for s in added if not s.is_merge]
    if len(new_migrations) > 1:
        names = ", ".join(s.path.name for s in new_migrations)
        last = new_migrations[-1]
        findings.append(Finding(
            SPLIT_MIGRATIONS.id, SPLIT_MIGRATIONS.severity,
            f"The change adds {len(new_migrations)} migrations ({names}); related changes belong in one.",
            relative_to_root(last.path, root), last.message_line, last.revision,
            {"base_ref": base_ref, "added": [s.revision for s in new_migrations]}))
    return findings
