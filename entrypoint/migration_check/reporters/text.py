"""The terminal report: grouped by rule, with the fix and the suggested migration; colour on a TTY."""

from __future__ import annotations

from collections.abc import Callable

from migration_check.findings import Report, Severity
from migration_check.reporters import (
    SAFE_ALTERNATIVE_LABEL,
    downgrade_label,
    fix_for,
    grouped_by_rule,
    location,
    verdict,
)
from migration_check.rules import RULES
from migration_check.stages.volume.report import TABLE_HEADER, statement_rows

_COLORS = {Severity.ERROR: "31", Severity.WARNING: "33", Severity.NOTICE: "36"}


def render(report: Report, threshold: Severity | None, color: bool = False) -> str:
    def paint(value: str, code: str) -> str:
        return f"\033[{code}m{value}\033[0m" if color else value

    lines: list[str] = []
    for rule_id, findings in grouped_by_rule(report):
        rule = RULES.get(rule_id)
        severity = max(f.severity for f in findings)
        title = rule.title if rule else rule_id
        lines.append(paint(f"{severity.label} [{rule_id}] {title} ({len(findings)})", f"1;{_COLORS[severity]}"))
        for finding in findings:
            where = location(finding)
            lines.append(f"  {paint(where, '2') + '  ' if where else ''}{finding.message}")
            error = finding.details.get("error")
            if error and "\n" in error:
                lines.extend(f"      {line}" for line in error.splitlines()[1:])
            if finding.details.get("hint"):
                lines.append(f"      hint: {finding.details['hint']}")
            code = finding.details.get("suggested_downgrade")
            if code:
                lines.append(paint(f"      {downgrade_label(finding)}:", "1"))
                lines.extend(f"          {line}" for line in str(code).splitlines())
            safe = finding.details.get("safe_alternative")
            if safe:
                lines.append(paint(f"      {SAFE_ALTERNATIVE_LABEL}:", "1"))
                lines.extend(f"          {line}" for line in str(safe).splitlines())
        if rule:
            lines.append(f"  fix: {fix_for(rule, report)}")
        lines.append("")
    if report.suggested_migration:
        writer = report.autogenerate_command.split(" -m ")[0]
        lines.append(paint(f"suggested migration ({writer} would write):", "1"))
        lines.extend(f"    {line}" if line else "" for line in report.suggested_migration.rstrip().splitlines())
        lines.append("")
    for allowed in report.allowed:
        finding = allowed.finding
        lines.append(paint(f"allowed [{finding.rule}] {location(finding)}  {finding.message}  "
                           f"({allowed.reason}; {allowed.allowed_by})", "2"))
    lines.extend(_volume_tables(report, paint))
    lines.extend(f"skipped: {reason}" for reason in report.skipped)
    if report.timings:
        steps = ", ".join(f"{t.name} {t.seconds:.2f} s" for t in report.timings)
        server = f" on {report.server.describe()}" if report.server else ""
        server += f", driver {report.driver}" if report.driver else ""
        lines.append(paint(f"steps{server}: {steps}", "2"))
    outcome = verdict(report, threshold)
    code = "32" if not report.fails(threshold) else "31"
    lines.append(paint(outcome, f"1;{code}"))
    return "\n".join(lines) + "\n"


def _volume_tables(report: Report, paint: Callable[[str, str], str]) -> list[str]:
    volume = report.volume
    if volume is None or not volume.revisions:
        return []
    lines = [paint(f"the new migrations on tables of {volume.default_rows:,} rows "
                   f"({volume.filled.total_rows:,} rows in {len(volume.filled.rows)} tables, filled in "
                   f"{volume.filled.seconds:.1f} s):", "1")]
    for run in volume.revisions:
        lines.append(f"  revision {run.revision}{f' ({run.file})' if run.file else ''}: "
                     f"{run.seconds * 1000:.0f} ms")
        rows = [TABLE_HEADER, *(_clipped(row) for row in statement_rows(run, volume.estimated))]
        widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]
        for number, row in enumerate(rows):
            line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            lines.append("    " + (paint(line, "2") if number == 0 else line))
    lines.append("")
    return lines


def _clipped(row: tuple[str, ...], most: int = 60) -> tuple[str, ...]:
    return (row[0] if len(row[0]) <= most else row[0][:most - 1] + "…", *row[1:])
