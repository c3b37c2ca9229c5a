"""The sticky pull-request comment: one per migration tree, found again by a hidden marker, updated in place."""

from __future__ import annotations

import re
from dataclasses import dataclass

from migration_check import __version__
from migration_check.findings import Report, Severity
from migration_check.github.api import GitHub
from migration_check.reporters import markdown

COMMENT_LIMIT = 65536  # GitHub refuses a longer comment body


def marker(key: str) -> str:
    return f"<!-- migration-check:sticky {key} -->"


def truncate_markdown(text: str, limit: int, pointer: str) -> str:
    """Cut at a line boundary so that text plus the pointer fits, closing an open code block."""
    if len(text) <= limit:
        return text
    budget = limit - len(pointer) - 16
    cut = text[:budget]
    cut = cut[: cut.rfind("\n")] if "\n" in cut else cut
    if cut.count("```") % 2:
        cut += "\n```"
    return f"{cut}\n\n{pointer}"


def comment_body(
    report: Report, threshold: Severity | None, key: str, run_url: str | None, source_url: str | None = None
) -> str:
    link = f"[the job summary]({run_url})" if run_url else "the job summary"
    footer = f"\n---\n<sub>migration-check {__version__} · full report in {link}</sub>\n"
    head = marker(key) + "\n"
    pointer = f"> ✂️ The report is longer than a comment can be; the rest is in {link}."
    room = COMMENT_LIMIT - len(head) - len(footer)
    body = truncate_markdown(markdown.render(report, threshold, source_url), room, pointer)
    return head + body + footer


_TIMING_LINE = re.compile(r"^<sub>[\d.]+ s in all: .*</sub>$", re.MULTILINE)


def _content(body: str) -> str:
    """What a comment says, without the timing line that differs on every run: an edit for a new timing would
    notify nobody of anything and bury the real changes in the comment's history."""
    return _TIMING_LINE.sub("", body)


@dataclass(frozen=True)
class CommentOutcome:
    action: str  # created, updated, recreated, unchanged (nothing to say and nothing said before)
    comment_id: int | None = None


def publish(github: GitHub, number: int, body: str, key: str, mode: str, passed: bool) -> CommentOutcome:
    """update: edit our comment in place (removing stray duplicates); new: replace it with a fresh one at the end
    of the conversation. A passing check writes no comment where there was none."""
    ours = [c for c in github.issue_comments(number) if marker(key) in (c.get("body") or "")]
    if not ours and passed:
        return CommentOutcome("unchanged")
    if mode == "update" and ours:
        keep, *duplicates = ours
        for extra in duplicates:
            github.delete_comment(extra["id"])
        if _content(keep.get("body") or "") != _content(body):
            github.update_comment(keep["id"], body)
        return CommentOutcome("updated", keep["id"])
    for old in ours:
        github.delete_comment(old["id"])
    created = github.create_comment(number, body)
    return CommentOutcome("recreated" if ours else "created", created.get("id"))
