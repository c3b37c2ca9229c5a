"""The audit's own outputs over the same report: the terminal's text, and the Markdown of the job summary and of
the issue kept up to date. Per database: its verdict, revision, pending migrations and findings."""

from __future__ import annotations

from migration_check.audit.report import AuditReport, DatabaseAudit
from migration_check.findings import Finding, Severity
from migration_check.progress import counted
from migration_check.rules import RULES

_VERDICT_WORDS = {"error": "could not be audited", "drift": "drift", "behind": "behind head", "clean": "clean"}
_VERDICT_ICONS = {"error": "⛔", "drift": "❌", "behind": "⚠️", "clean": "✅"}
_COLORS = {"error": "31", "drift": "31", "behind": "33", "clean": "32"}
MOST_TABLES_SHOWN = 5


def summary_line(report: AuditReport, threshold: Severity | None) -> str:
    counts: dict[str, int] = {}
    for database in report.databases:
        counts[database.verdict] = counts.get(database.verdict, 0) + 1
    parts = ", ".join(f"{counts[v]} {_VERDICT_WORDS[v]}" for v in ("error", "drift", "behind", "clean") if v in counts)
    if report.unreachable:
        outcome = "could not audit every database"
    elif report.fails(threshold):
        outcome = "drift found"
    elif report.findings:
        outcome = "passed with findings"
    else:
        outcome = "no drift"
    return f"audit {outcome}: {counted(len(report.databases), 'database')} ({parts})"


def _revision(database: DatabaseAudit) -> str:
    return ", ".join(database.revisions) or "none"


def _largest(database: DatabaseAudit) -> str:
    tables = sorted(database.tables, key=lambda t: -(t.get("bytes") or 0))[:MOST_TABLES_SHOWN]
    return ", ".join(f"{t['schema']}.{t['table']} ({_rows(t.get('rows'))}, {_size(t.get('bytes') or 0)})"
                     for t in tables)


def _rows(rows: int | None) -> str:
    return "rows unknown" if rows is None else counted(rows, "row")


def _size(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


def render_text(report: AuditReport, threshold: Severity | None, color: bool = False) -> str:
    def paint(value: str, code: str) -> str:
        return f"\033[{code}m{value}\033[0m" if color else value

    lines: list[str] = []
    for database in report.databases:
        verdict = database.verdict
        head = f"{database.name}: {_VERDICT_WORDS[verdict]}"
        if database.error is None:
            head += f" · revision {_revision(database)} · PostgreSQL {database.server_version}"
        lines.append(paint(head, f"1;{_COLORS[verdict]}"))
        if database.error is not None:
            lines += [f"  {database.error}", f"  fix: {database.fix}"]
        for pending in database.pending:
            lines.append(f"  pending: {pending['revision']} {pending['message']}".rstrip())
        for finding in database.findings:
            lines.extend(_finding_text(finding))
        lines.extend(f"  note: {note}" for note in database.notes)
        if database.tables:
            lines.append(paint(f"  largest tables: {_largest(database)}", "2"))
        lines.append("")
    if report.suggested_migration:
        lines.append(paint("suggested migration (for live-model-drift):", "1"))
        lines.extend(f"    {line}" if line else "" for line in report.suggested_migration.rstrip().splitlines())
        lines.append("")
    if report.timings:
        steps = ", ".join(f"{t.name} {t.seconds:.2f} s" for t in report.timings)
        server = f" (references on {report.reference.describe()})" if report.reference else ""
        lines.append(paint(f"steps{server}: {steps}", "2"))
    failed = report.fails(threshold) or bool(report.unreachable)
    lines.append(paint(summary_line(report, threshold), f"1;{'31' if failed else '32'}"))
    return "\n".join(lines) + "\n"


def _finding_text(finding: Finding) -> list[str]:
    rule = RULES[finding.rule]
    where = f"{finding.file}:{finding.line}  " if finding.file and finding.line else ""
    lines = [f"  {finding.severity.label} [{finding.rule}] {where}{finding.message}"]
    for key, label in (("revert_code", "to take it back on the live database"),
                       ("adopt_code", "to make it official, in a new migration")):
        code = finding.details.get(key)
        if code:
            lines.append(f"      {label}:")
            lines.extend(f"          {line}" for line in str(code).splitlines())
    lines.append(f"      fix: {rule.fix}")
    return lines


def _cell(value: str) -> str:
    return value.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: AuditReport, threshold: Severity | None, run_url: str | None = None) -> str:
    failed = report.fails(threshold) or bool(report.unreachable)
    lines = [f"## {'❌' if failed else '✅'} migration-check {summary_line(report, threshold)}", ""]
    lines += [f"Project `{report.project}`, head {', '.join(report.heads) or 'none'}"
              + (f", shards {', '.join(report.shards)}" if report.shards else "") + ".", ""]
    lines += ["| database | verdict | revision | pending | findings |", "|---|---|---|---|---|"]
    for database in report.databases:
        verdict = database.verdict
        lines.append(f"| {_cell(database.name)} | {_VERDICT_ICONS[verdict]} {_VERDICT_WORDS[verdict]} | "
                     f"{'—' if database.error else _cell(_revision(database))} | {len(database.pending)} | "
                     f"{len(database.findings)} |")
    lines.append("")
    for database in report.databases:
        if database.verdict == "clean" and not database.notes:
            continue
        lines += [f"### {_VERDICT_ICONS[database.verdict]} {database.name}", ""]
        if database.error is not None:
            lines += [f"Could not be audited: {database.error}", "", f"**Fix:** {database.fix}", ""]
            continue
        if database.pending:
            lines += ["Pending migrations:", ""]
            lines += [f"- `{p['revision']}` {p['message']}" + (f" (`{p['file']}`)" if p.get("file") else "")
                      for p in database.pending]
            lines.append("")
        for finding in database.findings:
            rule = RULES[finding.rule]
            icon = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTICE: "ℹ️"}[finding.severity]
            lines += [f"- {icon} `{finding.rule}`: {finding.message.removeprefix(database.name + ': ')}", ""]
            for key, label in (("revert_code", "Take it back on the live database"),
                               ("adopt_code", "Or make it official in a new migration")):
                code = finding.details.get(key)
                if code:
                    lines += [f"  {label}:", "", "  ```python",
                              *(f"  {line}" for line in str(code).splitlines()), "  ```", ""]
            lines += [f"  **Fix:** {rule.fix}", ""]
        lines.extend(f"> {note}" for note in database.notes)
        if database.tables:
            lines += ["", f"<sub>Largest tables: {_cell(_largest(database))}</sub>"]
        lines.append("")
    if report.suggested_migration:
        lines += ["### Suggested migration (for live-model-drift)", "", "```python",
                  report.suggested_migration.rstrip(), "```", ""]
    if run_url:
        lines += [f"<sub>[The audit's run]({run_url})</sub>"]
    return "\n".join(lines).rstrip() + "\n"
