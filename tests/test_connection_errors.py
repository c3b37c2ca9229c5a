"""env.py that connects somewhere else than the scratch database, and fails: the message says where it tried,
where the scratch database is, and where the project wrote the address it used."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import check, copy_example, edit

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _closed_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _env_py_with_its_own_url(project: Path, default: str, call: str = "    connectable = engine_from_config(") -> None:
    edit(project / "migrations/env.py", call,
         "    import os\n"
         "    dotenv = dict(line.split('=', 1) for line in open('.env').read().split()) if os.path.exists('.env') "
         "else {}\n"
         f"    config.set_main_option('sqlalchemy.url', dotenv.get('APP_DSN', {default!r}))\n" + call)


def test_a_settings_default_where_nothing_listens(tmp_path: Path) -> None:
    port = _closed_port()
    project = copy_example("clean", tmp_path)
    _env_py_with_its_own_url(project, f"postgresql+psycopg://app:secret@127.0.0.1:{port}/app")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2, run.stderr
    assert f"env.py tried to connect to 127.0.0.1:{port} (Connection refused), but the scratch database " \
           "migration-check made for this check is migration_check on 127.0.0.1:" in run.stderr
    assert "That address is written in migrations/env.py:" in run.stderr
    assert "secret" not in run.stderr


def test_a_dotenv_file_that_points_at_a_local_database(tmp_path: Path) -> None:
    port = _closed_port()
    project = copy_example("async-env", tmp_path)
    (project / ".env").write_text(f"APP_DSN=postgresql+asyncpg://app:secret@127.0.0.1:{port}/app\n")
    _env_py_with_its_own_url(project, "unused", call="    connectable = async_engine_from_config(")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2, run.stderr
    assert f"env.py tried to connect to 127.0.0.1:{port}" in run.stderr
    assert "That address is written in .env:1." in run.stderr


def test_settings_that_fall_back_to_sqlite(tmp_path: Path) -> None:
    """The settings default to a SQLite file when their variable is unset: the check says which database env.py
    chose and how to point it at the scratch one, before any migration ran there."""
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/env.py", "    connectable = engine_from_config(",
         "    import os\n"
         "    config.set_main_option('sqlalchemy.url', os.environ.get('APP_DB_DSN', 'sqlite:///dev.db'))\n"
         "    connectable = engine_from_config(")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2, run.stderr
    assert "env.py connected to a sqlite database (sqlite:///dev.db), not to the PostgreSQL scratch database" \
        in run.stderr
    assert "No migration was run there." in run.stderr and "--url-env NAME" in run.stderr
    run = check(project, "--url-env", "APP_DB_DSN", tmp_path=tmp_path)
    assert run.status == 0, run.stderr
