"""Stage: apply every migration from scratch (`alembic upgrade heads`) on the empty scratch database."""

from __future__ import annotations

from pathlib import Path

from migration_check.alembic_runner import AlembicProject
from migration_check.findings import Finding
from migration_check.paths import relative_to_root
from migration_check.rules import UPGRADE_FAILED


def check_upgrade(project: AlembicProject, root: Path) -> list[Finding]:
    failure = project.upgrade()
    if failure is None:
        return []
    where = f"revision {failure.revision}" if failure.revision else "a migration"
    file = relative_to_root(failure.file, root)
    message = f"Applying {where} failed: {failure.error.splitlines()[0]}"
    details: dict[str, object] = {"error": failure.error}
    if failure.statement:
        details["statement"] = failure.statement.strip()
    return [
        Finding(
            rule=UPGRADE_FAILED.id,
            severity=UPGRADE_FAILED.severity,
            message=message,
            file=file,
            line=failure.line,
            revision=failure.revision,
            details=details,
        )
    ]
