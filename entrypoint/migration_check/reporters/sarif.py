"""SARIF 2.1.0, for GitHub code scanning (github/codeql-action/upload-sarif)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from migration_check import __version__
from migration_check.findings import AllowedFinding, Finding, Report, Severity
from migration_check.reporters import full_message
from migration_check.rules import RULES

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/org/migration-check"
RULES_URI = f"{INFORMATION_URI}/blob/main/docs/rules.md"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}
# The details that identify what a finding is about, whatever line it is on today.
_IDENTITY_KEYS = ("op", "schema", "table", "column", "name", "references", "database", "objects")


def fingerprint(finding: Finding) -> str:
    """Stable across runs and unrelated edits: the rule, the file and what the finding is about, not the line."""
    identity = {key: finding.details.get(key) for key in _IDENTITY_KEYS if finding.details.get(key) is not None}
    material = json.dumps([finding.rule, finding.file, finding.revision, identity], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    rule = RULES[rule_id]
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.what},
        "help": {"text": f"{rule.why}\n\nFix: {rule.fix}", "markdown": rule.markdown()},
        "helpUri": f"{RULES_URI}#{rule.id}",
        "defaultConfiguration": {"level": _LEVELS[rule.severity]},
        "properties": {"tags": ["migrations", "alembic", "postgresql"]},
    }


def _result(finding: Finding, rule_index: int, fallback_file: str | None) -> dict[str, Any]:
    file = finding.file or fallback_file
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": _LEVELS[finding.severity],
        "message": {"text": full_message(finding)},
        "partialFingerprints": {"migrationCheck/v1": fingerprint(finding)},
    }
    if file:
        location: dict[str, Any] = {"artifactLocation": {"uri": file, "uriBaseId": "%SRCROOT%"}}
        if finding.line:
            location["region"] = {"startLine": finding.line}
        result["locations"] = [{"physicalLocation": location}]
    if finding.revision:
        result["properties"] = {"revision": finding.revision}
    return result


def _suppressed(allowed: AllowedFinding, rule_index: int, fallback_file: str | None) -> dict[str, Any]:
    """An allowed finding: reported, but marked as suppressed with the reviewed reason, so that code scanning
    shows it as dismissed rather than open."""
    result = _result(allowed.finding, rule_index, fallback_file)
    kind = "inSource" if allowed.allowed_by.startswith("inline ") else "external"
    result["suppressions"] = [{"kind": kind, "status": "accepted",
                               "justification": f"{allowed.reason} ({allowed.allowed_by})"}]
    return result


def as_sarif(report: Report) -> dict[str, Any]:
    rule_ids = list(RULES)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "migration-check",
                        "version": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_descriptor(rule_id) for rule_id in rule_ids],
                    }
                },
                "results": [
                    *(_result(f, rule_ids.index(f.rule), report.config_file) for f in report.findings),
                    *(_suppressed(a, rule_ids.index(a.finding.rule), report.config_file) for a in report.allowed),
                ],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def render(report: Report) -> str:
    return json.dumps(as_sarif(report), indent=2) + "\n"
