"""The data that flows from the stages to the reporters."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    NOTICE = 1
    WARNING = 2
    ERROR = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        return cls[text.upper()]


# The command that writes a migration from the models, as the fixes name it.
AUTOGENERATE_COMMAND = 'alembic revision --autogenerate -m "<what changes>"'


@dataclass(frozen=True)
class Finding:
    """One problem, tied to a rule and, where known, to a file and line (relative to the repository root)."""

    rule: str
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    revision: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "revision": self.revision,
            "details": self.details,
        }


@dataclass(frozen=True)
class AllowedFinding:
    """A finding that a reviewed exception let through: it stays in the JSON report and in the counts."""

    finding: Finding
    reason: str
    allowed_by: str  # "allowlist .migration-check.yml:12" or "inline migrations/versions/0004_x.py:7"

    def as_json(self) -> dict[str, Any]:
        return {**self.finding.as_json(), "reason": self.reason, "allowed_by": self.allowed_by}


@dataclass(frozen=True)
class StepTiming:
    name: str
    seconds: float
    note: str = ""


@dataclass(frozen=True)
class ServerInfo:
    """Which PostgreSQL the check ran on."""

    kind: str  # "embedded" (our throwaway server) or "external" (--database-url)
    version: str
    source: str  # where the binaries came from, or the host of the given server
    database: str
    # Extensions the binaries lack, offered as migration-check's stand-ins (presets/extensions.py)
    stand_in_extensions: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "embedded":
            return f"PostgreSQL {self.version}, throwaway server ({self.source})"
        return f"PostgreSQL {self.version} at {self.source}, scratch database {self.database}"

    def as_json(self) -> dict[str, object]:
        return {"kind": self.kind, "version": self.version, "source": self.source, "database": self.database,
                "stand_in_extensions": list(self.stand_in_extensions)}


@dataclass
class Report:
    """Everything one run found, in the order the stages produced it."""

    project: str
    # The Alembic configuration file, relative to the repository root: where findings without a file of their
    # own are placed in annotations and SARIF.
    config_file: str | None = None
    findings: list[Finding] = field(default_factory=list)
    suggested_migration: str | None = None
    # The command that writes a migration in this project: Alembic's, or `flask db migrate` for Flask-Migrate.
    autogenerate_command: str = AUTOGENERATE_COMMAND
    server: ServerInfo | None = None
    timings: list[StepTiming] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    allowed: list[AllowedFinding] = field(default_factory=list)
    settings_file: str | None = None  # .migration-check.yml, relative to the repository root, when one was read
    driver: str | None = None  # the driver of env.py's connection, as it really connected
    # The volume stage's observations (stages/volume VolumeReport): each new revision's statements on filled
    # tables; None where the stage did not run
    volume: Any = None

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    def worst(self) -> Severity | None:
        return max((finding.severity for finding in self.findings), default=None)

    def fails(self, threshold: Severity | None) -> bool:
        """Whether any finding reaches the --fail-on threshold (None: never fail)."""
        worst = self.worst()
        return threshold is not None and worst is not None and worst >= threshold
