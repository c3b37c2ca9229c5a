"""The stages that read the migration files without a database: graph (with the per-file rules) and history."""

from __future__ import annotations

import os
from pathlib import Path

from migration_check.alembic_runner import AlembicProject
from migration_check.errors import ProjectLoadError
from migration_check.findings import Finding
from migration_check.history.git import files_at, resolve_commit
from migration_check.history.scripts import MigrationScript, migration_files, read_script
from migration_check.stages.graph import check_graph
from migration_check.stages.history import check_history
from migration_check.stages.lint import check_script

SKIPPED_FOLDERS = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages", ".tox"}


def read_scripts(project: AlembicProject) -> list[MigrationScript]:
    return [read_script(path) for path in migration_files(project.version_folders(), project.recursive_versions)]


def project_has_naming_convention(project_dir: Path, skip: tuple[Path, ...]) -> bool:
    """Whether the project's code (not its migrations) sets a MetaData naming_convention anywhere."""
    skipped = {folder.resolve() for folder in skip}
    for folder, dirs, files in os.walk(project_dir):
        dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS and (Path(folder) / d).resolve() not in skipped]
        for name in files:
            if name.endswith(".py"):
                try:
                    if "naming_convention" in (Path(folder) / name).read_text(encoding="utf-8", errors="ignore"):
                        return True
                except OSError:
                    continue
    return False


def check_files(project: AlembicProject, scripts: list[MigrationScript], root: Path) -> list[Finding]:
    findings = check_graph(scripts, root)
    convention = project_has_naming_convention(project.location.project_dir, project.version_folders())
    for script in scripts:
        findings.extend(check_script(script, root, convention))
    return findings


def revisions_at(project: AlembicProject, base_ref: str, root: Path) -> set[str]:
    """The revision ids at the base ref, read from git."""
    commit = resolve_commit(root, base_ref)
    found: set[str] = set()
    for folder in project.version_folders():
        for path, text in files_at(root, commit, folder, project.recursive_versions).items():
            try:
                revision = read_script(path, text).revision
            except ProjectLoadError:
                continue
            if revision:
                found.add(revision)
    return found


def check_against_base(project: AlembicProject, scripts: list[MigrationScript], base_ref: str,
                       root: Path) -> list[Finding]:
    return check_history(scripts, project.version_folders(), project.recursive_versions, base_ref, root)
