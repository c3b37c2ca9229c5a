"""Annotations on the lines that matter. GitHub shows at most 10 per level for a step, so we choose them:
errors before warnings before notices, upgrade failures before drift, and say how many more there are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TextIO

from migration_check.findings import Finding, Report, Severity
from migration_check.github.terms import in_action_terms
from migration_check.github.workflow import command
from migration_check.reporters import fix_for, full_message
from migration_check.rules import RULES

PER_LEVEL = 10
_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "notice"}


@dataclass(frozen=True)
class AnnotationCount:
    shown: int
    hidden: int


def _priority(finding: Finding) -> tuple[int, int, int]:
    """Most important first: severity, then the rule's place in the registry (earlier stages first), and
    findings with a line before those without."""
    rules = list(RULES)
    order = rules.index(finding.rule) if finding.rule in rules else len(rules)
    return (-finding.severity, order, 0 if finding.line else 1)


def choose(report: Report) -> tuple[list[Finding], int]:
    chosen: list[Finding] = []
    for severity in (Severity.ERROR, Severity.WARNING, Severity.NOTICE):
        level = sorted((f for f in report.findings if f.severity == severity), key=_priority)
        chosen.extend(level[:PER_LEVEL])
    return chosen, len(report.findings) - len(chosen)


def emit(report: Report, stream: TextIO | None = None) -> AnnotationCount:
    chosen, hidden = choose(report)
    for finding in chosen:
        rule = RULES.get(finding.rule)
        title = f"{finding.rule}: {rule.title}" if rule else finding.rule
        message = in_action_terms(full_message(finding, fix_for(rule, report) if rule else None))
        command(_COMMANDS[finding.severity], message, stream=stream, file=finding.file or report.config_file,
                line=finding.line, title=title)
    return AnnotationCount(len(chosen), hidden)
