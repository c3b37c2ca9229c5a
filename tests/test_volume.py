"""The volume stage: the change's migrations run on tables filled with rows, on the real throwaway server.

Each rule has a migration that fails it and one, written the safe way, that passes. Tables get 1,000 rows here
(`--data-volume 1000`); big volumes are bench/volume.py's."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import check, copy_example
from history_projects import add, git, migration

ROWS = "1000"


def _project(tmp_path: Path, upgrade: str, downgrade: str = "pass", example: str = "clean",
             settings: str | None = None) -> tuple[Path, list[str]]:
    """The example at a base commit, and a change that adds revision 0004 with this upgrade()."""
    project = copy_example(example, tmp_path)
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    body = textwrap.indent(textwrap.dedent(upgrade).strip(), "    ").lstrip()
    add(tmp_path / "clean", "0004_change_runs.py",
        migration("0004", "0003", "the change under test", upgrade=body, downgrade=downgrade))
    if settings is not None:
        (project / ".migration-check.yml").write_text(textwrap.dedent(settings))
    return project, ["--only", "apply,volume", "--base-ref", base, "--data-volume", ROWS]


def _findings(data: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [finding for finding in data["findings"] if finding["rule"] == rule]


def _statements(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The observed statements of revision 0004, by the start of their SQL."""
    (revision,) = [run for run in data["volume"]["revisions"] if run["revision"] == "0004"]
    return {" ".join(statement["sql"].split())[:60]: statement for statement in revision["statements"]}


def test_the_risky_change_gets_measured_findings_and_a_stable_default_is_not_a_rewrite(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, """
        op.add_column("runs", sa.Column("token", sa.Uuid(), nullable=False,
                                        server_default=sa.text("gen_random_uuid()")))
        op.add_column("runs", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False,
                                        server_default=sa.text("now()")))
        op.alter_column("agents", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
        op.create_index("ix_runs_started_at", "runs", ["started_at"])
    """)
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 0, run.stderr  # warnings only
    data = run.report
    rewrites = _findings(data, "table-rewrite")
    assert {f["details"]["table"] for f in rewrites} == {"public.runs", "public.agents"}
    token = next(f for f in rewrites if f["details"]["table"] == "public.runs")
    assert "gen_random_uuid()" in token["details"]["statement"] and token["line"] == 16
    assert "rewrote public.runs (1,000 rows)" in token["message"] and "ACCESS EXCLUSIVE" in token["message"]
    assert token["details"]["blocked"] == {"public.runs": ["reads", "writes"]}
    assert token["details"]["seconds"] > 0 and token["details"]["safe_alternative"]
    (index,) = _findings(data, "blocking-lock")
    assert index["details"]["statement"].startswith("CREATE INDEX ix_runs_started_at")
    assert "scanned public.runs (1,000 rows)" in index["message"]
    assert "CONCURRENTLY" in index["details"]["safe_alternative"].upper()
    # now() is evaluated once: PostgreSQL 11+ stores it in the catalog and rewrites nothing
    statements = _statements(data)
    seen_at = next(s for sql, s in statements.items() if "seen_at" in sql)
    assert seen_at["rewritten"] == [] and seen_at["rows_read"] == {}
    assert not [f for f in data["findings"] if "seen_at" in f["details"].get("statement", "")]
    # the per-revision table, riskiest first, in the terminal
    assert "the new migrations on tables of 1,000 rows" in run.stdout
    assert run.stdout.index("ADD COLUMN token") < run.stdout.index("ADD COLUMN seen_at")
    assert data["volume"]["fill"]["rows"]["public.runs"] == 1000 and data["volume"]["fill"]["skipped"] == {}


