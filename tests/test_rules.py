"""Every rule documents itself, docs/rules.md is generated from the registry, and every rule has a failing and
a passing case that runs for real."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, check
from history_projects import GOOD, STATIC, change, migration, repository
from migration_check.rules import RULES, rules_markdown

Case = Callable[[Path], tuple[Path, list[str]]]


def example(name: str, *flags: str) -> Case:
    return lambda _tmp: (EXAMPLES / name, list(flags))


def changed(*files: tuple[str, str]) -> Case:
    return lambda tmp: change(tmp, *files)


def base_edited(edit_base: Callable[[Path], None]) -> Case:
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project, base = repository(tmp)
        edit_base(project)
        return project, [*STATIC, "--base-ref", base]

    return build


def _edit_0002(project: Path) -> None:
    path = project / "migrations/versions/0002_create_agents_and_agent_versions.py"
    path.write_text(path.read_text().replace("length=200", "length=250", 1))


def _delete_0003(project: Path) -> None:
    (project / "migrations/versions/0003_create_runs_and_api_keys.py").unlink()


def full_history(*files: tuple[str, str]) -> Case:
    """The clean example plus these migrations, checked whole (round trip in full mode), on a database."""
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project, _base = repository(tmp)
        for name, text in files:
            (project / "migrations" / "versions" / name).write_text(text)
        return project, ["--fail-on", "never"]

    return build


GOOD_CHANGE = changed(GOOD)
GOOD_HISTORY = full_history(GOOD)
# rule id -> (a project and flags where it fires, one where it does not)
CASES: dict[str, tuple[Case, Case]] = {
    "upgrade-failed": (example("failing-migration"), example("clean")),
    "model-drift": (example("drift"), example("clean")),
    "multiple-heads": (changed(("a.py", migration("0004a", "0003", "add agent tags")),
                               ("b.py", migration("0004b", "0003", "add run cost"))), GOOD_CHANGE),
    "broken-revision-graph": (changed(("a.py", migration("0004", "0003x", "add agent tags"))), GOOD_CHANGE),
    "not-on-base-head": (changed(("a.py", migration("0004", "0002", "add agent tags"))), GOOD_CHANGE),
    "modified-migration": (base_edited(_edit_0002), GOOD_CHANGE),
    "deleted-migration": (base_edited(_delete_0003), GOOD_CHANGE),
    "vague-message": (changed(("a.py", migration("0004", "0003", "auto"))), GOOD_CHANGE),
    "empty-migration": (changed(("a.py", migration("0004", "0003", "add agent tags", upgrade="pass"))),
                        GOOD_CHANGE),
    "split-migrations": (changed(("a.py", migration("0004", "0003", "add agent tags")),
                                 ("b.py", migration("0005", "0004", "add run cost"))), GOOD_CHANGE),
    "drop-unnamed-constraint": (changed(("a.py", migration(
        "0004", "0003", "add the agents owner foreign key",
        'op.create_foreign_key("fk_agents_owner", "agents", "users", ["created_by_id"], ["id"])',
        'op.drop_constraint(None, "agents", type_="foreignkey")'))), GOOD_CHANGE),
    "missing-downgrade": (changed(("a.py", migration("0004", "0003", "add agent tags", downgrade="pass"))),
                          GOOD_CHANGE),
    "downgrade-failed": (full_history(("a.py", migration("0004", "0003", "add agent description",
                                                         downgrade='op.drop_column("agents", "descr")'))),
                         GOOD_HISTORY),
    "roundtrip-mismatch": (full_history(("a.py", migration("0004", "0003", "add agent description",
                                                           downgrade='op.execute("SELECT 1")'))), GOOD_HISTORY),
    "upgrade-not-idempotent": (full_history(("a.py", migration(
        "0004", "0003", "create the run number sequence", 'op.execute("CREATE SEQUENCE run_numbers")',
        'op.execute("SELECT 1")'))), GOOD_HISTORY),
    "irreversible-migration": (full_history(("a.py", migration(
        "0004", "0003", "add agent description", downgrade="raise NotImplementedError",
        extra="# migration-check: irreversible - the descriptions are derived"))), GOOD_HISTORY),
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
    make_bad, make_good = CASES[rule_id]
    bad, bad_flags = make_bad(tmp_path / "bad")
    assert rule_id in check(bad, *bad_flags, tmp_path=tmp_path).rules()
    (tmp_path / "report.json").unlink()
    good, good_flags = make_good(tmp_path / "good")
    assert rule_id not in check(good, *good_flags, tmp_path=tmp_path).rules()


def test_docs_rules_md_is_generated_from_the_registry() -> None:
    assert (REPO / "docs/rules.md").read_text() == rules_markdown(), (
        "regenerate it: migration-check rules --markdown > docs/rules.md"
    )
