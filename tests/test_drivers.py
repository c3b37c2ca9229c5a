"""The driver: kept from the project's URL, chosen for async env.py, or forced with --driver."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLES, check, copy_example, edit

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize("driver", ["psycopg2", "psycopg", "pg8000"])
def test_sync_env_py_with_each_driver(driver: str, tmp_path: Path) -> None:
    run = check(EXAMPLES / "drift", "--driver", driver, tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert len(run.rules()) == 4


@pytest.mark.parametrize("driver", ["asyncpg", "psycopg"])
def test_async_env_py_with_each_async_driver(driver: str, tmp_path: Path) -> None:
    run = check(EXAMPLES / "async-env", "--driver", driver, tmp_path=tmp_path)
    assert run.status == 0, run.stderr


def test_async_env_py_with_a_placeholder_url_gets_an_async_driver(tmp_path: Path) -> None:
    project = copy_example("async-env", tmp_path)
    edit(project / "alembic.ini", "postgresql+asyncpg://agents:agents@localhost:5432/agents",
         "driver://user:pass@localhost/dbname")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stderr


def test_driver_named_by_the_users_environment(tmp_path: Path) -> None:
    project = copy_example("settings-env", tmp_path)
    from conftest import run_cli

    run = run_cli("check", project, "--url-env", "APP_DATABASE_URL", "--env", "APP_SECRET_KEY=x",
                  env={"APP_DATABASE_URL": "postgresql+pg8000://app@db.internal/app"})
    assert run.status == 0, run.stderr
    assert "driver pg8000 (the project's configured URL)" in run.stderr


@pytest.mark.parametrize("driver", ["psycopg2", "pg8000"])
def test_the_report_names_the_driver_env_py_really_used(driver: str, tmp_path: Path) -> None:
    """env.py picks its driver itself, whatever URL it is handed: the report says which one connected."""
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/env.py", "    connectable = engine_from_config(",
         "    from sqlalchemy.engine import make_url\n"
         "    url = make_url(config.get_main_option('sqlalchemy.url'))\n"
         f"    config.set_main_option('sqlalchemy.url', url.set(drivername='postgresql+{driver}')"
         ".render_as_string(hide_password=False).replace('%', '%%'))\n"
         "    connectable = engine_from_config(")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["driver"] == driver
    assert f", driver {driver}" in run.stdout


def test_an_async_engine_from_the_projects_own_helper_gets_an_async_driver(tmp_path: Path) -> None:
    """env.py names no async engine itself: the project's helper makes it, and env.py awaits run_sync on its
    connection. The driver handed over is an async one, and the report says it connected with it."""
    project = copy_example("async-env", tmp_path)
    (project / "dbhelpers.py").write_text(
        "from sqlalchemy.ext import asyncio as sa_asyncio\n\n\n"
        "def engine_for(url):\n    return sa_asyncio.create_async_engine(url)\n")
    env_py = project / "migrations/env.py"
    source = env_py.read_text().replace("from sqlalchemy.ext.asyncio import async_engine_from_config\n", "")
    start = source.index("async def run_async_migrations()")
    env_py.write_text(source[:start] + (
        "async def run_async_migrations() -> None:\n"
        "    import dbhelpers\n\n"
        "    connectable = dbhelpers.engine_for(config.get_main_option('sqlalchemy.url'))\n"
        "    async with connectable.connect() as connection:\n"
        "        await connection.run_sync(do_run_migrations)\n"
        "    await connectable.dispose()\n\n\n"
        "if context.is_offline_mode():\n    run_migrations_offline()\nelse:\n"
        "    asyncio.get_event_loop_policy().new_event_loop().run_until_complete(run_async_migrations())\n"))
    edit(project / "alembic.ini", "postgresql+asyncpg://agents:agents@localhost:5432/agents",
         "postgresql://agents:agents@localhost:5432/agents")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["driver"] in ("asyncpg", "psycopg")
