"""Bad input: exit status 2, one message that names the file and line and says what to do, nothing left behind."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import EXAMPLES, check, copy_example, edit, run_cli

pytestmark = pytest.mark.usefixtures("no_leftovers")


def assert_cannot_run(run, *fragments: str) -> None:  # type: ignore[no-untyped-def]
    assert run.status == 2, (run.status, run.stdout, run.stderr)
    assert "fix:" in run.stderr, run.stderr
    for fragment in fragments:
        assert fragment in run.stderr, (fragment, run.stderr)
    assert run.report is None, "no report is written when the check could not run"


def test_missing_alembic_ini(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run = check(tmp_path / "empty", tmp_path=tmp_path)
    assert_cannot_run(run, "has no alembic.ini", str(tmp_path / "empty"))


def test_missing_path(tmp_path: Path) -> None:
    assert_cannot_run(check(tmp_path / "nowhere", tmp_path=tmp_path), "does not exist")


def test_unknown_ini_section(tmp_path: Path) -> None:
    run = check(EXAMPLES / "clean", "--name", "reporting", tmp_path=tmp_path)
    assert_cannot_run(run, "alembic.ini", "no [reporting] section", "--name")


def test_syntax_error_in_a_migration(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    migration = project / "migrations/versions/0002_create_agents_and_agent_versions.py"
    edit(migration, "def downgrade() -> None:", "def downgrade() -> None\n")
    run = check(project, tmp_path=tmp_path)
    line = migration.read_text().splitlines().index("def downgrade() -> None") + 1
    assert_cannot_run(run, f"{migration}:{line}", "SyntaxError")


def test_import_error_in_env_py(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    env_py = project / "migrations/env.py"
    edit(env_py, "from app.models import Base", "from app.modles import Base")
    run = check(project, tmp_path=tmp_path)
    line = env_py.read_text().splitlines().index("from app.modles import Base") + 1
    assert_cannot_run(run, f"{env_py}:{line}", "No module named 'app.modles'", "If app.modles is a dependency")


def test_settings_that_need_environment_variables(tmp_path: Path) -> None:
    run = check(EXAMPLES / "settings-env", tmp_path=tmp_path)
    assert_cannot_run(run, "app/settings.py:", "missing required settings", "--env KEY=VALUE", "--url-env")


def test_env_py_without_target_metadata(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/env.py", "target_metadata = Base.metadata", "target_metadata = None")
    run = check(project, tmp_path=tmp_path)
    assert_cannot_run(run, "env.py", "no target_metadata", "target_metadata=Base.metadata")


def test_unreachable_database_url(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    run = check(EXAMPLES / "clean", "--database-url", f"postgresql://postgres:secret@127.0.0.1:{port}/postgres",
                tmp_path=tmp_path)
    assert_cannot_run(run, "Cannot connect to postgresql://postgres:***@127.0.0.1", "--database-url")
    assert "secret" not in run.stderr


def test_port_already_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = check(EXAMPLES / "clean", "--port", str(port), tmp_path=tmp_path)
    assert_cannot_run(run, f"Port {port} on 127.0.0.1 is already taken", "--port")


def test_env_pair_without_equals(tmp_path: Path) -> None:
    assert_cannot_run(check(EXAMPLES / "clean", "--env", "APP_SECRET_KEY", tmp_path=tmp_path), "KEY=VALUE")


def test_missing_setup_sql_file(tmp_path: Path) -> None:
    run = check(EXAMPLES / "clean", "--setup-sql", tmp_path / "nope.sql", tmp_path=tmp_path)
    assert_cannot_run(run, "nope.sql does not exist")


def test_setup_sql_error_names_file_and_line(tmp_path: Path) -> None:
    setup = tmp_path / "setup.sql"
    setup.write_text("CREATE EXTENSION IF NOT EXISTS pg_trgm;\n\nCREATE SCHEM reporting;\n")
    run = check(EXAMPLES / "clean", "--setup-sql", setup, tmp_path=tmp_path)
    assert_cannot_run(run, f"{setup}:3:", "syntax error")


def test_unknown_flag_exits_2(tmp_path: Path) -> None:
    assert_cannot_run(check(EXAMPLES / "clean", "--no-such-flag", tmp_path=tmp_path), "unrecognized arguments")


def test_postgres_bin_without_binaries(tmp_path: Path) -> None:
    run = check(EXAMPLES / "clean", "--postgres-bin", tmp_path, tmp_path=tmp_path)
    assert_cannot_run(run, "does not hold PostgreSQL server binaries", "--postgres-bin")


@pytest.mark.parametrize("where", ["folder", "under-a-file"])
def test_report_path_that_cannot_be_written_is_refused_before_the_run(where: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    target = {"folder": tmp_path, "under-a-file": tmp_path / "a-file" / "report.json"}[where]
    run = run_cli("check", EXAMPLES / "clean", "--report", target)
    assert_cannot_run(run, f"--report {target}", "fix:")
    assert "starting a throwaway PostgreSQL" not in run.stderr, "refused before anything ran"
    assert "Traceback" not in run.stderr


def test_a_port_whose_last_connections_are_closing_is_free(tmp_path: Path) -> None:
    """A previous server on the port closed its connections first, so they wait in TIME_WAIT there for a minute;
    PostgreSQL may listen on it at once, and so may the check's next run."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as PostgreSQL's listening socket
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = listener.accept()
        accepted.close()  # the server's side closes first: TIME_WAIT on 127.0.0.1:port
        client.close()
    for _ in range(2):
        run = check(EXAMPLES / "clean", "--port", str(port), "--only", "apply", tmp_path=tmp_path)
        assert run.status == 0, run.stderr


