"""--database-url: a uniquely named scratch database on the given server, dropped afterwards; nothing else
touched. The "given server" is our own throwaway server, started here."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import EXAMPLES, check, copy_example, edit
from migration_check.database import SERVER_USER, ThrowawayServer

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _databases(server: ThrowawayServer) -> set[str]:
    with server.connect("postgres", autocommit=False) as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_runs_in_a_scratch_database_and_drops_it(server: ThrowawayServer, tmp_path: Path) -> None:
    with server.connect("postgres") as conn:
        conn.execute("CREATE DATABASE app_production")
    with server.connect("app_production") as conn:
        conn.execute("CREATE TABLE precious (id int)")
    before = _databases(server)
    url = server.url()
    run = check(EXAMPLES / "drift", "--database-url", url, tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    assert run.report["server"]["kind"] == "external"
    assert run.report["server"]["database"].startswith("migration_check_")
    assert len(run.rules()) == 4
    assert _databases(server) == before, "the scratch database is dropped, and no other is created or dropped"
    with server.connect("app_production", autocommit=False) as conn:
        assert conn.execute("SELECT to_regclass('precious') IS NOT NULL").fetchone() == (True,)
        assert conn.execute("SELECT to_regclass('agents')").fetchone() == (None,)


def test_failure_still_drops_the_scratch_database(server: ThrowawayServer, tmp_path: Path) -> None:
    before = _databases(server)
    url = server.url()
    run = check(EXAMPLES / "failing-migration", "--database-url", url, tmp_path=tmp_path)
    assert run.status == 1
    assert run.rules() == ["upgrade-failed"]
    assert _databases(server) == before


def test_database_url_from_the_environment(server: ThrowawayServer, tmp_path: Path) -> None:
    url = server.url()
    run = check(EXAMPLES / "clean", tmp_path=tmp_path, env={"MIGRATION_CHECK_DATABASE_URL": url})
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["server"]["kind"] == "external"


def test_round_trip_as_a_user_that_is_not_a_superuser(server: ThrowawayServer, tmp_path: Path) -> None:
    """Without superuser rights there are no event triggers: the round trip reads the whole schema after each
    step instead, and finds the same problems."""
    from history_projects import migration, repository

    with server.connect("postgres") as conn:
        conn.execute("DROP ROLE IF EXISTS app_ci")
        conn.execute("CREATE ROLE app_ci LOGIN CREATEDB NOSUPERUSER PASSWORD 'ci-password'")
    url = f"postgresql://app_ci:ci-password@127.0.0.1:{server.port}/postgres"
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


def _connect_env_py_to(project: Path, url: str) -> None:
    """env.py ignores the URL it is given and connects where its own settings say, as a project whose settings
    fall back to a developer's database does."""
    edit(project / "migrations/env.py",
         'connectable = engine_from_config(\n        config.get_section(config.config_ini_section, {}), '
         'prefix="sqlalchemy.", poolclass=pool.NullPool\n    )',
         f'from sqlalchemy import create_engine\n\n    connectable = create_engine({url!r}, poolclass=pool.NullPool)')


@pytest.mark.parametrize("roundtrip", ["off", "full"])
def test_env_py_connecting_elsewhere_is_refused_and_nothing_runs_there(
    server: ThrowawayServer, roundtrip: str, tmp_path: Path
) -> None:
    with server.connect("postgres") as conn:
        conn.execute("DROP DATABASE IF EXISTS app_development")
        conn.execute("CREATE DATABASE app_development")
    project = copy_example("clean", tmp_path)
    _connect_env_py_to(project, server.url("app_development", "psycopg").replace("127.0.0.1", "localhost"))
    # on the tool's own server, and on a scratch database created on the very server env.py goes to
    for where in ((), ("--database-url", server.url())):
        run = check(project, "--roundtrip", roundtrip, *where, tmp_path=tmp_path)
        assert run.status == 2, run.stdout + run.stderr
        assert "env.py connected to database 'app_development'" in run.stderr
        assert "not to the scratch database" in run.stderr and "--url-env" in run.stderr
        assert str(project / "migrations/env.py") in run.stderr
        with server.connect("app_development", autocommit=False) as conn:
            tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,), "no migration ran on the database env.py chose"


def _engine_in_env_py(project: Path, engine_code: str) -> None:
    edit(project / "migrations/env.py",
         'connectable = engine_from_config(\n        config.get_section(config.config_ini_section, {}), '
         'prefix="sqlalchemy.", poolclass=pool.NullPool\n    )',
         f'import psycopg\n    from sqlalchemy import create_engine\n\n    connectable = {engine_code}')


