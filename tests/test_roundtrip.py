"""The round trip on the real throwaway server: each rule's failing and passing cases, and the histories the
issue names (a forgotten column, the wrong table, an enum left behind, an autocommit block, a branchy history
with a merge, an async env.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check, copy_example, edit, run_cli
from history_projects import add, migration, repository

pytestmark = pytest.mark.usefixtures("no_leftovers")

ADD_TWO = ('op.add_column("agents", sa.Column("description", sa.Text()))\n'
           '    op.add_column("agents", sa.Column("notes", sa.Text()))')


def project_with(tmp_path: Path, *files: tuple[str, str]) -> Path:
    project, _base = repository(tmp_path)
    for name, text in files:
        add(project, name, text)
    return project


def rules_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.rules()


def finding(run, rule: str) -> dict:  # type: ignore[no-untyped-def]
    [found] = [f for f in run.report["findings"] if f["rule"] == rule]
    return found


def test_a_downgrade_that_forgets_a_column(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration("0004", "0003", "add agent description and notes",
                                                            ADD_TWO, 'op.drop_column("agents", "description")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    mismatch = finding(run, "roundtrip-mismatch")
    assert mismatch["revision"] == "0004"
    assert mismatch["details"]["differences"] == ["left over: column public.agents.notes (text NULL)"]
    assert mismatch["file"].endswith("0004_a.py")


def test_a_downgrade_that_drops_the_wrong_table(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create agent tags",
        'op.create_table("agent_tags", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("api_keys")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    differences = finding(run, "roundtrip-mismatch")["details"]["differences"]
    assert "left over: table public.agent_tags" in differences
    assert "missing: table public.api_keys" in differences
    assert "missing: unique constraint public.api_keys.uq_api_keys_key_hash (UNIQUE (key_hash))" in differences


ENUM_TABLE = ('op.create_table("agent_states", sa.Column("id", sa.Integer(), primary_key=True), '
              'sa.Column("state", sa.Enum("draft", "live", name="agent_status")))')


def test_an_enum_type_that_stays_behind(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create agent states", ENUM_TABLE, 'op.drop_table("agent_states")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    differences = finding(run, "roundtrip-mismatch")["details"]["differences"]
    assert differences == ["left over: enum type public.agent_status (draft, live)"]
    # the second upgrade finds the type already there: the same mistake, said in the mismatch, not again
    assert "upgrade-not-idempotent" not in rules_of(run)
    assert 'type "agent_status" already exists' in finding(run, "roundtrip-mismatch")["details"]["reupgrade"]


def test_the_enum_dropped_too_passes(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create agent states", ENUM_TABLE,
        'op.drop_table("agent_states")\n    sa.Enum(name="agent_status").drop(op.get_bind())')))
    run = check(project, tmp_path=tmp_path)
    assert run.status == 1 and rules_of(run) == ["model-drift"], "the models lack the table: nothing else"


def test_a_migration_with_an_autocommit_block(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "index agents by name concurrently",
        'with op.get_context().autocommit_block():\n'
        '        op.create_index("ix_agents_name", "agents", ["name"], postgresql_concurrently=True)',
        'with op.get_context().autocommit_block():\n'
        '        op.drop_index("ix_agents_name", table_name="agents", postgresql_concurrently=True)')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert [r for r in rules_of(run) if r != "model-drift"] == [], run.stdout


def test_a_branchy_history_with_a_merge(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        ("0004a.py", migration("0004a", "0003", "add agent description")),
        ("0004b.py", migration("0004b", "0003", "add run cost",
                               'op.add_column("runs", sa.Column("cost", sa.Integer()))', "pass")),
        ("0005.py", migration("0005", ("0004a", "0004b"), "merge description and cost", "pass", "pass")))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    mismatch = finding(run, "roundtrip-mismatch")
    assert mismatch["revision"] == "0004b"
    assert mismatch["details"]["differences"] == ["left over: column public.runs.cost (integer NULL)"]
    assert "multiple-heads" not in rules_of(run)


def test_an_async_env_py(tmp_path: Path) -> None:
    project = copy_example("async-env", tmp_path)
    edit(tmp_path / "clean/migrations/versions/0003_create_runs_and_api_keys.py",
         '    op.drop_table("api_keys")', '    op.drop_table("api_key")')
    run = check(project, tmp_path=tmp_path)
    failed = finding(run, "downgrade-failed")
    assert failed["revision"] == "0003" and 'table "api_key" does not exist' in failed["message"]
    source = (tmp_path / "clean/migrations/versions/0003_create_runs_and_api_keys.py").read_text().splitlines()
    assert 'op.drop_table("api_key")' in source[failed["line"] - 1]
    assert "compare" in run.report["timings"], "the check still compares the models after the failure"


def test_upgrade_that_cannot_run_twice(tmp_path: Path) -> None:
    """The downgrade leaves the sequence: one finding, the mismatch, which carries the re-upgrade's error."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create the run number sequence", 'op.execute("CREATE SEQUENCE run_numbers")',
        'op.execute("SELECT 1")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    mismatch = finding(run, "roundtrip-mismatch")
    assert mismatch["details"]["differences"] == ["left over: sequence public.run_numbers"]
    assert 'relation "run_numbers" already exists' in mismatch["details"]["reupgrade"]
    assert rules_of(run) == ["roundtrip-mismatch"]


