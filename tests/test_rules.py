"""Every rule documents itself, docs/rules.md is generated from the registry, and every rule has a failing and
a passing case that runs for real."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, check, copy_example, edit
from history_projects import GOOD, STATIC, change, migration, repository
from migration_check.rules import RULES, rules_markdown

Case = Callable[[Path], tuple[Path, list[str]]]


def example(name: str, *flags: str) -> Case:
    return lambda _tmp: (EXAMPLES / name, list(flags))


def changed(*files: tuple[str, str]) -> Case:
    return lambda tmp: change(tmp, *files)


def without_convention(*files: tuple[str, str]) -> Case:
    """A change in a project whose models have no naming convention."""
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project, flags = change(tmp, *files)
        edit(project / "app/models.py", "metadata = MetaData(naming_convention=NAMING_CONVENTION)",
             "metadata = MetaData()")
        return project, flags

    return build


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


def on_database(example_name: str = "clean", *, models: tuple[tuple[str, str], ...] = (), append: str = "",
                files: tuple[tuple[str, str], ...] = (), settings: str | None = None) -> Case:
    """An example on a database (no round trip, no failing exit), edited: `models` replaces text in
    app/models.py, `append` adds model code, `files` adds migrations, `settings` is .migration-check.yml."""
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project = copy_example(example_name, tmp)
        for old, new in models:
            edit(project / "app/models.py", old, new)
        if append:
            with (project / "app/models.py").open("a") as handle:
                handle.write("\n\n" + textwrap.dedent(append))
        for name, text in files:
            (project / "migrations" / "versions" / name).write_text(text)
        if settings is not None:
            (project / ".migration-check.yml").write_text(textwrap.dedent(settings))
        return project, ["--roundtrip", "off", "--fail-on", "never"]

    return build


BILLING_MODELS = """from sqlalchemy.orm import Mapped, mapped_column

from app.models import Base


class Invoice(Base):
    __tablename__ = "invoices"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def with_billing_module(imported: bool) -> Case:
    """A models module of its own beside app/models.py, imported by env.py or by nothing."""
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project, flags = on_database()(tmp)
        (project / "app/billing.py").write_text(BILLING_MODELS)
        if imported:
            edit(project / "migrations/env.py", "from app.models import Base",
                 "from app.models import Base\nimport app.billing")
        return project, flags

    return build


def allow_entry(match: str, expires: str = "2999-12-31") -> str:
    return f"""
        allow:
          - rule: model-drift
            match: {match}
            reason: the description column is added by the data team's job
            expires: {expires}
        """


def organization_check(name: str) -> tuple[tuple[str, str], ...]:
    """Model edits that give organizations a check constraint."""
    return (('__tablename__ = "organizations"',
             f'__tablename__ = "organizations"\n    __table_args__ = (CheckConstraint("length(name) > 0"{name}),)'),
            ("from sqlalchemy import ", "from sqlalchemy import CheckConstraint, "))


CK_CONVENTION = '"ck": "ck_%(table_name)s_%(constraint_name)s",'
CONVENTION = "metadata = MetaData(naming_convention=NAMING_CONVENTION)"
CYCLE = """
    class Team(Base):
        __tablename__ = "teams"
        id: Mapped[int] = mapped_column(primary_key=True)
        lead_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"{use_alter}))


    class Member(Base):
        __tablename__ = "members"
        id: Mapped[int] = mapped_column(primary_key=True)
        team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"))
    """
FK_INDEXES = migration("0004", "0003", "index the foreign keys", """\
op.create_index(op.f("ix_users_organization_id"), "users", ["organization_id"])
    op.create_index(op.f("ix_agents_created_by_id"), "agents", ["created_by_id"])
    op.create_index(op.f("ix_runs_agent_version_id"), "runs", ["agent_version_id"])
    op.create_index(op.f("ix_api_keys_organization_id"), "api_keys", ["organization_id"])""", "pass")
LONG_64 = "é" * 32  # 64 bytes in UTF-8, 32 characters
LONG_63 = "é" * 31 + "x"  # 63 bytes


def add_column(name: str) -> str:
    return f'op.add_column("agents", sa.Column("{name}", sa.Text()))'


GOOD_CHANGE = changed(GOOD)
GOOD_HISTORY = full_history(GOOD)
# rule id -> (a project and flags where it fires, one where it does not)
def on_filled_tables(upgrade: str, settings: str | None = None) -> Case:
    """A change adding revision 0004 with this upgrade(), tried on tables of 1,000 rows (the volume stage)."""
    def build(tmp: Path) -> tuple[Path, list[str]]:
        project, flags = change(tmp, ("0004_change.py", migration("0004", "0003", "change runs", upgrade, "pass")))
        if settings is not None:
            (project / ".migration-check.yml").write_text(settings)
        return project, [*flags[flags.index("--base-ref"):], "--only", "apply,volume", "--data-volume", "1000",
                         "--fail-on", "never"]

    return build


