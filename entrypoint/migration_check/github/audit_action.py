"""The Action's `mode: audit` and `mode: merge-reports`: the scheduled audit's outputs on GitHub (the job summary,
annotations, SARIF, the JSON report, the outputs) and the one issue it keeps up to date."""

from __future__ import annotations

import glob
import sys
from pathlib import Path

from migration_check.audit.config import AuditConfig, audit_config
from migration_check.audit.render import render_markdown, render_text
from migration_check.audit.report import AuditReport, merge, render_json
from migration_check.config import FAIL_ON, CheckConfig
from migration_check.errors import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK, UsageError
from migration_check.findings import Severity
from migration_check.github import annotations
from migration_check.github.api import GitHub, GitHubError
from migration_check.github.event import RunContext
from migration_check.github.inputs import ActionInputs
from migration_check.github.issue import DEFAULT_TITLE, keep_issue
from migration_check.github.workflow import append_summary, command, mask, set_outputs
from migration_check.paths import relative_to_root
from migration_check.progress import Progress
from migration_check.reporters import sarif


def _audit_config(inputs: ActionInputs, check: CheckConfig) -> AuditConfig:
    databases = Path(inputs.databases_file) if inputs.databases_file else None
    if databases is not None and not databases.is_absolute():
        databases = check.alembic.project_dir / databases
    config, secrets = audit_config(check, [inputs.database_url] if inputs.database_url else [], databases,
                                   inputs.shard or None)
    mask(secrets)
    return config


def _issue_key(inputs: ActionInputs) -> str:
    folder = inputs.working_directory.strip("/") or "."
    return f"{folder}:{inputs.alembic_config or 'alembic.ini'}#{inputs.alembic_name}"


def _issue(inputs: ActionInputs, context: RunContext, report: AuditReport, threshold: Severity | None) -> str:
    if inputs.issue == "off":
        return "issue: off"
    if inputs.shard:
        return "issue: left to the job that merges the shards' reports"
    if not inputs.github_token:
        return "issue: none, no github-token"
    github = GitHub(inputs.github_token, context.repository, context.api_url)
    try:
        outcome = keep_issue(github, report, threshold, _issue_key(inputs), list(inputs.issue_labels),
                             inputs.issue_title or DEFAULT_TITLE, context.run_url)
    except GitHubError as exc:
        if exc.status in (403, 404):
            command("warning", f"migration-check could not keep the audit's issue: GitHub answered {exc.status} "
                    "(the workflow's token needs `permissions: issues: write`). The job summary has the whole "
                    "report.", title="No audit issue")
            return f"issue: not written, GitHub answered {exc.status}"
        raise
    return f"issue: {outcome.action}" + (f" #{outcome.number}" if outcome.number else "")


def report_outputs(inputs: ActionInputs, context: RunContext, report: AuditReport,
                   threshold: Severity | None) -> int:
    from migration_check.github.action import write_in_workspace  # the check's own writer, as the workspace's owner

    workspace = context.workspace
    report_path = workspace / inputs.report_file
    sarif_path = workspace / inputs.sarif_file
    write_in_workspace(report_path, render_json(report), workspace)
    write_in_workspace(sarif_path, sarif.render(report.as_check_report()), workspace)
    summary = render_markdown(report, threshold, context.run_url)
    if inputs.annotations:
        count = annotations.emit(report.as_check_report())
        if count.hidden:
            summary += f"\n> {count.hidden} more findings than GitHub shows as annotations: all are listed above.\n"
    for database in report.unreachable:
        command("error", f"{database.name}: {database.error}\nFix: {database.fix}",
                title=f"migration-check could not audit {database.name}")
    issue_note = _issue(inputs, context, report, threshold)
    append_summary(summary)
    failed = report.fails(threshold)
    status = "error" if report.unreachable else "failed" if failed else "passed"
    set_outputs({
        "status": status,
        "errors": str(report.count(Severity.ERROR)),
        "warnings": str(report.count(Severity.WARNING)),
        "drift": "true" if any(d.verdict == "drift" for d in report.databases) else "false",
        "report": relative_to_root(report_path, workspace.resolve()) or str(report_path),
        "sarif": relative_to_root(sarif_path, workspace.resolve()) or str(sarif_path),
    })
    print(render_text(report, threshold, color=True), end="")
    print(issue_note, flush=True)
    if report.unreachable:
        return EXIT_CANNOT_RUN
    return EXIT_FINDINGS if failed else EXIT_OK


def run_audit_mode(inputs: ActionInputs, context: RunContext, check: CheckConfig) -> int:
    from migration_check.audit.run import run_audit

    config = _audit_config(inputs, check)
    report = run_audit(config, Progress(sys.stdout, color=True))
    return report_outputs(inputs, context, report, check.fail_on)


def run_merge_mode(inputs: ActionInputs, context: RunContext) -> int:
    paths: list[Path] = []
    for pattern in inputs.reports:
        found = sorted(glob.glob(str(context.workspace / pattern), recursive=True))
        if not found:
            raise UsageError(f"The input `reports` names {pattern!r}, which matches no file in the workspace.",
                             fix="Download the shards' reports (actions/download-artifact) before this step, and "
                             "name them relative to the workspace: reports/**/*.json.")
        paths.extend(Path(path) for path in found)
    if not paths:
        raise UsageError("mode: merge-reports was given no reports.",
                         fix="List the shards' JSON reports in the `reports` input.")
    report = merge(paths)
    return report_outputs(inputs, context, report, FAIL_ON[inputs.fail_on])
