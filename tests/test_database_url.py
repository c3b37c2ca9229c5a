"""--database-url: a uniquely named scratch database on the given server, dropped afterwards; nothing else
touched. The "given server" is our own throwaway server, started here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from conftest import EXAMPLES, check
from migration_check.database import SERVER_USER, ThrowawayServer, find_server_binaries

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.fixture(scope="module")
def server() -> Iterator[ThrowawayServer]:
    running = ThrowawayServer(find_server_binaries(None))
    running.start()
    try:
        yield running
    finally:
        running.close()


def _databases(server: ThrowawayServer) -> set[str]:
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SERVER_USER, dbname="postgres") as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_runs_in_a_scratch_database_and_drops_it(server: ThrowawayServer, tmp_path: Path) -> None:
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SERVER_USER, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute("CREATE DATABASE app_production")
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SERVER_USER, dbname="app_production",
                         autocommit=True) as conn:
        conn.execute("CREATE TABLE precious (id int)")
    before = _databases(server)
    url = f"postgresql://{SERVER_USER}@127.0.0.1:{server.port}/postgres"
    run = check(EXAMPLES / "drift", "--database-url", url, tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    assert run.report["server"]["kind"] == "external"
    assert run.report["server"]["database"].startswith("migration_check_")
    assert len(run.rules()) == 4
    assert _databases(server) == before, "the scratch database is dropped, and no other is created or dropped"
    with psycopg.connect(host="127.0.0.1", port=server.port, user=SERVER_USER, dbname="app_production") as conn:
        assert conn.execute("SELECT to_regclass('precious') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT to_regclass('agents')").fetchone() == (None,)


def test_failure_still_drops_the_scratch_database(server: ThrowawayServer, tmp_path: Path) -> None:
    before = _databases(server)
    url = f"postgresql://{SERVER_USER}@127.0.0.1:{server.port}/postgres"
    run = check(EXAMPLES / "failing-migration", "--database-url", url, tmp_path=tmp_path)
    assert run.status == 1
    assert run.rules() == ["upgrade-failed"]
    assert _databases(server) == before


def test_database_url_from_the_environment(server: ThrowawayServer, tmp_path: Path) -> None:
    url = f"postgresql://{SERVER_USER}@127.0.0.1:{server.port}/postgres"
    run = check(EXAMPLES / "clean", tmp_path=tmp_path, env={"MIGRATION_CHECK_DATABASE_URL": url})
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["server"]["kind"] == "external"


def test_round_trip_as_a_user_that_is_not_a_superuser(server: ThrowawayServer, tmp_path: Path) -> None:
    """Without superuser rights there are no event triggers: the round trip reads the whole schema after each
    step instead, and finds the same problems."""
    from history_projects import migration, repository

    with psycopg.connect(host="127.0.0.1", port=server.port, user=SERVER_USER, dbname="postgres",
                         autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS app_ci")
        conn.execute("CREATE ROLE app_ci LOGIN CREATEDB NOSUPERUSER")
    url = f"postgresql://app_ci@127.0.0.1:{server.port}/postgres"
    before = _databases(server)
    clean = check(EXAMPLES / "clean", "--database-url", url, "--roundtrip", "full", tmp_path=tmp_path)
    assert clean.status == 0, clean.stderr
    assert clean.report is not None and {"roundtrip", "to-base"} <= set(clean.report["timings"])

    project, _base = repository(tmp_path / "forgetful")
    (project / "migrations/versions/0004_add_agent_description.py").write_text(migration(
        "0004", "0003", "add agent description", downgrade='op.execute("SELECT 1")'))
    (tmp_path / "report.json").unlink()
    run = check(project, "--database-url", url, "--roundtrip", "full", "--fail-on", "never", tmp_path=tmp_path)
    mismatches = [f for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"] if run.report else []
    assert len(mismatches) == 1 and "agents.description" in mismatches[0]["message"], run.stderr
    assert _databases(server) == before
