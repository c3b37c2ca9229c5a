"""The scheduled drift audit, on real servers: the "live" databases are databases of a second throwaway server,
brought to a revision by the project's own migrations, then changed by hand."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import Run, copy_example, edit, run_cli
from migration_check.database import ThrowawayServer
from migration_check.rules import RULES

pytestmark = pytest.mark.usefixtures("no_leftovers")

_UPGRADE = """
import sys
from alembic import command
from alembic.config import Config
config = Config("alembic.ini")
config.set_main_option("sqlalchemy.url", sys.argv[1].replace("%", "%%"))
command.upgrade(config, sys.argv[2])
"""


def live_database(server: ThrowawayServer, project: Path, revision: str | None, *sql: str) -> str:
    """A new database on the live server, migrated by plain Alembic to revision (None: not at all), then changed
    by hand with sql. Returns its URL."""
    name = f"live_{uuid.uuid4().hex[:8]}"
    with server.connect("postgres") as connection:
        connection.execute(f"CREATE DATABASE {name}")
    url = server.url(name)
    if revision is not None:
        subprocess.run([sys.executable, "-c", _UPGRADE, server.url(name, "psycopg"), revision], cwd=project,
                       check=True, capture_output=True)
    with server.connect(name) as connection:
        for statement in sql:
            connection.execute(statement)
    return url


def audit(project: Path, *args: str, tmp_path: Path) -> Run:
    return run_cli("audit", project, "--quiet", *args, report=tmp_path / "audit.json")


def findings(run: Run, database: str | None = None) -> list[dict[str, Any]]:
    assert run.report is not None, run.stderr
    return [finding for entry in run.report["databases"] if database in (None, entry["name"])
            for finding in entry["findings"]]


def rules_of(run: Run, database: str | None = None) -> list[str]:
    return sorted(finding["rule"] for finding in findings(run, database))


def entry(run: Run, name: str) -> dict[str, Any]:
    assert run.report is not None, run.stderr
    return next(database for database in run.report["databases"] if database["name"] == name)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example("clean", tmp_path / "project")


def test_a_manual_hotfix_and_a_pending_migration(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "0002",
                        "CREATE INDEX ix_agents_name ON agents (name)",
                        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL",
                        "ALTER TABLE agents ALTER COLUMN created_at SET DEFAULT '2020-01-01'",
                        "ALTER TABLE agent_versions DROP CONSTRAINT fk_agent_versions_agent_id_agents",
                        "INSERT INTO organizations (name, slug) VALUES ('Acme', 'acme')",
                        "ANALYZE organizations")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert run.status == 1, run.stdout + run.stderr
    assert rules_of(run) == ["live-behind-head", *["live-schema-diverged"] * 4]
    production = entry(run, "production")
    assert production["verdict"] == "drift" and production["revisions"] == ["0002"]
    assert [p["revision"] for p in production["pending"]] == ["0003"]
    assert production["pending"][0]["file"].endswith("migrations/versions/0003_create_runs_and_api_keys.py")
    by_object = {f["details"]["objects"][0]: f for f in findings(run) if f["rule"] == "live-schema-diverged"}
    index = by_object["left over: index public.ix_agents_name (CREATE INDEX ix_agents_name ON public.agents "
                      "USING btree (name))"]
    assert 'op.drop_index("ix_agents_name", table_name="agents")' in index["details"]["revert_code"]
    assert "CREATE INDEX ix_agents_name" in index["details"]["adopt_code"]
    nullable = next(f for key, f in by_object.items() if "users.email" in key)
    assert 'op.alter_column("users", "email", nullable=False)' in nullable["details"]["revert_code"]
    assert any("agents.created_at" in key for key in by_object)
    dropped = by_object["missing: foreign key public.agent_versions.fk_agent_versions_agent_id_agents (FOREIGN KEY "
                        "(agent_id) REFERENCES agents(id) ON DELETE CASCADE)"]
    assert "ADD CONSTRAINT fk_agent_versions_agent_id_agents FOREIGN KEY" in dropped["details"]["revert_code"]
    # the pending migration's tables are not drift from the models: 0003 explains them
    assert "live-model-drift" not in rules_of(run)
    tables = {(t["schema"], t["table"]): t for t in production["tables"]}
    assert tables[("public", "organizations")]["rows"] == 1 and tables[("public", "organizations")]["bytes"] > 0
    assert ("public", "alembic_version") not in tables
    secret = url.split("//", 1)[1].split("@")[0].split(":")[1]
    for text in (run.stdout, run.stderr, json.dumps(run.report)):
        assert url not in text and secret not in text and "127.0.0.1" not in text


def test_a_database_at_head_is_clean(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "head")
    run = audit(project, "--database-url", f"staging={url}", tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert findings(run) == [] and entry(run, "staging")["verdict"] == "clean"
    assert "audit no drift: 1 database (1 clean)" in run.stdout


def test_a_hotfix_column_at_head(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "head", "ALTER TABLE agents ADD COLUMN notes text")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert run.status == 1
    [diverged] = findings(run)
    assert diverged["rule"] == "live-schema-diverged"
    assert "column public.agents.notes (text NULL) is in the live database" in diverged["message"]
    assert diverged["details"]["adopt_code"] == 'op.execute("ALTER TABLE public.agents ADD COLUMN notes text")'
    assert 'op.drop_column("agents", "notes")' in diverged["details"]["revert_code"]


def _models_gain_a_description(project: Path) -> None:
    edit(project / "app/models.py", "    name: Mapped[str] = mapped_column(String(200))\n    created_by_id",
         "    name: Mapped[str] = mapped_column(String(200))\n"
         "    description: Mapped[str | None] = mapped_column(String(500))\n    created_by_id")


@pytest.mark.parametrize("revision", ["head", "0002"])
def test_the_models_ahead_of_every_migration(server: ThrowawayServer, project: Path, tmp_path: Path,
                                             revision: str) -> None:
    _models_gain_a_description(project)
    url = live_database(server, project, revision)
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert run.status == 1
    expected = ["live-model-drift"] if revision == "head" else ["live-behind-head", "live-model-drift"]
    assert rules_of(run) == expected
    [drift] = [f for f in findings(run) if f["rule"] == "live-model-drift"]
    assert drift["message"].startswith("production: Column agents.description")
    assert drift["file"].endswith("app/models.py") and drift["line"]
    assert "op.add_column('agents'" in run.report["suggested_migration"]


def test_the_models_agree_with_a_hotfix_no_migration_made(server: ThrowawayServer, project: Path,
                                                          tmp_path: Path) -> None:
    """The column was added by hand and to the models, but never in a migration: the database differs from the
    migrations (the finding gives the migration to write), not from the models."""
    _models_gain_a_description(project)
    url = live_database(server, project, "head", "ALTER TABLE agents ADD COLUMN description varchar(500)")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert rules_of(run) == ["live-schema-diverged"]


def test_an_unknown_revision(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "head", "UPDATE alembic_version SET version_num = '9f3c1a2b7d10'")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert run.status == 1
    [unknown] = findings(run)
    assert unknown["rule"] == "live-unknown-revision" and unknown["details"]["revisions"] == ["9f3c1a2b7d10"]
    assert "which no migration file in the repository has" in unknown["message"]


def test_no_version_table(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    stamped_by_hand = live_database(server, project, "head", "DROP TABLE alembic_version")
    empty = live_database(server, project, None)
    run = audit(project, "--database-url", f"restored={stamped_by_hand}", "--database-url", f"other={empty}",
                tmp_path=tmp_path)
    assert run.status == 1
    [restored] = findings(run, "restored")
    assert restored["rule"] == "live-no-version-table" and restored["details"]["stamp"] is True
    assert "alembic stamp head" in restored["message"]
    [other] = findings(run, "other")
    assert other["rule"] == "live-no-version-table" and other["details"]["stamp"] is False
    assert "holds no schema objects at all" in other["message"]


def test_the_audits_connection_refuses_writes(server: ThrowawayServer, project: Path) -> None:
    from sqlalchemy import exc as sa_exc

    from migration_check.audit.config import LiveTarget
    from migration_check.audit.live import read_only_connection

    url = live_database(server, project, "head")
    with read_only_connection(LiveTarget("production", url, "test")) as connection:
        assert connection.exec_driver_sql("SHOW transaction_read_only").scalar() == "on"
        for write in ("CREATE TABLE intruder (id int)", "UPDATE alembic_version SET version_num = 'x'",
                      "DELETE FROM alembic_version"):
            with pytest.raises(sa_exc.InternalError, match="read-only transaction"):
                connection.exec_driver_sql(write)
            connection.rollback()
        assert connection.exec_driver_sql("SHOW application_name").scalar().startswith("migration-check audit")
        assert connection.exec_driver_sql("SHOW lock_timeout").scalar() == "2s"


def test_an_audit_writes_nothing_to_the_live_database(server: ThrowawayServer, project: Path,
                                                      tmp_path: Path) -> None:
    url = live_database(server, project, "0002", "CREATE INDEX ix_agents_name ON agents (name)")
    name = url.rsplit("/", 1)[1]
    state = ("SELECT (SELECT string_agg(version_num, ',') FROM alembic_version), "
             "(SELECT string_agg(relname || ':' || relfilenode, ',' ORDER BY relname) FROM pg_class "
             "WHERE relnamespace = 'public'::regnamespace), (SELECT xact_commit FROM pg_stat_database "
             "WHERE datname = current_database())")
    with server.connect(name) as connection:
        before = connection.execute(state).fetchone()
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert run.status == 1
    with server.connect(name) as connection:
        after = connection.execute(state).fetchone()
    assert after[:2] == before[:2], "the version table and every relation are as they were"
    with server.connect("postgres") as connection:
        databases = {row[0] for row in connection.execute("SELECT datname FROM pg_database")}
    assert not [d for d in databases if d.startswith("migration_check_")], "no scratch database on the live server"


def test_three_databases_one_unreachable_one_wrong_password(server: ThrowawayServer, project: Path,
                                                            tmp_path: Path) -> None:
    url = live_database(server, project, "head")
    wrong = url.replace(url.split("//", 1)[1].split("@")[0], "postgres:not-the-password")
    port = url.rsplit(":", 1)[1].split("/")[0]
    closed = url.replace(f":{port}/", ":9/")
    run = audit(project, "--database-url", f"production={url}", "--database-url", f"staging={wrong}",
                "--database-url", f"analytics={closed}", tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert entry(run, "production")["verdict"] == "clean"
    staging, analytics = entry(run, "staging"), entry(run, "analytics")
    assert staging["verdict"] == analytics["verdict"] == "error"
    assert "refused the login" in staging["error"] and "password" in staging["fix"]
    assert "cannot connect (Connection refused)" in analytics["error"]
    assert "migration-check: database error: staging: the server refused the login" in run.stderr
    assert "migration-check: database error: analytics: cannot connect" in run.stderr
    assert "not-the-password" not in run.stdout + run.stderr + json.dumps(run.report)


def test_shards_and_their_merge(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    urls = [live_database(server, project, revision) for revision in ("head", "0002", "head")]
    databases = tmp_path / "databases.yml"
    databases.write_text("databases:\n" + "".join(f"  - name: tenant-{n}\n    url-env: TENANT_{n}_URL\n"
                                                   for n in range(1, 4)))
    env = {f"TENANT_{n}_URL": url for n, url in enumerate(urls, start=1)}
    reports = []
    for shard in ("1/2", "2/2"):
        report = tmp_path / f"shard-{shard[0]}.json"
        run = run_cli("audit", project, "--quiet", "--databases", databases, "--shard", shard, "--report", report,
                      env=env)
        assert run.status == 0, run.stdout + run.stderr  # behind head is a warning
        reports.append(report)
    first, second = (json.loads(r.read_text()) for r in reports)
    assert [d["name"] for d in first["databases"]] == ["tenant-1", "tenant-3"]
    assert [d["name"] for d in second["databases"]] == ["tenant-2"]
    merged_file = tmp_path / "merged.json"
    merged = run_cli("merge-reports", *reports, "--report", merged_file, "--fail-on", "warning")
    assert merged.status == 1, merged.stdout + merged.stderr
    data = json.loads(merged_file.read_text())
    assert sorted(d["name"] for d in data["databases"]) == ["tenant-1", "tenant-2", "tenant-3"]
    assert data["shards"] == ["1/2", "2/2"] and data["summary"]["behind"] == 1
    assert "audit passed with findings: 3 databases (1 behind head, 2 clean)" in \
        run_cli("merge-reports", *reports).stdout
    missing = run_cli("merge-reports", reports[0])
    assert missing.status == 2
    assert "no report of shard 2/2 was given to merge-reports" in missing.stdout


@pytest.mark.parametrize(("text", "line", "said"), [
    ("- name: production\n", 1, "needs either `url` or `url-env`"),
    ("- name: production\n  url-env: NOT_SET_ANYWHERE\n", 2, "NOT_SET_ANYWHERE"),
    ("- url: postgresql://a@b/c\n", 1, "has no `name`"),
    ("- {name: a, url: 'postgresql://a@b/c'}\n- {name: a, url: 'postgresql://a@b/d'}\n", 2, "two databases"),
    ("- name: a\n  url: mysql://a@b/c\n  extra: 1\n", 3, "unknown key `extra`"),
    ("[]\n", None, "lists no databases"),
])
def test_a_bad_databases_file(project: Path, tmp_path: Path, text: str, line: int | None, said: str) -> None:
    databases = tmp_path / "databases.yml"
    databases.write_text(text)
    run = run_cli("audit", project, "--databases", databases)
    assert run.status == 2
    assert said in run.stderr
    assert f"{databases}:{line}:" in run.stderr if line else f"{databases}:" in run.stderr


def test_bad_flags(project: Path) -> None:
    assert "The audit was given no database" in run_cli("audit", project).stderr
    shard = run_cli("audit", project, "--database-url", "postgresql://a@b/c", "--shard", "3/2")
    assert shard.status == 2 and "is not I/N" in shard.stderr
    scheme = run_cli("audit", project, "--database-url", "prod=mysql://a@b/c")
    assert scheme.status == 2 and "names a mysql database" in scheme.stderr


# -- each audit rule fails on a changed database and passes on the same database as its migrations built ------

AUDIT_CASES: dict[str, tuple[str, tuple[str, ...], bool]] = {  # revision, hand-made changes, models ahead
    "live-behind-head": ("0002", (), False),
    "live-unknown-revision": ("head", ("UPDATE alembic_version SET version_num = 'ffff0000ffff'",), False),
    "live-no-version-table": ("head", ("DROP TABLE alembic_version",), False),
    "live-schema-diverged": ("head", ("CREATE INDEX ix_agents_name ON agents (name)",), False),
    "live-model-drift": ("head", (), True),
}


def test_every_audit_rule_has_a_case() -> None:
    assert set(AUDIT_CASES) == {rule_id for rule_id, rule in RULES.items() if rule.stage == "audit"}


@pytest.mark.parametrize("rule_id", sorted(AUDIT_CASES))
def test_audit_rule_fires_on_bad_and_not_on_good(server: ThrowawayServer, project: Path, tmp_path: Path,
                                                 rule_id: str) -> None:
    revision, changes, models_ahead = AUDIT_CASES[rule_id]
    bad = live_database(server, project, revision, *changes)
    good = live_database(server, project, "head")
    if models_ahead:  # the same database, audited against models that have moved on, and against its own
        run = audit(project, "--database-url", f"good={good}", tmp_path=tmp_path)
        assert rules_of(run) == [], run.stdout
        _models_gain_a_description(project)
        run = audit(project, "--database-url", f"bad={good}", tmp_path=tmp_path)
        assert rules_of(run) == [rule_id], run.stdout
        return
    run = audit(project, "--database-url", f"bad={bad}", "--database-url", f"good={good}", tmp_path=tmp_path)
    assert rule_id in rules_of(run, "bad"), run.stdout
    assert rules_of(run, "good") == []


def test_a_dropped_column_is_one_finding_with_what_went_with_it(server: ThrowawayServer, project: Path,
                                                                tmp_path: Path) -> None:
    """Dropping agents.name by hand also drops the unique constraint over it, and the constraint's index."""
    url = live_database(server, project, "head", "ALTER TABLE agents DROP COLUMN name")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    messages = [f["message"] for f in findings(run)]
    assert rules_of(run) == ["live-schema-diverged"] * 2, messages
    constraint = next(f for f in findings(run) if "uq_agents_organization_id_name" in f["message"])
    assert len(constraint["details"]["objects"]) == 2  # the constraint and its index
    assert constraint["details"]["revert_code"].count("\n") == 0, "the index comes back with the constraint"


