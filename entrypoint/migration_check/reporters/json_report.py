"""The JSON report (`--report FILE`, `--format json`); its schema is documented in docs/report-format.md."""

from __future__ import annotations

import json
from typing import Any

from migration_check import __version__
from migration_check.findings import Report

REPORT_VERSION = 1


def as_json(report: Report) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        "tool": {"name": "migration-check", "version": __version__},
        "project": report.project,
        "config_file": report.config_file,
        "settings_file": report.settings_file,
        "summary": {
            "errors": sum(1 for f in report.findings if f.severity.label == "error"),
            "warnings": sum(1 for f in report.findings if f.severity.label == "warning"),
            "notices": sum(1 for f in report.findings if f.severity.label == "notice"),
            "allowed": len(report.allowed),
        },
        "findings": [finding.as_json() for finding in report.findings],
        "allowed": [allowed.as_json() for allowed in report.allowed],
        "suggested_migration": report.suggested_migration,
        "server": report.server.as_json() if report.server else None,
        "driver": report.driver,
        "timings": {t.name: round(t.seconds, 3) for t in report.timings},
        "skipped": report.skipped,
        "volume": report.volume.as_json() if report.volume is not None else None,
    }


def render(report: Report) -> str:
    return json.dumps(as_json(report), indent=2, default=str) + "\n"