@pytest.mark.parametrize("how", ["connect_args", "creator"])
@pytest.mark.parametrize("roundtrip", ["off", "full"])
def test_a_connection_led_elsewhere_behind_the_scratch_url_is_refused(
    server: ThrowawayServer, how: str, roundtrip: str, tmp_path: Path
) -> None:
    """The URL env.py's engine was made from is the scratch database's, but connect_args or a creator function
    send the connection to another server's database: only asking the connection itself tells."""
    with server.connect("postgres") as conn:
        conn.execute("DROP DATABASE IF EXISTS app_development")
        conn.execute("CREATE DATABASE app_development")
    elsewhere = f"host='127.0.0.1', port={server.port}, dbname='app_development', user='postgres', " \
                f"password={server.password!r}"
    project = copy_example("clean", tmp_path)
    url = 'config.get_main_option("sqlalchemy.url").replace("+psycopg2", "+psycopg")'
    _engine_in_env_py(project, {
        "connect_args": f"create_engine({url}, connect_args=dict({elsewhere}), poolclass=pool.NullPool)",
        "creator": f"create_engine({url}, creator=lambda: psycopg.connect({elsewhere}), poolclass=pool.NullPool)",
    }[how])
    run = check(project, "--roundtrip", roundtrip, tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert "env.py connected to database 'app_development' on another server" in run.stderr
    assert "No migration was run there" in run.stderr and "connect_args or a creator" in run.stderr
    with server.connect("app_development", autocommit=False) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,), "no migration ran on the database env.py chose"