def test_the_version_table_env_py_names(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    """env.py keeps the version table under another name, in a schema of its own: the audit reads that one."""
    edit(project / "migrations/env.py",
         "        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)",
         '        connection.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS meta")\n'
         "        connection.commit()\n"
         "        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,\n"
         '                          version_table="schema_history", version_table_schema="meta")')
    at_0002 = live_database(server, project, "0002")
    other_table = live_database(server, project, "head", "ALTER TABLE meta.schema_history RENAME TO alembic_version")
    run = audit(project, "--database-url", f"production={at_0002}", "--database-url", f"renamed={other_table}",
                tmp_path=tmp_path)
    assert rules_of(run, "production") == ["live-behind-head"], run.stdout
    [missing] = findings(run, "renamed")
    assert missing["rule"] == "live-no-version-table"
    assert "(meta.schema_history)" in missing["message"]


def test_a_user_that_cannot_read_the_version_table(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "head")
    role = f"auditor_{uuid.uuid4().hex[:6]}"
    with server.connect("postgres") as connection:
        connection.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'audit-only-pw'")
    as_auditor = url.replace(url.split("//", 1)[1].split("@")[0], f"{role}:audit-only-pw")
    refused = audit(project, "--database-url", f"production={as_auditor}", tmp_path=tmp_path)
    assert refused.status == 2
    production = entry(refused, "production")
    assert "permission denied for table alembic_version" in production["error"]
    assert "GRANT pg_read_all_data" in production["fix"]
    with server.connect("postgres") as connection:
        connection.execute(f"GRANT pg_read_all_data TO {role}")
    granted = audit(project, "--database-url", f"production={as_auditor}", tmp_path=tmp_path)
    assert granted.status == 0, granted.stdout + granted.stderr
    assert entry(granted, "production")["verdict"] == "clean"


def test_a_schema_in_mid_change_is_not_read(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    """A migration holds a table exclusively: the audit gives up on that database after its lock timeout, says
    who holds what, and audits the others."""
    busy, calm = live_database(server, project, "head"), live_database(server, project, "head")
    with psycopg.connect(busy, application_name="deploy-migrations") as migration:
        migration.execute("LOCK TABLE agents IN ACCESS EXCLUSIVE MODE")
        run = audit(project, "--database-url", f"busy={busy}", "--database-url", f"calm={calm}", tmp_path=tmp_path)
        migration.rollback()
    assert run.status == 2
    assert entry(run, "calm")["verdict"] == "clean"
    error = entry(run, "busy")["error"]
    assert "its schema is being changed right now: public.agents (deploy-migrations, for" in error
    assert "does not read a schema in mid-change" in error


def test_the_teams_rule_levels_apply(server: ThrowawayServer, project: Path, tmp_path: Path) -> None:
    url = live_database(server, project, "0002", "CREATE INDEX ix_agents_name ON agents (name)")
    (project / ".migration-check.yml").write_text("rules:\n  live-behind-head: error\n  live-schema-diverged: off\n")
    run = audit(project, "--database-url", f"production={url}", tmp_path=tmp_path)
    assert [(f["rule"], f["severity"]) for f in findings(run)] == [("live-behind-head", "error")]


def test_a_shard_with_no_database(project: Path, tmp_path: Path) -> None:
    """A matrix wider than the list: the shard's job audits nothing, starts no server, and still reports."""
    run = run_cli("audit", project, "--database-url", "a=postgresql://u@127.0.0.1:9/a", "--shard", "2/3",
                  report=tmp_path / "audit.json")
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["databases"] == [] and run.report["shards"] == ["2/3"]
    assert "shard 2/3 of a list of 1 databases has none" in run.stderr
