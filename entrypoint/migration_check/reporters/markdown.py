"""The Markdown summary: what later becomes the PR comment and the job summary."""

from __future__ import annotations

from migration_check.findings import Report, Severity
from migration_check.reporters import SAFE_ALTERNATIVE_LABEL, downgrade_label, fix_for, grouped_by_rule, verdict
from migration_check.rules import RULES
from migration_check.stages.volume.report import TABLE_HEADER, statement_rows

_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTICE: "ℹ️"}


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def _where(file: str | None, line: int | None, source_url: str | None) -> str:
    if not file:
        return ""
    label = f"`{file}:{line}`" if line else f"`{file}`"
    if source_url is None:
        return label
    return f"[{label}]({source_url}/{file}{f'#L{line}' if line else ''})"


def render(report: Report, threshold: Severity | None, source_url: str | None = None) -> str:
    """source_url, such as https://github.com/o/r/blob/<sha>, makes each place a link to its line."""
    failed = report.fails(threshold)
    icon = "❌" if failed else "✅"
    lines = [f"## {icon} migration-check {verdict(report, threshold)}", ""]
    if report.server:
        lines += [f"Project `{report.project}` on {report.server.describe()}.", ""]
    for rule_id, findings in grouped_by_rule(report):
        rule = RULES.get(rule_id)
        severity = max(f.severity for f in findings)
        lines += [f"### {_ICONS[severity]} `{rule_id}`: {rule.title if rule else rule_id} ({len(findings)})", ""]
        lines += ["| where | what |", "|---|---|"]
        for finding in findings:
            where = _where(finding.file, finding.line, source_url)
            hint = f" *{finding.details['hint']}*" if finding.details.get("hint") else ""
            lines.append(f"| {where} | {_cell(finding.message)}{_cell(hint)} |")
        lines.append("")
        for finding in findings:
            where = _where(finding.file, finding.line, source_url) or f"revision {finding.revision}"
            if finding.details.get("suggested_downgrade"):
                lines += [f"{where}: {downgrade_label(finding)}:", "", "```python",
                          str(finding.details["suggested_downgrade"]), "```", ""]
            if finding.details.get("safe_alternative"):
                lines += [f"{where}: {SAFE_ALTERNATIVE_LABEL}:", "", "```python",
                          str(finding.details["safe_alternative"]), "```", ""]
        if rule:
            lines += [f"**Fix:** {fix_for(rule, report)}", ""]
    if report.suggested_migration:
        lines += ["### Suggested migration", "", "```python", report.suggested_migration.rstrip(), "```", ""]
    if report.allowed:
        lines += [f"<details><summary>{len(report.allowed)} allowed by reviewed exceptions</summary>", "",
                  "| rule | where | what | why |", "|---|---|---|---|"]
        for allowed in report.allowed:
            finding = allowed.finding
            lines.append(f"| `{finding.rule}` | {_where(finding.file, finding.line, source_url)} | "
                         f"{_cell(finding.message)} | {_cell(allowed.reason)} ({_cell(allowed.allowed_by)}) |")
        lines += ["", "</details>", ""]
    lines += _volume_tables(report)
    for reason in report.skipped:
        lines.append(f"> Skipped: {reason}")
    if report.timings:
        total = sum(t.seconds for t in report.timings)
        steps = ", ".join(f"{t.name} {t.seconds:.2f} s" for t in report.timings)
        lines += ["", f"<sub>{total:.1f} s in all: {steps}</sub>"]
    return "\n".join(lines).rstrip() + "\n"


def _volume_tables(report: Report) -> list[str]:
    """Each new revision's statements on filled tables, riskiest first, folded away."""
    volume = report.volume
    if volume is None or not volume.revisions:
        return []
    filled = volume.filled
    lines = [f"<details><summary>The new migrations on tables of {volume.default_rows:,} rows: locks, rewrites and "
             f"times</summary>", "",
             f"{filled.total_rows:,} synthetic rows in {len(filled.rows)} tables, filled in {filled.seconds:.1f} s.",
             ""]
    for run in volume.revisions:
        where = f" (`{run.file}`)" if run.file else ""
        lines += [f"**Revision {run.revision}**{where}: {run.seconds * 1000:.0f} ms", "",
                  "| " + " | ".join(TABLE_HEADER) + " |", "|" + "---|" * len(TABLE_HEADER)]
        for row in statement_rows(run, volume.estimated):
            statement = row[0] if len(row[0]) <= 120 else row[0][:119] + "…"
            lines.append("| " + " | ".join([f"`{_cell(statement)}`", *(_cell(cell) for cell in row[1:])]) + " |")
        lines.append("")
    lines += ["</details>", ""]
    return lines