def test_another_database_on_the_scratch_server_is_refused(server: ThrowawayServer, tmp_path: Path) -> None:
    """connect_args name another database of the very server the scratch database is on."""
    with server.connect("postgres") as conn:
        conn.execute("DROP DATABASE IF EXISTS app_development")
        conn.execute("CREATE DATABASE app_development")
    project = copy_example("clean", tmp_path)
    url = 'config.get_main_option("sqlalchemy.url").replace("+psycopg2", "+psycopg")'
    _engine_in_env_py(project, f"create_engine({url}, connect_args={{'dbname': 'app_development'}}, "
                               "poolclass=pool.NullPool)")
    run = check(project, "--database-url", server.url(), tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert "env.py connected to database 'app_development' on the same server" in run.stderr


def test_env_py_reaching_the_scratch_database_another_way_is_accepted(
    server: ThrowawayServer, tmp_path: Path
) -> None:
    # Through the server's unix socket, with the database name from libpq's PGDATABASE: a URL unlike the one
    # migration-check gave, to the same database.
    assert server.folder is not None
    project = copy_example("clean", tmp_path)
    _connect_env_py_to(project, f"postgresql+psycopg://{SERVER_USER}@/?host={server.folder}")
    url = server.url()
    run = check(project, "--roundtrip", "full", "--database-url", url, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr


@pytest.mark.parametrize("roundtrip", ["off", "full"])
def test_env_py_that_cannot_connect_cannot_run_the_check(roundtrip: str, tmp_path: Path) -> None:
    """A connection refused before any migration ran is not a migration's failure: exit status 2, not 1."""
    project = copy_example("clean", tmp_path)
    _connect_env_py_to(project, f"postgresql+psycopg://{SERVER_USER}@127.0.0.1:1/app")
    run = check(project, "--roundtrip", roundtrip, tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert "env.py tried to connect to 127.0.0.1:1 (Connection refused)" in run.stderr
    assert "env.py could not reach the database" in run.stderr
    assert "upgrade-failed" not in run.stdout + run.stderr


def test_the_next_run_drops_what_a_killed_run_left(server: ThrowawayServer, tmp_path: Path) -> None:
    """SIGKILL allows no clean-up: the scratch database stays, with the migration's session still busy in it.
    The next run on that server drops it; a database that only looks like ours (no mark) is left alone."""
    import os
    import subprocess
    import sys
    import time

    from conftest import REPO

    with server.connect("postgres") as conn:
        conn.execute("DROP DATABASE IF EXISTS migration_check_0123456789ab")
        conn.execute("CREATE DATABASE migration_check_0123456789ab")  # someone's own, by an unlucky name
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/versions/0002_create_agents_and_agent_versions.py",
         "def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute(\"SELECT pg_sleep(60)\")\n")
    before = _databases(server)
    process = subprocess.Popen(
        [sys.executable, "-m", "migration_check", "check", str(project), "--database-url", server.url()],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})
    assert process.stderr is not None
    seen, deadline = "", time.monotonic() + 60
    while "reading the migrations" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    time.sleep(1.0)  # inside pg_sleep
    process.kill()
    process.wait()
    left = _databases(server) - before
    assert len(left) == 1 and next(iter(left)).startswith("migration_check_"), left
    with server.connect("postgres") as conn:
        busy = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (next(iter(left)),))
        assert busy.fetchone() == (1,), "the killed migration's session is still there"

    run = check(EXAMPLES / "clean", "--database-url", server.url(), tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert f"dropped scratch database {next(iter(left))}, left by a run that was killed" in run.stderr
    assert _databases(server) == before, "the killed run's database is gone, the look-alike is kept"
    assert "migration_check_0123456789ab" in before
    with server.connect("postgres") as conn:
        conn.execute("DROP DATABASE migration_check_0123456789ab")


def test_starting_over_for_the_comparison_keeps_to_the_scratch_databases(server: ThrowawayServer,
                                                                         tmp_path: Path) -> None:
    """env.py commits each migration and a downgrade leaves a table behind: the scratch database is made again
    from the copy kept after the setup SQL, under the same name, and both are dropped at the end."""
    from history_projects import add, migration, repository

    project, _base = repository(tmp_path)
    add(project, "0004_a.py", migration(
        "0004", "0003", "touch agents", 'op.execute("UPDATE agents SET name = name")',
        'op.create_table("leftover", sa.Column("id", sa.Integer(), primary_key=True))'))
    edit(project / "migrations/env.py", "compare_type=True)", "compare_type=True, transaction_per_migration=True)")
    (project / "setup.sql").write_text("CREATE SCHEMA reporting;\n")
    before = _databases(server)
    run = check(project, "--database-url", server.url(), "--setup-sql", str(project / "setup.sql"),
                "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert run.rules() == ["roundtrip-mismatch"], run.stdout
    assert _databases(server) == before


def _older_postgres_bin() -> Path | None:
    """PostgreSQL 16 from the pgserver wheel (a test dependency up to Python 3.12), else Debian's 15 where it is
    installed: another major than the embedded one, as the service containers teams point the check at."""
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import has side effects
    if spec is not None and spec.origin:
        return Path(spec.origin).parent / "pginstall" / "bin"
    debian = Path("/usr/lib/postgresql/15/bin")
    return debian if (debian / "postgres").is_file() else None


@pytest.fixture(scope="module")
def older_server() -> Iterator[ThrowawayServer]:
    """A server of an older major, with JIT on as a server you name has it (the throwaway server turns it off)."""
    from migration_check.database import find_server_binaries

    bin_dir = _older_postgres_bin()
    if bin_dir is None:
        pytest.skip("no older PostgreSQL for this Python (pgserver ships wheels up to 3.12; or apt install "
                    "postgresql-15)")
    running = ThrowawayServer(find_server_binaries(bin_dir), settings={"jit": "on", "jit_above_cost": "0"})
    running.start()
    try:
        yield running
    finally:
        running.close()


def test_the_round_trip_on_an_older_server_runs_without_jit(older_server: ThrowawayServer, tmp_path: Path) -> None:
    """The scratch database on a server with JIT on gets jit=off (on PostgreSQL 15 with JIT, a 60-revision round
    trip took 133 s, and 0.7 s without): every session there, env.py's too, starts without it. The round trip
    still finds what it finds on the embedded server."""
    from history_projects import migration, repository

    with older_server.connect("postgres") as conn:
        assert conn.execute("SHOW jit").fetchone() == ("on",)
        version = conn.execute("SHOW server_version_num").fetchone()
    assert version is not None and int(version[0]) < 180000
    project, _base = repository(tmp_path / "project")
    # a migration that fails where env.py's session would compile queries, and a downgrade that forgets a column
    (project / "migrations/versions/0004_add_agent_description.py").write_text(migration(
        "0004", "0003", "add agent description",
        upgrade='assert op.get_bind().exec_driver_sql("SHOW jit").scalar() == "off", "jit is on"\n'
                '    op.add_column("agents", sa.Column("description", sa.Text(), nullable=True))',
        downgrade='op.execute("SELECT 1")'))
    before = _databases(older_server)
    run = check(project, "--database-url", older_server.url(), "--roundtrip", "full", "--fail-on", "never",
                tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert sorted(run.rules()) == ["model-drift", "roundtrip-mismatch"], run.stdout  # description: not in the models
    [mismatch] = [f for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"]
    assert "agents.description" in mismatch["message"]
    assert run.report["server"]["version"].split(".")[0] in ("15", "16")
    assert _databases(older_server) == before


def test_a_downgrade_that_uses_the_enum_value_its_upgrade_added_works_on_an_older_server(
        older_server: ThrowawayServer, tmp_path: Path) -> None:
    """PostgreSQL 15 and 16 refuse a new enum value in the transaction that added it ("unsafe use of new value");
    a real downgrade runs after its upgrade was committed, so the stairway commits after such an upgrade, and the
    downgrade that works is not reported. A downgrade that really fails still is."""
    from history_projects import add, migration, repository

    project, _base = repository(tmp_path / "project")
    add(project, "0004_agent_kind.py", migration(
        "0004", "0003", "add agents.kind",
        upgrade='op.execute("CREATE TYPE agent_kind AS ENUM (\'bot\')")\n'
                '    op.execute("ALTER TABLE agents ADD COLUMN kind agent_kind")',
        downgrade='op.execute("ALTER TABLE agents DROP COLUMN kind")\n    op.execute("DROP TYPE agent_kind")'))
    add(project, "0005_agent_kind_human.py", migration(
        "0005", "0004", "add human to agent_kind",
        upgrade='op.execute("ALTER TYPE agent_kind ADD VALUE \'human\'")',
        downgrade='op.execute("UPDATE agents SET kind = \'bot\' WHERE kind = \'human\'")\n'
                  '    op.execute("ALTER TYPE agent_kind RENAME TO agent_kind_old")\n'
                  '    op.execute("CREATE TYPE agent_kind AS ENUM (\'bot\')")\n'
                  '    op.execute("ALTER TABLE agents ALTER COLUMN kind TYPE agent_kind "\n'
                  '               "USING kind::text::agent_kind")\n'
                  '    op.execute("DROP TYPE agent_kind_old")'))
    run = check(project, "--database-url", older_server.url(), "--roundtrip", "full", "--only", "apply,roundtrip",
                tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert run.rules() == [], run.stdout
    # the same downgrade with a typo in the type's name fails for real, and is reported
    (project / "migrations/versions/0005_agent_kind_human.py").write_text(
        (project / "migrations/versions/0005_agent_kind_human.py").read_text().replace(
            "USING kind::text::agent_kind", "USING kind::text::agent_knid"))
    run = check(project, "--database-url", older_server.url(), "--roundtrip", "full", "--only", "apply,roundtrip",
                "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert run.rules() == ["downgrade-failed"], run.stdout
    assert "agent_knid" in run.report["findings"][0]["message"]


def test_the_volume_stage_on_an_older_server_as_a_user_that_is_not_a_superuser(
        older_server: ThrowawayServer, tmp_path: Path) -> None:
    """The new migration on filled tables through --database-url, on another major, as a user who cannot turn
    triggers off for the fill: the same observations as on the embedded server, and the scratch database gone."""
    from history_projects import add, migration, repository

    with older_server.connect("postgres") as conn:
        conn.execute("DROP ROLE IF EXISTS app_volume")
        conn.execute("CREATE ROLE app_volume LOGIN CREATEDB NOSUPERUSER PASSWORD 'volume-password'")
    url = f"postgresql://app_volume:volume-password@127.0.0.1:{older_server.port}/postgres"
    project, base = repository(tmp_path / "project")
    add(project, "0004_index_runs.py", migration(
        "0004", "0003", "index runs.started_at",
        upgrade='op.create_index("ix_runs_started_at", "runs", ["started_at"])',
        downgrade='op.drop_index("ix_runs_started_at", table_name="runs")'))
    before = _databases(older_server)
    run = check(project, "--database-url", url, "--base-ref", base, "--only", "apply,volume", "--data-volume", "1000",
                tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert run.rules() == ["blocking-lock"], run.stdout
    [finding] = run.report["findings"]
    assert finding["details"]["blocked"] == {"public.runs": ["writes"]}
    assert run.report["volume"]["fill"]["rows"]["public.runs"] == 1000
    assert run.report["server"]["version"].split(".")[0] in ("15", "16")
    assert _databases(older_server) == before