SEED_ROW = "op.execute(\"INSERT INTO organizations (id, name, slug) VALUES (100, 'Seed', 'seed')\")"


def test_data_a_downgrade_leaves_behind_makes_the_upgrade_fail_again(tmp_path: Path) -> None:
    """The schema is back as it was, but the seeded row is not gone: applying the revision again fails."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "seed the first organization", SEED_ROW, 'op.execute("SELECT 1")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    again = finding(run, "upgrade-not-idempotent")
    assert "duplicate key value violates unique constraint" in again["message"]
    assert "roundtrip-mismatch" not in rules_of(run)


def test_irreversible_migration_is_a_notice_and_skips_its_round_trip(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "add agent description", downgrade='raise NotImplementedError("cannot undo")',
        extra="# migration-check: irreversible - old descriptions are gone")))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    notice = finding(run, "irreversible-migration")
    assert notice["severity"] == "notice" and notice["revision"] == "0004"
    assert "downgrade-failed" not in rules_of(run)
    assert any("downgrade to base was skipped" in reason for reason in run.report["skipped"])


def test_changed_mode_takes_only_the_changes_revisions(tmp_path: Path) -> None:
    project, base = repository(tmp_path)
    third = project / "migrations/versions/0003_create_runs_and_api_keys.py"
    edit(third, '    op.drop_table("api_keys")\n', "")  # an old bug, already on the base branch
    from history_projects import git

    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qam", "old bug")
    base = git(tmp_path, "rev-parse", "HEAD")
    add(project, "0004_a.py", migration("0004", "0003", "add agent description"))
    changed = check(project, "--base-ref", base, "--fail-on", "never", tmp_path=tmp_path)
    assert "roundtrip-mismatch" not in rules_of(changed), "0003 is not the change's"
    (tmp_path / "report.json").unlink()
    full = check(project, "--base-ref", base, "--roundtrip", "full", "--fail-on", "never", tmp_path=tmp_path)
    assert finding(full, "roundtrip-mismatch")["revision"] == "0003"


def test_full_mode_ends_with_nothing_left_at_base(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create the search function",
        'op.execute("CREATE OR REPLACE FUNCTION agent_search(q text) RETURNS int LANGUAGE sql AS \'SELECT 1\'")',
        'op.execute("SELECT 1")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    messages = [f["message"] for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"]
    assert len(messages) == 1, "the downgrade to base does not report again what the revision's own round trip did"
    assert messages[0].startswith("After downgrading revision 0004: left over: function public.agent_search(q text)")
    assert "to-base" in run.report["timings"]


def test_the_downgrade_to_base_finds_what_only_the_whole_sequence_shows(tmp_path: Path) -> None:
    """Each revision's own downgrade works where the stairway tries it, but in sequence the view that 0005 leaves
    behind blocks 0004's downgrade: only the downgrade to base shows that."""
    project = project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "create tags",
                                'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))',
                                'op.drop_table("tags")')),
        ("0005_a.py", migration("0005", "0004", "create the tag view",
                                'op.execute("CREATE VIEW tag_view AS SELECT id FROM tags")', "pass")),
    )
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None and "to-base" in run.report["timings"]
    assert finding(run, "roundtrip-mismatch")["revision"] == "0005"
    failed = finding(run, "downgrade-failed")
    assert failed["revision"] == "0004" and failed["details"]["step"] == "to-base"
    assert "other objects depend on it" in failed["message"]