def test_after_the_round_trip_the_stage_goes_down_through_the_new_revisions(tmp_path: Path) -> None:
    """The default pull-request check: the changed round trip proves the new downgrades exact, so the volume stage
    downgrades through them to the base instead of building the base again, and observes the same."""
    project, flags = _project(tmp_path, 'op.create_index("ix_runs_started_at", "runs", ["started_at"])',
                              downgrade='op.drop_index("ix_runs_started_at", table_name="runs")')
    flags = flags[2:]  # every stage
    run = check(project, *flags, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report["volume"]["base_reached_by"] == "downgraded", run.stdout
    assert "blocking-lock" in run.rules() and "roundtrip-mismatch" not in run.rules()
    # a downgrade the round trip finds wrong: the base is built again
    broken = tmp_path / "broken"
    broken.mkdir()
    project, flags = _project(broken, 'op.create_index("ix_runs_started_at", "runs", ["started_at"])',
                              downgrade='op.execute("SELECT 1")')
    run = check(project, *flags[2:], "--fail-on", "never", tmp_path=broken)
    assert run.report["volume"]["base_reached_by"] == "rebuilt"
    assert "blocking-lock" in run.rules() and "roundtrip-mismatch" in run.rules()


def test_the_same_changes_written_the_safe_way_pass(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, """
        op.add_column("runs", sa.Column("token", sa.Uuid(), nullable=True))
        op.add_column("runs", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False,
                                        server_default=sa.text("now()")))
        # each step in a transaction of its own: the ADD COLUMNs' ACCESS EXCLUSIVE ends before the backfill
        with op.get_context().autocommit_block():
            op.execute("UPDATE runs SET token = gen_random_uuid() WHERE token IS NULL")
            op.create_check_constraint(op.f("ck_runs_token_not_null"), "runs", "token IS NOT NULL",
                                       postgresql_not_valid=True)
            op.execute("ALTER TABLE runs VALIDATE CONSTRAINT ck_runs_token_not_null")
            op.alter_column("runs", "token", nullable=False)  # uses the validated constraint: no scan
            op.create_index("ix_runs_started_at", "runs", ["started_at"], postgresql_concurrently=True)
    """)
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert run.report["findings"] == [], run.stdout
    statements = _statements(run.report)
    index = next(s for sql, s in statements.items() if sql.startswith("CREATE INDEX CONCURRENTLY"))
    assert index["in_transaction"] is False and index["locks"] == {} and index["rows_read"]
    validate = next(s for sql, s in statements.items() if "VALIDATE CONSTRAINT" in sql)
    assert validate["rows_read"] == {"public.runs": 1000} and validate["in_transaction"] is False
    not_null = next(s for sql, s in statements.items() if "SET NOT NULL" in sql)
    assert not_null["rows_read"] == {}  # PostgreSQL 12+ proves it from the validated constraint


def test_a_backfill_in_the_same_transaction_as_its_add_column_runs_under_access_exclusive(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, """
        op.add_column("runs", sa.Column("token", sa.Uuid(), nullable=True))
        op.execute("UPDATE runs SET token = gen_random_uuid() WHERE token IS NULL")
    """)
    run = check(project, *flags, tmp_path=tmp_path)
    (finding,) = _findings(run.report, "blocking-lock")
    assert finding["details"]["statement"].startswith("UPDATE runs")
    assert "holds ACCESS EXCLUSIVE (taken by an earlier statement of the transaction)" in finding["message"]


def test_a_foreign_key_without_not_valid_blocks_writes_and_with_it_does_not(tmp_path: Path) -> None:
    foreign_key = ('op.create_foreign_key(op.f("fk_api_keys_org"), "api_keys", "organizations", '
                   '["organization_id"], ["id"]{})')
    project, flags = _project(tmp_path, foreign_key.format(""))
    run = check(project, *flags, tmp_path=tmp_path)
    (finding,) = _findings(run.report, "blocking-lock")
    assert "holds SHARE ROW EXCLUSIVE and scanned public.api_keys (1,000 rows)" in finding["message"]
    assert finding["details"]["blocked"]["public.api_keys"] == ["writes"]
    assert "postgresql_not_valid=True" in finding["details"]["safe_alternative"]

    safe_path = tmp_path / "safe"
    safe_path.mkdir()
    project, flags = _project(safe_path, foreign_key.format(", postgresql_not_valid=True"))
    run = check(project, *flags, tmp_path=safe_path)
    assert _findings(run.report, "blocking-lock") == [], run.stdout


def test_not_null_without_a_default_fails_once_the_table_has_rows(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, 'op.add_column("runs", sa.Column("plan", sa.Text(), nullable=False))')
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 1, run.stdout + run.stderr
    (finding,) = _findings(run.report, "not-null-on-existing-rows")
    assert finding["severity"] == "error" and finding["revision"] == "0004"
    assert 'column "plan" of relation "runs" contains null values' in finding["message"]
    assert finding["details"]["statement"].startswith("ALTER TABLE runs ADD COLUMN plan TEXT NOT NULL")
    assert finding["file"].endswith("0004_change_runs.py") and finding["line"] == 16

    safe_path = tmp_path / "safe"
    safe_path.mkdir()
    project, flags = _project(safe_path, 'op.add_column("runs", sa.Column("plan", sa.Text(), nullable=False, '
                                         'server_default="free"))')
    run = check(project, *flags, tmp_path=safe_path)
    assert run.status == 0 and run.report["findings"] == [], run.stdout


def test_concurrently_inside_the_transaction_is_named_with_its_fix(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, 'op.create_index("ix_runs_started_at", "runs", ["started_at"], '
                                        'postgresql_concurrently=True)')
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 1
    (finding,) = run.report["findings"]
    assert finding["rule"] == "concurrently-in-transaction" and finding["severity"] == "error"
    assert "cannot run inside a transaction block" in finding["message"]
    assert "autocommit_block" in run.stdout
    assert any(s.startswith("volume: skipped") for s in run.report["skipped"])


def test_a_migration_slower_than_the_threshold(tmp_path: Path) -> None:
    upgrade = 'op.execute("SELECT pg_sleep(0.2)")'
    project, flags = _project(tmp_path, upgrade, settings="data-volume:\n  slow-migration-ms: 100\n")
    run = check(project, *flags, tmp_path=tmp_path)
    (finding,) = _findings(run.report, "slow-migration")
    assert finding["details"]["seconds"] >= 0.2 and finding["details"]["threshold_ms"] == 100

    fast_path = tmp_path / "fast"
    fast_path.mkdir()
    project, flags = _project(fast_path, upgrade)  # the default threshold, 5 s
    run = check(project, *flags, tmp_path=fast_path)
    assert _findings(run.report, "slow-migration") == []


def test_an_async_env_py_is_observed_through_its_own_driver(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, 'op.create_index("ix_runs_started_at", "runs", ["started_at"])',
                              example="async-env")
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.report["driver"] == "asyncpg", run.stderr
    (finding,) = _findings(run.report, "blocking-lock")
    assert "SHARE" in finding["message"] and finding["details"]["blocked"] == {"public.runs": ["writes"]}


def test_sizes_per_table_and_real_sizes_from_an_audit_report(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, 'op.alter_column("agents", "id", type_=sa.BigInteger(), '
                                        'existing_type=sa.Integer())',
                              settings="data-volume:\n  default: 1000\n  tables:\n    users: 300\n")
    audit = tmp_path / "audit.json"
    audit.write_text(json.dumps({"kind": "audit", "version": 1, "databases": [
        {"name": "prod", "tables": [{"schema": "public", "table": "agents", "rows": 2_000_000, "bytes": 1}]},
        {"name": "eu", "tables": [{"schema": "public", "table": "agents", "rows": 500, "bytes": 1}]}]}))
    flags = [flag for flag in flags if flag not in ("--data-volume", ROWS)]
    run = check(project, *flags, "--table-sizes", audit, tmp_path=tmp_path)
    fill = run.report["volume"]["fill"]["rows"]
    assert fill["public.users"] == 300 and fill["public.agents"] == 1000 and fill["public.agent_versions"] == 1000
    (rewrite,) = _findings(run.report, "table-rewrite")
    # the measured time scaled from 1,000 to the largest real size, 2,000,000 rows
    # (the report rounds seconds to 0.1 ms, which 2,000 times is 0.2 s)
    assert rewrite["details"]["estimated_seconds"] == pytest.approx(rewrite["details"]["seconds"] * 2000, abs=0.2)
    assert "at the real size (an estimate)" in rewrite["message"]


def test_a_table_that_cannot_be_filled_is_skipped_and_said(tmp_path: Path) -> None:
    project, flags = _project(tmp_path, 'op.add_column("documents", sa.Column("note", sa.Text(), nullable=True))')
    setup = tmp_path / "setup.sql"  # a table the fill cannot make values for, there before the migrations
    setup.write_text("CREATE TABLE documents (id serial PRIMARY KEY, body tsvector NOT NULL);\n")
    run = check(project, *flags, "--setup-sql", setup, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert run.report["volume"]["fill"]["skipped"] == {
        "public.documents": "no value can be made for column body of type tsvector"}
    assert any("public.documents was not filled" in reason for reason in run.report["skipped"])


def test_the_tables_around_the_change_are_filled_or_all_of_them(tmp_path: Path) -> None:
    upgrade = 'op.create_index("ix_api_keys_name", "api_keys", ["name"])'
    project, flags = _project(tmp_path, upgrade)
    run = check(project, *flags, tmp_path=tmp_path)
    # api_keys, named by the migration, and organizations, which it refers to; not agents, users, runs
    assert set(run.report["volume"]["fill"]["rows"]) == {"public.api_keys", "public.organizations"}
    every = tmp_path / "every"
    every.mkdir()
    project, flags = _project(every, upgrade, settings="data-volume: {fill: all}\n")
    run = check(project, *flags, tmp_path=every)
    assert len(run.report["volume"]["fill"]["rows"]) == 6


def test_off_by_default_without_a_base_ref_and_off_when_asked(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    run = check(project, "--only", "apply,volume", tmp_path=tmp_path)
    assert run.report["volume"] is None
    assert any(reason.startswith("volume: off without --base-ref") for reason in run.report["skipped"])
    run = check(project, "--only", "apply,volume", "--data-volume", "500", tmp_path=tmp_path)
    (revision,) = run.report["volume"]["revisions"]  # the head's revision, on the history below it
    assert revision["revision"] == "0003" and run.report["volume"]["fill"]["rows"]["public.agents"] == 500
    change = tmp_path / "change"
    change.mkdir()
    project, flags = _project(change, 'op.create_index("ix_runs_started_at", "runs", ["started_at"])')
    flags[flags.index("--data-volume") + 1] = "off"
    run = check(project, *flags, tmp_path=change)
    assert run.report["volume"] is None and run.report["findings"] == []


@pytest.mark.parametrize(("settings", "line", "words"), [
    ("data-volume: lots\n", 1, "data-volume must be a whole number"),
    ("data-volume:\n  default: 10\n  tabels: {}\n", 3, "unknown key `tabels` in data-volume"),
    ("data-volume:\n  tables:\n    events: -5\n", 3, "data-volume.tables.events must be a whole number"),
])
def test_bad_data_volume_settings_name_the_line(tmp_path: Path, settings: str, line: int, words: str) -> None:
    project = copy_example("clean", tmp_path)
    (project / ".migration-check.yml").write_text(settings)
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2
    assert f".migration-check.yml:{line}" in run.stderr and words in run.stderr, run.stderr


def test_bad_flags_say_what_to_pass(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    run = check(project, "--data-volume", "many", tmp_path=tmp_path)
    assert run.status == 2 and "--data-volume 'many' is not a number of rows" in run.stderr
    not_audit = tmp_path / "report.json"
    not_audit.write_text('{"findings": []}')
    run = check(project, "--table-sizes", not_audit, tmp_path=tmp_path / "r")
    assert run.status == 2 and "is not an audit report" in run.stderr


def test_a_reviewed_exception_lets_a_volume_finding_through(tmp_path: Path) -> None:
    settings = ("allow:\n  - rule: blocking-lock\n    match: {table: public.runs}\n"
                "    reason: runs is empty in production until the feature ships\n")
    project, flags = _project(tmp_path, 'op.create_index("ix_runs_started_at", "runs", ["started_at"])',
                              settings=settings)
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 0 and run.report["findings"] == [], run.stdout
    (allowed,) = run.report["allowed"]
    assert allowed["rule"] == "blocking-lock" and allowed["allowed_by"] == "allowlist clean/.migration-check.yml:2"


def test_a_revision_of_many_statements_is_timed_without_the_observation(tmp_path: Path) -> None:
    """A data migration that sends a statement per row: observing each one (catalog reads, probes) costs more
    than the statement, and is not counted as the migration's time."""
    upgrade = ('for number in range(300):\n'
               '        op.execute(f"UPDATE runs SET error = \'e{number}\' WHERE id = {number}")')
    project, flags = _project(tmp_path, upgrade, settings="data-volume:\n  slow-migration-ms: 1000\n")
    run = check(project, *flags, tmp_path=tmp_path)
    assert _findings(run.report, "slow-migration") == [], run.stdout
    (revision,) = run.report["volume"]["revisions"]
    statements = sum(statement["seconds"] for statement in revision["statements"])
    assert len(revision["statements"]) == 300
    # the statements, and Alembic's own work around them; observing them took 0.7 s more here
    assert statements <= revision["seconds"] < statements + 0.5, (statements, revision["seconds"])
