"""Every rule documents itself, docs/rules.md is generated from the registry, and every rule has a failing and
a passing case that runs for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, check
from migration_check.rules import RULES, rules_markdown

# rule id -> (a project and flags where it fires, one where it does not)
CASES: dict[str, tuple[tuple[Path, list[str]], tuple[Path, list[str]]]] = {
    "upgrade-failed": ((EXAMPLES / "failing-migration", []), (EXAMPLES / "clean", [])),
    "model-drift": ((EXAMPLES / "drift", []), (EXAMPLES / "clean", [])),
}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_is_documented(rule_id: str) -> None:
    rule = RULES[rule_id]
    for part in ("title", "fix", "what", "why", "bad", "good"):
        assert getattr(rule, part).strip(), f"{rule_id} has no {part}"
    assert "\n" not in rule.fix, "the fix is one line"


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    assert set(CASES) == set(RULES)


@pytest.mark.usefixtures("no_leftovers")
@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_rule_fires_on_bad_and_not_on_good(rule_id: str, tmp_path: Path) -> None:
    (bad, bad_flags), (good, good_flags) = CASES[rule_id]
    assert rule_id in check(bad, *bad_flags, tmp_path=tmp_path).rules()
    (tmp_path / "report.json").unlink()
    assert rule_id not in check(good, *good_flags, tmp_path=tmp_path).rules()


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    assert (REPO / "docs/rules.md").read_text() == rules_markdown(), (
        "regenerate it: migration-check rules --markdown > docs/rules.md"
    )