def test_roundtrip_off(tmp_path: Path) -> None:
    project = project_with(tmp_path, ("0004_a.py", migration("0004", "0003", "add agent description and notes",
                                                            ADD_TWO, 'op.drop_column("agents", "description")')))
    run = check(project, "--roundtrip", "off", "--fail-on", "never", tmp_path=tmp_path)
    assert "roundtrip-mismatch" not in rules_of(run)
    assert "upgrade" in run.report["timings"] and "roundtrip" not in run.report["timings"]


def test_a_version_table_in_a_schema_env_py_creates_is_part_of_the_starting_point(tmp_path: Path) -> None:
    """env.py creates a schema for a renamed version table before the first migration: neither belongs to the
    first revision, so downgrading it, or everything, leaves nothing "left over"."""
    project = project_with(tmp_path)
    edit(project / "migrations" / "env.py",
         "        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)",
         '        connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS meta")\n'
         "        connection.commit()\n"
         "        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,\n"
         '                          version_table="schema_history", version_table_schema="meta")')
    run = check(project, "--roundtrip", "full", tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert rules_of(run) == []
    assert "to-base" in run.report["timings"]


def _three_broken_downgrades(tmp_path: Path) -> Path:
    """Above the clean history: a broken downgrade, a downgrade that forgets its column, two more broken ones."""
    return project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "add agent description",
                                downgrade='op.drop_column("agents", "descriptoin")')),
        ("0005_a.py", migration("0005", "0004", "add run cost",
                                'op.add_column("runs", sa.Column("cost", sa.Integer()))', "pass")),
        ("0006_a.py", migration("0006", "0005", "create tags",
                                'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))',
                                'op.drop_table("tag")')),
        ("0007_a.py", migration("0007", "0006", "index tags",
                                'op.create_index("ix_tags_id", "tags", ["id"])',
                                'op.drop_index("ix_tag_id", table_name="tags")')),
    )


def test_every_broken_downgrade_in_one_run(tmp_path: Path) -> None:
    """A failing downgrade is taken back and the stairway goes on: all three are named, the forgotten column
    between them too, and the report says what could not be checked because of them."""
    project = _three_broken_downgrades(tmp_path)
    run = run_cli("check", project, "--fail-on", "never", report=tmp_path / "report.json")
    assert run.report is not None
    failed = [f for f in run.report["findings"] if f["rule"] == "downgrade-failed"]
    assert [f["revision"] for f in failed] == ["0004", "0006", "0007"], run.stdout
    assert 'column "descriptoin" of relation "agents" does not exist' in failed[0]["message"]
    assert 'op.drop_column("agents", "description")' in failed[0]["details"]["suggested_downgrade"]
    assert 'table "tag" does not exist' in failed[1]["message"]
    assert 'index "ix_tag_id" does not exist' in failed[2]["message"]
    # 0005's downgrade does nothing: the column is left over, and adding it again fails; both are taken back
    assert finding(run, "roundtrip-mismatch")["revision"] == "0005"
    assert 'column "cost" of relation "runs" already exists' in finding(run, "roundtrip-mismatch")["details"][
        "reupgrade"], "the failing re-upgrade is the same mistake, said once"
    skipped = run.report["skipped"]
    assert "roundtrip: revisions 0004, 0006, 0007 were not applied again (upgrade-not-idempotent not checked), " \
           "since the downgrade failed" in skipped
    assert any(s.startswith("to-base: not run: the downgrade to base would stop at revision 0007") for s in skipped)
    assert "to-base" not in run.report["timings"]
    assert "compare" in run.report["timings"], "the database is at head: the models are compared"
    # 7 revisions planned at 3 steps each; the three re-upgrades after failed downgrades had nothing to do
    assert "18 of 21 steps" in run.stderr, run.stderr


def test_an_upgrade_that_fails_stops_and_says_what_was_not_checked(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "add agent description",
                                downgrade='op.drop_column("agents", "descriptoin")')),
        ("0005_a.py", migration("0005", "0004", "add run cost", 'op.add_column("runz", sa.Column("c", sa.Integer()))')),
        ("0006_a.py", migration("0006", "0005", "create tags",
                                'op.create_table("tags", sa.Column("id", sa.Integer(), primary_key=True))',
                                'op.drop_table("tags")')),
    )
    run = run_cli("check", project, "--fail-on", "never", report=tmp_path / "report.json")
    assert run.report is not None
    assert [f["revision"] for f in run.report["findings"] if f["rule"] in ("downgrade-failed", "upgrade-failed")] \
        == ["0004", "0005"]
    # 9 steps for 0001-0003; 0004 up and (failing) down, its re-upgrade skipped; 0005's first upgrade fails
    assert run.report["skipped"][1:4] == [
        "roundtrip: stopped at revision 0005 after 12 of 18 steps; 1 revision above it was not checked "
        "(revision 0006)",
        "roundtrip: revision 0004 was not applied again (upgrade-not-idempotent not checked), since the downgrade "
        "failed",
        "to-base: not run, since the round trip stopped at revision 0005",
    ]
    assert "12 of 18 steps" in run.stderr


