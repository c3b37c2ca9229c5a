"""The one issue a scheduled audit keeps up to date, found again by a hidden marker: created when drift appears,
its body edited while drift lasts (a comment only when the set of findings changes), closed with a comment when
the audit is clean again."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from migration_check import __version__
from migration_check.audit.render import render_markdown
from migration_check.audit.report import AuditReport
from migration_check.findings import Severity
from migration_check.github.api import GitHub
from migration_check.github.comment import COMMENT_LIMIT, truncate_markdown

DEFAULT_TITLE = "Schema drift in the live databases"
_FINDINGS = re.compile(r"<!-- migration-check:findings (?P<digest>[0-9a-f]+) (?P<count>\d+) -->")


def marker(key: str) -> str:
    return f"<!-- migration-check:audit {key} -->"


def findings_digest(report: AuditReport) -> str:
    """What identifies the set of findings, whatever the run: the rule, the database and the message of each."""
    material = "\n".join(sorted(f"{f.rule}\t{f.details.get('database')}\t{f.message}" for f in report.findings))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def issue_body(report: AuditReport, threshold: Severity | None, key: str, run_url: str | None) -> str:
    link = f"[the audit's run]({run_url})" if run_url else "the audit's job summary"
    head = f"{marker(key)}\n<!-- migration-check:findings {findings_digest(report)} {len(report.findings)} -->\n"
    footer = (f"\n---\n<sub>Kept up to date by migration-check {__version__}'s scheduled audit: edited while the "
              f"drift lasts, closed when the audit is clean. Latest: {link}.</sub>\n")
    pointer = f"> ✂️ The report is longer than an issue can be; the rest is in {link}."
    room = COMMENT_LIMIT - len(head) - len(footer)
    return head + truncate_markdown(render_markdown(report, threshold), room, pointer) + footer


def _content(body: str) -> str:
    """What an issue says, without the run link that changes every night."""
    return re.sub(r"Latest: .*?</sub>", "", body)


@dataclass(frozen=True)
class IssueOutcome:
    action: str  # created, updated, commented (updated, and the findings changed), unchanged, closed, none
    number: int | None = None


def keep_issue(github: GitHub, report: AuditReport, threshold: Severity | None, key: str, labels: list[str],
               title: str, run_url: str | None) -> IssueOutcome:
    ours = next((issue for issue in github.open_issues() if marker(key) in (issue.get("body") or "")), None)
    drift = bool(report.findings)
    if not drift:
        if ours is None or report.unreachable:
            # nothing to say; or databases that could not be read, which do not prove the drift gone
            return IssueOutcome("none" if ours is None else "unchanged", ours and ours["number"])
        where = f" ([run]({run_url}))" if run_url else ""
        github.create_comment(ours["number"], f"✅ The audit is clean again: every database agrees with the "
                              f"migrations and the models{where}. Closing.")
        github.update_issue(ours["number"], state="closed", state_reason="completed")
        return IssueOutcome("closed", ours["number"])
    body = issue_body(report, threshold, key, run_url)
    if ours is None:
        created = github.create_issue(title, body, labels)
        return IssueOutcome("created", created.get("number"))
    old_body = ours.get("body") or ""
    if _content(old_body) == _content(body):
        return IssueOutcome("unchanged", ours["number"])
    github.update_issue(ours["number"], body=body)
    before = _FINDINGS.search(old_body)
    if before is None or before["digest"] != findings_digest(report):
        was = f"{before['count']} finding{'s' if before['count'] != '1' else ''}" if before else "before"
        where = f" ([run]({run_url}))" if run_url else ""
        github.create_comment(ours["number"], f"The findings changed: {len(report.findings)} now, {was} "
                              f"before{where}. The description above is up to date.".replace("before before",
                                                                                              "before"))
        return IssueOutcome("commented", ours["number"])
    return IssueOutcome("updated", ours["number"])
