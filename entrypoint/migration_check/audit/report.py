"""What an audit found, database by database; its JSON form, which `merge-reports` reads back to join the
reports of a matrix's shards into one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migration_check import __version__
from migration_check.errors import UsageError
from migration_check.findings import Finding, Report, ServerInfo, Severity, StepTiming

AUDIT_REPORT_KIND = "audit"
AUDIT_REPORT_VERSION = 1
VERDICTS = ("error", "drift", "behind", "clean")  # the worst first


@dataclass
class DatabaseAudit:
    name: str
    revisions: tuple[str, ...] = ()
    pending: list[dict[str, Any]] = field(default_factory=list)  # {revision, message, file}, in order
    findings: list[Finding] = field(default_factory=list)
    tables: list[dict[str, Any]] = field(default_factory=list)  # {schema, table, rows, bytes}
    server_version: str | None = None
    error: str | None = None  # why it could not be audited
    fix: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "error"
        if any(f.rule != "live-behind-head" for f in self.findings):
            return "drift"
        return "behind" if self.pending else "clean"

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "revisions": list(self.revisions),
            "pending": self.pending,
            "findings": [finding.as_json() for finding in self.findings],
            "tables": self.tables,
            "server_version": self.server_version,
            "error": self.error,
            "fix": self.fix,
            "notes": self.notes,
            "seconds": round(self.seconds, 3),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatabaseAudit:
        return cls(
            name=str(data["name"]),
            revisions=tuple(data.get("revisions") or ()),
            pending=list(data.get("pending") or []),
            findings=[Finding(f["rule"], Severity.parse(f["severity"]), f["message"], f.get("file"), f.get("line"),
                              f.get("revision"), dict(f.get("details") or {})) for f in data.get("findings") or []],
            tables=list(data.get("tables") or []),
            server_version=data.get("server_version"),
            error=data.get("error"),
            fix=data.get("fix"),
            notes=list(data.get("notes") or []),
            seconds=float(data.get("seconds") or 0.0),
        )


@dataclass
class AuditReport:
    project: str
    config_file: str | None = None
    heads: tuple[str, ...] = ()
    databases: list[DatabaseAudit] = field(default_factory=list)
    suggested_migration: str | None = None  # for live-model-drift: the migration the models need
    reference: ServerInfo | None = None
    timings: list[StepTiming] = field(default_factory=list)
    shards: list[str] = field(default_factory=list)  # "1/3", ... when sharded or merged
    listed: int = 0  # databases in the whole list

    @property
    def findings(self) -> list[Finding]:
        return [finding for database in self.databases for finding in database.findings]

    @property
    def unreachable(self) -> list[DatabaseAudit]:
        return [database for database in self.databases if database.error is not None]

    def fails(self, threshold: Severity | None) -> bool:
        return threshold is not None and any(finding.severity >= threshold for finding in self.findings)

    def count(self, severity: Severity) -> int:
        return sum(1 for finding in self.findings if finding.severity == severity)

    def as_check_report(self) -> Report:
        """The findings in the check's report form, for the outputs they share (SARIF, annotations)."""
        return Report(project=self.project, config_file=self.config_file, findings=self.findings,
                      suggested_migration=self.suggested_migration, server=self.reference, timings=self.timings)

    def as_json(self) -> dict[str, Any]:
        return {
            "version": AUDIT_REPORT_VERSION,
            "kind": AUDIT_REPORT_KIND,
            "tool": {"name": "migration-check", "version": __version__},
            "project": self.project,
            "config_file": self.config_file,
            "heads": list(self.heads),
            "shards": self.shards,
            "listed": self.listed,
            "summary": {
                "databases": len(self.databases),
                **{verdict: sum(1 for d in self.databases if d.verdict == verdict) for verdict in VERDICTS},
                "errors": self.count(Severity.ERROR),
                "warnings": self.count(Severity.WARNING),
                "notices": self.count(Severity.NOTICE),
            },
            "databases": [database.as_json() for database in self.databases],
            "suggested_migration": self.suggested_migration,
            "reference": self.reference.as_json() if self.reference else None,
            "timings": {t.name: round(t.seconds, 3) for t in self.timings},
        }