CASES: dict[str, tuple[Case, Case]] = {
    "blocking-lock": (on_filled_tables('op.create_index("ix_runs_started_at", "runs", ["started_at"])'),
                      on_filled_tables('with op.get_context().autocommit_block():\n        op.create_index('
                                       '"ix_runs_started_at", "runs", ["started_at"], postgresql_concurrently=True)')),
    "table-rewrite": (on_filled_tables('op.alter_column("runs", "id", type_=sa.BigInteger(), '
                                       'existing_type=sa.Integer())'),
                      on_filled_tables('op.add_column("runs", sa.Column("seen_at", sa.DateTime(), nullable=False, '
                                       'server_default=sa.text("now()")))')),
    "slow-migration": (on_filled_tables('op.execute("SELECT pg_sleep(0.2)")', "data-volume: {slow-migration-ms: 100}"),
                       on_filled_tables('op.execute("SELECT pg_sleep(0.2)")')),
    "not-null-on-existing-rows": (
        on_filled_tables('op.add_column("runs", sa.Column("plan", sa.Text(), nullable=False))'),
        on_filled_tables('op.add_column("runs", sa.Column("plan", sa.Text(), nullable=False, '
                         'server_default="free"))')),
    "concurrently-in-transaction": (
        on_filled_tables('op.create_index("ix_runs_started_at", "runs", ["started_at"], '
                         'postgresql_concurrently=True)'),
        on_filled_tables('with op.get_context().autocommit_block():\n        op.create_index('
                         '"ix_runs_started_at", "runs", ["started_at"], postgresql_concurrently=True)')),
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
    "create-unnamed-constraint": (
        without_convention(("a.py", migration("0004", "0003", "add the agents creator foreign key",
                                              'op.create_foreign_key(None, "agents", "users", ["created_by_id"], '
                                              '["id"])', 'op.drop_constraint("agents_created_by_id_fkey", '
                                              '"agents", type_="foreignkey")'))),
        without_convention(("a.py", migration("0004", "0003", "add the agents creator foreign key",
                                              'op.create_foreign_key("fk_agents_created_by", "agents", "users", '
                                              '["created_by_id"], ["id"])', 'op.drop_constraint('
                                              '"fk_agents_created_by", "agents", type_="foreignkey")')))),
    "missing-downgrade": (changed(("a.py", migration("0004", "0003", "add agent tags", downgrade="pass"))),
                          GOOD_CHANGE),
    "downgrade-failed": (full_history(("a.py", migration("0004", "0003", "add agent description",
                                                         downgrade='op.drop_column("agents", "descr")'))),
                         GOOD_HISTORY),
    "roundtrip-mismatch": (full_history(("a.py", migration("0004", "0003", "add agent description",
                                                           downgrade='op.execute("SELECT 1")'))), GOOD_HISTORY),
    "upgrade-not-idempotent": (full_history(("a.py", migration(
        "0004", "0003", "seed the first organization",
        "op.execute(\"INSERT INTO organizations (id, name, slug) VALUES (100, 'Seed', 'seed')\")",
        'op.execute("SELECT 1")'))), GOOD_HISTORY),
    "irreversible-migration": (full_history(("a.py", migration(
        "0004", "0003", "add agent description", downgrade="raise NotImplementedError",
        extra="# migration-check: irreversible - the descriptions are derived"))), GOOD_HISTORY),
    "missing-naming-convention": (on_database(models=((CONVENTION, "pass"),)), on_database()),
    "unnamed-constraint": (on_database(models=(*organization_check(""), (CK_CONVENTION, ""))),
                           on_database(models=organization_check(', name="name_not_empty"'))),
    "naming-convention": (
        on_database(files=(("a.py", migration("0004", "0003", "add a unique run start", 'op.create_unique_constraint('
                                              '"uq_runs_agent_version_id", "runs", ["agent_version_id", "started_at"])',
                                              "pass")),)),
        on_database(files=(("a.py", migration("0004", "0003", "add a unique run start", 'op.create_unique_constraint('
                                              'op.f("uq_runs_agent_version_id_started_at"), "runs", '
                                              '["agent_version_id", "started_at"])', "pass")),))),
    "identifier-too-long": (
        on_database(files=(("a.py", migration("0004", "0003", "add a long column", add_column(LONG_64), "pass")),)),
        on_database(files=(("a.py", migration("0004", "0003", "add a long column", add_column(LONG_63), "pass")),))),
    "fk-cycle-without-use-alter": (
        on_database(append=CYCLE.format(use_alter="")),
        on_database(append=CYCLE.format(use_alter=', use_alter=True, name="fk_teams_lead_id_members"'))),
    "model-not-imported": (with_billing_module(imported=False), with_billing_module(imported=True)),
    "fk-without-index": (on_database(settings="rules: {fk-without-index: notice}"),
                         on_database(files=(("a.py", FK_INDEXES),), settings="rules: {fk-without-index: notice}")),
    "allowlist-expired": (on_database("drift", settings=allow_entry("{table: agents, column: description}",
                                                                    expires="2025-01-31")),
                          on_database("drift", settings=allow_entry("{table: agents, column: description}"))),
    "allowlist-unused": (on_database("drift", settings=allow_entry("{table: agents, column: summary}")),
                         on_database("drift", settings=allow_entry("{table: agents, column: description}"))),
    "bad-suppression": (changed(("a.py", migration("0004", "0003", "auto",
                                                   extra="# migration-check: ignore[vague-message]"))),
                        changed(("a.py", migration("0004", "0003", "auto",
                                                   extra="# migration-check: ignore[vague-message] generated by the "
                                                   "nightly sync job")))),
}


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_rule_is_documented(rule_id: str) -> None:
    rule = RULES[rule_id]
    for part in ("title", "fix", "what", "why", "bad", "good"):
        assert getattr(rule, part).strip(), f"{rule_id} has no {part}"
    assert "\n" not in rule.fix, "the fix is one line"


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    """The check's rules here; the audit's, which need live databases, in test_audit.py."""
    assert set(CASES) == {rule_id for rule_id, rule in RULES.items() if rule.stage != "audit"}


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