@pytest.mark.parametrize("problem", ["missing", "a-file"])
def test_scratch_folder_setting_that_cannot_be_used(problem: str, tmp_path: Path) -> None:
    folder = tmp_path / "scratch"
    if problem == "a-file":
        folder.write_text("")
    run = check(EXAMPLES / "clean", tmp_path=tmp_path, env={"MIGRATION_CHECK_TMPDIR": str(folder)})
    assert_cannot_run(run, f"MIGRATION_CHECK_TMPDIR names {folder}", "fix:")
    assert "Traceback" not in run.stderr


def test_an_ini_without_script_location_names_the_folder_that_has_env_py(tmp_path: Path) -> None:
    """Seen in pytest-alembic's examples, which default script_location to migrations: Alembic itself does not."""
    project = copy_example("clean", tmp_path)
    edit(project / "alembic.ini", "script_location = %(here)s/migrations\n", "")
    run = check(project, tmp_path=tmp_path)
    assert_cannot_run(run, str(project / "alembic.ini"), "No 'script_location' key",
                      "Add `script_location = migrations` to the [alembic] section")


def test_a_migrations_folder_without_env_py(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    (project / "migrations/env.py").unlink()
    run = check(project, tmp_path=tmp_path)
    assert_cannot_run(run, "migrations/ has no env.py", "`alembic init` writes one")
    assert "Can't find Python file" not in run.stderr


def test_a_version_table_schema_that_nothing_creates_says_where_it_comes_from(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/env.py", "compare_type=True)", "compare_type=True, version_table_schema=\"meta\")")
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    [failed] = [f for f in run.report["findings"] if f["rule"] == "upgrade-failed"]
    assert failed["details"]["hint"].startswith("Alembic creates its version table in schema meta "
                                                "(version_table_schema in env.py's configure())")
    (project / "meta.sql").write_text("CREATE SCHEMA meta;\n")
    run = check(project, "--setup-sql", str(project / "meta.sql"), tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr


def test_a_schema_dump_of_pg_dump_17_6_or_later_runs_as_setup_sql(tmp_path: Path) -> None:
    """pg_dump writes psql's \\restrict and \\unrestrict guards around a dump; the setup SQL runs through a driver,
    so they are left out. Any other psql meta-command is named as such, at its line."""
    dump = tmp_path / "bootstrap.sql"
    dump.write_text("--\n-- PostgreSQL database dump\n--\n\n\\restrict jIxckrSDdDZIH4vC\n\n"
                    "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n"
                    "CREATE SCHEMA reporting;\n\n\\unrestrict jIxckrSDdDZIH4vC\n")
    run = check(EXAMPLES / "clean", "--setup-sql", dump, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    (tmp_path / "report.json").unlink()
    dump.write_text("CREATE SCHEMA reporting;\n\\connect postgres\nCREATE SCHEMA audit;\n")
    run = check(EXAMPLES / "clean", "--setup-sql", dump, tmp_path=tmp_path)
    assert_cannot_run(run, f"{dump}:2:", "That line is a psql meta-command, not SQL")