def render_json(report: AuditReport) -> str:
    return json.dumps(report.as_json(), indent=2, default=str) + "\n"


def read_report(path: Path) -> dict[str, Any]:
    """An audit report's JSON, checked to be one (merge-reports, --table-sizes)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"Cannot read the audit report {path}: {exc.strerror or exc}",
                         fix="Pass the JSON reports the audit jobs wrote (--report FILE).", file=path) from None
    except ValueError as exc:
        raise UsageError(f"{path} is not JSON: {exc}", fix="Pass the JSON reports the audit jobs wrote.",
                         file=path) from None
    if not isinstance(data, dict) or data.get("kind") != AUDIT_REPORT_KIND:
        raise UsageError(f"{path} is not an audit report (a check's report, or another file).",
                         fix="Pass the reports of `migration-check audit --report FILE`.", file=path)
    if data.get("version") != AUDIT_REPORT_VERSION:
        raise UsageError(f"{path} is an audit report of version {data.get('version')}; this migration-check reads "
                         f"version {AUDIT_REPORT_VERSION}.",
                         fix="Run the audit jobs and the merge with the same migration-check version.", file=path)
    return data


def table_sizes(path: Path) -> tuple[tuple[str, int], ...]:
    """The table sizes an audit recorded, as ("schema.table", rows): the largest count any database has."""
    sizes: dict[str, int] = {}
    for database in read_report(path).get("databases") or []:
        for table in database.get("tables") or [] if isinstance(database, dict) else []:
            if isinstance(table, dict) and isinstance(table.get("rows"), (int, float)) and table.get("table"):
                name = f"{table.get('schema') or 'public'}.{table['table']}"
                sizes[name] = max(sizes.get(name, 0), int(table["rows"]))
    return tuple(sorted(sizes.items()))


def merge(paths: list[Path]) -> AuditReport:
    """One report from the shards' reports of one project: every database once, in the list's order."""
    if not paths:
        raise UsageError("merge-reports needs at least one report.", fix="Pass the shards' JSON reports.")
    parts = [(path, read_report(path)) for path in paths]
    first_path, first = parts[0]
    merged = AuditReport(project=first["project"], config_file=first.get("config_file"),
                         heads=tuple(first.get("heads") or ()), listed=int(first.get("listed") or 0))
    seen: dict[str, Path] = {}
    for path, data in parts:
        if data["project"] != first["project"] or tuple(data.get("heads") or ()) != merged.heads:
            raise UsageError(
                f"{path} audits {data['project']} at heads {', '.join(data.get('heads') or ()) or 'none'}, and "
                f"{first_path} audits {first['project']} at {', '.join(merged.heads) or 'none'}.",
                fix="Merge the reports of one audit run: the same project, checked out at the same commit.",
                file=path)
        merged.shards.extend(data.get("shards") or [])
        for entry in data.get("databases") or []:
            if entry["name"] in seen:
                raise UsageError(f"Database {entry['name']!r} is in {seen[entry['name']]} and in {path}.",
                                 fix="Give each shard its own part of the list (--shard I/N with the same N).",
                                 file=path)
            seen[entry["name"]] = path
            merged.databases.append(DatabaseAudit.from_json(entry))
        merged.suggested_migration = merged.suggested_migration or data.get("suggested_migration")
    shard_counts = {shard.split("/")[1] for shard in merged.shards if "/" in shard}
    if len(shard_counts) == 1:
        expected = {f"{i}/{next(iter(shard_counts))}" for i in range(1, int(next(iter(shard_counts))) + 1)}
        missing = sorted(expected - set(merged.shards))
        if missing:
            merged.databases.append(DatabaseAudit(
                name=f"shard {', '.join(missing)}", error=f"no report of shard {', '.join(missing)} was given to "
                "merge-reports: its databases were not audited, or its report was not uploaded.",
                fix="Check the shard's job in the matrix, and that every job uploads its report."))
    return merged
