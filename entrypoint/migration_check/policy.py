"""The team's policy over the findings, applied once after every stage ran: severity overrides and rules turned
off (.migration-check.yml), inline suppressions in migration files, and the reviewed allowlist.

A finding that a suppression or an allowlist entry lets through is kept in report.allowed: it still shows in the
JSON report and as a count in the summary.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
from typing import Any

from migration_check.config import CheckConfig
from migration_check.config_file import AllowEntry
from migration_check.findings import AllowedFinding, Finding, Report
from migration_check.history.scripts import MigrationScript
from migration_check.locate import Location
from migration_check.paths import relative_to_root
from migration_check.rules import ALLOWLIST_EXPIRED, ALLOWLIST_UNUSED, BAD_SUPPRESSION, RULES

# The steps (as progress names them) in which each stage's rules are looked for: an allowlist entry is unused
# only where one of them ran.
STEPS_OF_STAGE = {
    "apply": {"upgrade", "roundtrip"},
    "roundtrip": {"roundtrip", "to-base"},
    "compare": {"compare"},
    "naming": {"naming"},
    "graph": {"graph"},
    "history": {"history"},
}


def _fields(finding: Finding) -> dict[str, Any]:
    """What an allowlist entry's `match` can name: the finding's details, and where it is."""
    return {**finding.details, "file": finding.file, "line": finding.line, "revision": finding.revision}


def graded(config: CheckConfig, finding: Finding) -> Finding | None:
    """The finding at the level the file gives its rule, or None where the rule is off. Without a level from the
    file, the stage's own grade stands (some rules grade their findings)."""
    if config.severity_of(finding.rule) is None:
        return None
    severity = config.rule_levels.get(finding.rule) or finding.severity
    return finding if severity == finding.severity else dataclasses.replace(finding, severity=severity)


class _Suppressions:
    """The `# migration-check: ignore[...]` comments of the migration files."""

    def __init__(self, scripts: list[MigrationScript], root: Path) -> None:
        self.problems: list[Finding] = []
        self._entries: list[tuple[str, MigrationScript, str, str, str]] = []  # rule, script, file, reason, where
        for script in scripts:
            file = relative_to_root(script.path, root)
            for suppression in script.suppressions:
                where = f"inline {file}:{suppression.line}"
                unknown = [rule for rule in suppression.rules if rule not in RULES]
                if not suppression.rules or unknown:
                    self.problems.append(BAD_SUPPRESSION.at(
                        f"The suppression names {'no rule' if not unknown else 'no known rule: ' + ', '.join(unknown)}"
                        ", so it silences nothing.",
                        Location(script.path, suppression.line), root, rules=list(suppression.rules),
                    ))
                if not suppression.reason:
                    self.problems.append(BAD_SUPPRESSION.at(
                        f"The suppression of {', '.join(suppression.rules) or 'no rule'} gives no reason, so it "
                        "does not apply.",
                        Location(script.path, suppression.line), root, rules=list(suppression.rules),
                    ))
                    continue
                for rule in suppression.rules:
                    self._entries.append((rule, script, file, suppression.reason, where))

    def allowing(self, finding: Finding) -> AllowedFinding | None:
        for rule, script, file, reason, where in self._entries:
            same_revision = script.revision is not None and finding.revision == script.revision
            if rule == finding.rule and (finding.file == file or same_revision or _spells_out(script, finding)):
                return AllowedFinding(finding, reason, where)
        return None


def _spells_out(script: MigrationScript, finding: Finding) -> bool:
    """Whether the migration names the object the finding is about (a raw-SQL index it created, say), so that
    its suppression covers findings placed elsewhere, such as drift shown at the model line."""
    details = finding.details
    names = [details.get("name")]
    if details.get("op") == "remove_column":
        names.append(details.get("column"))
    if details.get("op") == "remove_table":
        names.append(details.get("table"))
    return any(isinstance(name, str) and name and script.line_naming(name) is not None for name in names)


def _stage_ran(rule_id: str, report: Report) -> bool:
    stage = RULES[rule_id].stage
    if stage == "config":
        return True
    ran = {timing.name for timing in report.timings}
    return bool(STEPS_OF_STAGE.get(stage, set()) & ran)


def _entry_place(config: CheckConfig, entry: AllowEntry) -> Location | None:
    return Location(config.settings_file, entry.line) if config.settings_file else None


def apply_policy(config: CheckConfig, scripts: list[MigrationScript], root: Path, report: Report,
                 today: datetime.date | None = None) -> None:
    """Rewrite report.findings by the team's policy; move what is allowed to report.allowed."""
    today = today or datetime.date.today()
    settings = relative_to_root(config.settings_file, root) if config.settings_file else None
    report.settings_file = settings
    suppressions = _Suppressions(scripts, root)
    active: list[AllowEntry] = []
    extra = list(suppressions.problems)
    for entry in config.allow:
        if entry.expired(today):
            extra.append(ALLOWLIST_EXPIRED.at(
                f"The allowlist entry for {entry.rule} expired on {entry.expires}, so it no longer applies "
                f"({entry.reason}).",
                _entry_place(config, entry), root, rule_allowed=entry.rule, expires=str(entry.expires),
                reason=entry.reason,
            ))
        else:
            active.append(entry)

    used: set[int] = set()
    kept: list[Finding] = []
    for found in [*report.findings, *extra]:
        finding = graded(config, found)
        if finding is None:
            continue  # off in this project
        if RULES[finding.rule].stage != "config":
            allowed = suppressions.allowing(finding)
            if allowed is None:
                fields = _fields(finding)
                entry_number = next((n for n, e in enumerate(active) if e.matches(finding.rule, fields)), None)
                if entry_number is not None:
                    entry = active[entry_number]
                    used.add(entry_number)
                    allowed = AllowedFinding(finding, entry.reason, f"allowlist {settings}:{entry.line}")
            if allowed is not None:
                report.allowed.append(allowed)
                continue
        kept.append(finding)

    for number, entry in enumerate(active):
        if number in used or not _stage_ran(entry.rule, report):
            continue
        matched = ", ".join(f"{key}={value}" for key, value in entry.match) or "every finding"
        unused = graded(config, ALLOWLIST_UNUSED.at(
            f"The allowlist entry for {entry.rule} ({matched}) matched nothing in this run: remove it.",
            _entry_place(config, entry), root, rule_allowed=entry.rule, match=dict(entry.match),
        ))
        if unused is not None:
            kept.append(unused)
    report.findings = kept