def test_a_failing_downgrade_in_an_autocommit_block_cannot_be_taken_back(tmp_path: Path) -> None:
    """The block commits, so the savepoint is gone: the run stops at that revision, as `alembic downgrade` would."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "index agents by name concurrently",
        'with op.get_context().autocommit_block():\n'
        '        op.create_index("ix_agents_name", "agents", ["name"], postgresql_concurrently=True)',
        'with op.get_context().autocommit_block():\n'
        '        op.drop_index("ix_agents_nam", table_name="agents", postgresql_concurrently=True)')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    assert finding(run, "downgrade-failed")["revision"] == "0004"
    assert "compare" in run.report["timings"]


def test_every_broken_downgrade_with_a_transaction_per_migration(tmp_path: Path) -> None:
    """env.py commits after each migration: a failing downgrade is still taken back (it has a transaction of its
    own), and the stairway goes on."""
    project = _three_broken_downgrades(tmp_path)
    edit(project / "migrations/versions/0005_a.py", "    pass", '    op.drop_column("runs", "cost")')
    edit(project / "migrations/env.py", "compare_type=True)", "compare_type=True, transaction_per_migration=True)")
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    assert [f["revision"] for f in run.report["findings"] if f["rule"] == "downgrade-failed"] == \
        ["0004", "0006", "0007"], run.stdout
    assert "compare" in run.report["timings"]


def test_a_failing_reupgrade_with_a_transaction_per_migration_is_reported_once(tmp_path: Path) -> None:
    """The downgrade was committed, so a failing re-upgrade cannot be taken back: the stairway stops there, and
    the upgrade to head for the comparison, which fails on the same revision, does not report it again."""
    project = _three_broken_downgrades(tmp_path)
    edit(project / "migrations/env.py", "compare_type=True)", "compare_type=True, transaction_per_migration=True)")
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    assert finding(run, "roundtrip-mismatch")["revision"] == "0005"
    assert "already exists" in finding(run, "roundtrip-mismatch")["details"]["reupgrade"]
    assert "upgrade-failed" not in rules_of(run) and "upgrade-not-idempotent" not in rules_of(run)
    assert any(s.startswith("upgrade: the database could not be brought to head, since revision 0005")
               for s in run.report["skipped"]), run.report["skipped"]


def test_a_not_null_constraint_that_keeps_an_old_name_is_no_mismatch(tmp_path: Path) -> None:
    """PostgreSQL 18 names NOT NULL constraints after the table as it was called then: restoring NOT NULL after
    a rename gives the constraint another name, which no migration can spell and no model sees."""
    project = project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "create drafts",
                                'op.create_table("drafts", sa.Column("id", sa.Integer(), primary_key=True), '
                                'sa.Column("body", sa.Text(), nullable=False))', 'op.drop_table("drafts")')),
        ("0005_a.py", migration("0005", "0004", "rename drafts to notes", 'op.rename_table("drafts", "notes")',
                                'op.rename_table("notes", "drafts")')),
        ("0006_a.py", migration("0006", "0005", "let notes.body be empty",
                                'op.alter_column("notes", "body", nullable=True)',
                                'op.alter_column("notes", "body", nullable=False)')),
    )
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    assert [f for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"] == []
    assert all(f["message"].split(":", 1)[-1].strip() for f in run.report["findings"]), "no empty message"


def test_a_downgrade_that_forgets_not_null_names_the_column(tmp_path: Path) -> None:
    project = project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "create drafts",
                                'op.create_table("drafts", sa.Column("id", sa.Integer(), primary_key=True), '
                                'sa.Column("body", sa.Text(), nullable=False))', 'op.drop_table("drafts")')),
        ("0005_a.py", migration("0005", "0004", "let drafts.body be empty",
                                'op.alter_column("drafts", "body", nullable=True)', "pass")),
    )
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    mismatch = finding(run, "roundtrip-mismatch")
    assert mismatch["message"] == "After downgrading revision 0005: changed: column public.drafts.body: " \
                                  "text NOT NULL → text NULL", mismatch


def test_the_models_are_compared_on_a_database_that_only_went_up(tmp_path: Path) -> None:
    """A downgrade that renames the table instead of dropping it: the round trip says so, and the comparison
    with the models, which define the table, does not report the renamed copy, since the round trip's steps were
    taken back before it."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "create the audit log",
        'op.create_table("audit_log", sa.Column("note", sa.Text()))',
        'op.rename_table("audit_log", "audit_log_old")')))
    with (project / "app/models.py").open("a") as models:
        models.write('\n\nfrom sqlalchemy import Column, Table\n\n'
                     'audit_log = Table("audit_log", Base.metadata, Column("note", Text()))\n')
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert finding(run, "roundtrip-mismatch")["revision"] == "0004"
    assert "model-drift" not in rules_of(run), run.stdout
    assert "compare" in run.report["timings"]


