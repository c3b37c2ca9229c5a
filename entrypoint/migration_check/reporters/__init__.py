"""Reporters: each turns the same Report into one output format."""

from __future__ import annotations

from collections.abc import Callable

from migration_check.findings import AUTOGENERATE_COMMAND, Finding, Report, Severity
from migration_check.rules import DOWNGRADE_FAILED, Rule


def grouped_by_rule(report: Report) -> list[tuple[str, list[Finding]]]:
    """Findings grouped by rule, the most severe rule first, in the order the stages found them."""
    groups: dict[str, list[Finding]] = {}
    for finding in report.findings:
        groups.setdefault(finding.rule, []).append(finding)
    return sorted(groups.items(), key=lambda item: -max(f.severity for f in item[1]))


def location(finding: Finding) -> str:
    if finding.file and finding.line:
        return f"{finding.file}:{finding.line}"
    return finding.file or ""


def verdict(report: Report, threshold: Severity | None) -> str:
    counts = ", ".join(
        f"{report.count(s)} {s.label}{'s' if report.count(s) != 1 else ''}"
        for s in (Severity.ERROR, Severity.WARNING, Severity.NOTICE)
    )
    allowed = f", {len(report.allowed)} allowed" if report.allowed else ""
    if not report.findings:
        return f"passed: no findings{allowed}"
    return f"{'failed' if report.fails(threshold) else 'passed with findings'}: {counts}{allowed}"


def render(report: Report, output_format: str, threshold: Severity | None, color: bool = False) -> str:
    from migration_check.reporters import json_report, markdown, sarif, text

    renderers: dict[str, Callable[[], str]] = {
        "text": lambda: text.render(report, threshold, color),
        "json": lambda: json_report.render(report),
        "markdown": lambda: markdown.render(report, threshold),
        "sarif": lambda: sarif.render(report),
    }
    return renderers[output_format]()


SAFE_ALTERNATIVE_LABEL = "the safe way"  # the volume rules' details["safe_alternative"], in Alembic code


def downgrade_label(finding: Finding) -> str:
    """How to read a finding's suggested_downgrade: lines to add where the downgrade ran but left a difference,
    the whole body where it failed."""
    if finding.rule == DOWNGRADE_FAILED.id:
        return "a downgrade() that takes back what upgrade() did"
    return "downgrade() would need"


def full_message(finding: Finding, fix: str | None = None) -> str:
    """The finding as plain text for outputs shown beside the code (annotations, code scanning): the message, the
    hint that says how to provide what is missing, the fix if given, and the code downgrade() lacks."""
    parts = [finding.message]
    if finding.details.get("hint"):
        parts.append(f"Hint: {finding.details['hint']}")
    if fix:
        parts.append(f"Fix: {fix}")
    if finding.details.get("suggested_downgrade"):
        parts.append(f"{downgrade_label(finding)}:\n{finding.details['suggested_downgrade']}")
    if finding.details.get("safe_alternative"):
        parts.append(f"{SAFE_ALTERNATIVE_LABEL}:\n{finding.details['safe_alternative']}")
    return "\n".join(parts)


def fix_for(rule: Rule, report: Report) -> str:
    """The rule's fix in this project's words: `flask db migrate` where Flask-Migrate writes the migrations."""
    return rule.fix.replace(AUTOGENERATE_COMMAND, report.autogenerate_command)
