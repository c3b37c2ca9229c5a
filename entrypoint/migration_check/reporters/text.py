"""The terminal report: grouped by rule, with the fix and the suggested migration; colour on a TTY."""

from __future__ import annotations

from migration_check.findings import Report, Severity
from migration_check.reporters import downgrade_label, fix_for, grouped_by_rule, location, verdict
from migration_check.rules import RULES

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