def test_a_downgrade_that_raises_not_implemented_error_is_irreversible(tmp_path: Path) -> None:
    """The common way to say a migration cannot be undone, without our marker: a notice, not downgrade-failed."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "add agent description",
        downgrade='"""The old descriptions are gone."""\n    raise NotImplementedError("cannot undo")')))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    notice = finding(run, "irreversible-migration")
    assert notice["message"] == ("Revision 0004 cannot be undone (its downgrade() raises NotImplementedError): "
                                 "it was applied but not downgraded.")
    assert "downgrade-failed" not in rules_of(run)
    assert "missing-downgrade" not in rules_of(run)


@pytest.mark.parametrize("setup_sql", [None, "CREATE ROLE app_reader;\nCREATE SCHEMA reporting;\n"])
def test_a_round_trip_that_env_py_commits_is_not_compared_with_the_models(tmp_path: Path,
                                                                          setup_sql: str | None) -> None:
    """env.py commits each migration: a downgrade that leaves a table behind stays after the re-upgrade. The
    round trip reports it; the models are compared on the database built again from scratch (from the copy
    kept after the setup SQL, which cannot simply run twice), so no model-drift repeats it."""
    project = project_with(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "touch agents", 'op.execute("UPDATE agents SET name = name")',
        'op.create_table("leftover", sa.Column("id", sa.Integer(), primary_key=True))')))
    edit(project / "migrations/env.py", "compare_type=True)", "compare_type=True, transaction_per_migration=True)")
    flags = ["--fail-on", "never"]
    if setup_sql:
        (project / "setup.sql").write_text(setup_sql)
        flags += ["--setup-sql", str(project / "setup.sql")]
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.report is not None
    assert finding(run, "roundtrip-mismatch")["revision"] == "0004"
    assert "model-drift" not in rules_of(run), run.stdout
    assert "upgrade-not-idempotent" not in rules_of(run), "the left-over table is the downgrade's one finding"
    assert any(s.startswith("compare: the round trip changed the schema for good at revision 0004")
               for s in run.report["skipped"]), run.report["skipped"]
    assert "compare" in run.report["timings"] and "to-base" in run.report["timings"]


def test_a_revision_that_fails_only_in_a_command_of_its_own(tmp_path: Path) -> None:
    """Seen in Optuna: two revisions use one enum type, and the second lets SQLAlchemy create it again. In one
    `alembic upgrade head` SQLAlchemy remembers the type and skips it; applied by a command of its own, as an
    incremental deployment applies it, the second fails. Said as such, and the models are still compared."""
    project = project_with(
        tmp_path,
        ("0004_a.py", migration("0004", "0003", "create jobs",
                                'op.create_table("jobs", sa.Column("id", sa.Integer(), primary_key=True), '
                                'sa.Column("state", sa.Enum("queued", "done", name="job_state")))',
                                'op.drop_table("jobs")\n    sa.Enum(name="job_state").drop(op.get_bind())')),
        ("0005_a.py", migration("0005", "0004", "create job history",
                                'op.create_table("job_history", sa.Column("id", sa.Integer(), primary_key=True), '
                                'sa.Column("state", sa.Enum("queued", "done", name="job_state")))',
                                'op.drop_table("job_history")')),
    )
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    failed = finding(run, "upgrade-failed")
    assert failed["revision"] == "0005" and 'type "job_state" already exists' in failed["message"]
    assert "in one `alembic upgrade head` from an empty database it passes" in failed["message"]
    assert "compare" in run.report["timings"]
    assert {f["details"]["table"] for f in run.report["findings"] if f["rule"] == "model-drift"} == {
        "jobs", "job_history"}, "compared at head"
