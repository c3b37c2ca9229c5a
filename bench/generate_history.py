"""Generates an Alembic project with a long linear history, for the round-trip benchmark.

    python bench/generate_history.py DIR N [--style minimal|app|async-app]

Revision k creates a table when k is a multiple of 4, and otherwise adds a column (with an index every
other time) to the latest table: the kind of history a real service builds, each with a working downgrade.

Styles of project around the same history:
- minimal: an env.py of a dozen lines, no logging set-up and no models; it takes the engine pytest-alembic
  hands over. The cheapest env.py there is, and so pytest-alembic's best case.
- app: what `alembic init` writes, as a service adapts it: logging configured from alembic.ini, the URL from
  a settings object that reads DATABASE_URL, the models imported from the project (matching head), and
  pytest-alembic's documented recipe for taking its engine.
- async-app: the same on asyncpg with `alembic init -t async`'s env.py, taking an AsyncEngine when given one.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

STYLES = ("minimal", "app", "async-app")

MINIMAL_ENV_PY = textwrap.dedent('''\
    from alembic import context
    from sqlalchemy import MetaData, engine_from_config, pool
    from sqlalchemy.engine import Connection

    config = context.config
    target_metadata = MetaData()


    def run(connection):
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


    # pytest-alembic hands its connection over this way (its documented env.py recipe)
    given = config.attributes.get("connection")
    if isinstance(given, Connection):
        run(given)
    elif given is not None:  # an Engine
        with given.connect() as connection:
            run(connection)
    else:
        connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                         poolclass=pool.NullPool)
        with connectable.connect() as connection:
            run(connection)
    ''')

# The parts of `alembic init`'s env.py that run online, with the settings object and pytest-alembic's recipe.
APP_ENV_PY = textwrap.dedent('''\
    from logging.config import fileConfig

    from alembic import context
    from sqlalchemy import engine_from_config, pool

    from app.models import Base
    from app.settings import get_settings

    config = context.config
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    config.set_main_option("sqlalchemy.url", get_settings().database_url)
    target_metadata = Base.metadata


    def run_migrations_online() -> None:
        connectable = config.attributes.get("connection", None)  # pytest-alembic's engine, when it runs us
        if connectable is None:
            connectable = engine_from_config(
                config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
            )
        with connectable.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()


    run_migrations_online()
    ''')

ASYNC_APP_ENV_PY = textwrap.dedent('''\
    import asyncio
    from logging.config import fileConfig

    from alembic import context
    from sqlalchemy import pool
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine, async_engine_from_config

    from app.models import Base
    from app.settings import get_settings

    config = context.config
    if config.config_file_name is not None:
        fileConfig(config.config_file_name)
    config.set_main_option("sqlalchemy.url", get_settings().database_url)
    target_metadata = Base.metadata


    def do_run_migrations(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


    async def run_async_migrations(connectable: AsyncEngine) -> None:
        async with connectable.connect() as connection:
            await connection.run_sync(do_run_migrations)
        await connectable.dispose()


    def run_migrations_online() -> None:
        connectable = config.attributes.get("connection", None)  # pytest-alembic's engine, when it runs us
        if connectable is None:
            connectable = async_engine_from_config(
                config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
            )
        if isinstance(connectable, AsyncEngine):
            asyncio.run(run_async_migrations(connectable))
        else:
            do_run_migrations(connectable)


    run_migrations_online()
    ''')

SETTINGS_PY = textwrap.dedent('''\
    import functools
    import os
    from dataclasses import dataclass


    @dataclass(frozen=True)
    class Settings:
        database_url: str


    @functools.lru_cache
    def get_settings() -> Settings:
        return Settings(database_url=os.environ["DATABASE_URL"])
    ''')

LOGGING_INI = textwrap.dedent('''\
    [loggers]
    keys = root,sqlalchemy,alembic

    [handlers]
    keys = console

    [formatters]
    keys = generic

    [logger_root]
    level = WARNING
    handlers = console
    qualname =

    [logger_sqlalchemy]
    level = WARNING
    handlers =
    qualname = sqlalchemy.engine

    [logger_alembic]
    level = INFO
    handlers =
    qualname = alembic

    [handler_console]
    class = StreamHandler
    args = (sys.stderr,)
    level = NOTSET
    formatter = generic

    [formatter_generic]
    format = %(levelname)-5.5s [%(name)s] %(message)s
    datefmt = %H:%M:%S
    ''')


def table_of(k: int) -> str:
    return f"t{k // 4:04d}"


def revision_text(k: int) -> str:
    table = table_of(k)
    if k % 4 == 0:
        upgrade = (f'op.create_table("{table}", sa.Column("id", sa.Integer(), primary_key=True), '
                   f'sa.Column("name", sa.String(100), nullable=False))')
        downgrade = f'op.drop_table("{table}")'
    else:
        column = f"c{k}"
        upgrade = f'op.add_column("{table}", sa.Column("{column}", sa.Integer(), nullable=True))'
        downgrade = f'op.drop_column("{table}", "{column}")'
        if k % 2 == 1:
            upgrade += f'\n    op.create_index("ix_{table}_{column}", "{table}", ["{column}"])'
            downgrade = f'op.drop_index("ix_{table}_{column}", table_name="{table}")\n    ' + downgrade
    down = repr(f"r{k - 1:04d}") if k else "None"
    return (f'"""step {k}: change {table}\n\nRevision ID: r{k:04d}\n"""\nimport sqlalchemy as sa\n'
            f'from alembic import op\n\nrevision = "r{k:04d}"\ndown_revision = {down}\nbranch_labels = None\n'
            f'depends_on = None\n\n\ndef upgrade():\n    {upgrade}\n\n\ndef downgrade():\n    {downgrade}\n')


def models_text(count: int) -> str:
    """Declarative models for the schema at head, so that the comparison finds nothing."""
    convention = ('{"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s", '
                  '"ck": "ck_%(table_name)s_%(constraint_name)s", '
                  '"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "%(table_name)s_pkey"}')
    lines = ["import sqlalchemy as sa", "from sqlalchemy.orm import DeclarativeBase", "", "",
             "class Base(DeclarativeBase):", f"    metadata = sa.MetaData(naming_convention={convention})", ""]
    for first in range(0, count, 4):
        table = table_of(first)
        lines += ["", f"class {table.upper()}(Base):", f'    __tablename__ = "{table}"',
                  "    id = sa.Column(sa.Integer, primary_key=True)",
                  "    name = sa.Column(sa.String(100), nullable=False)"]
        for k in range(first + 1, min(first + 4, count)):
            lines.append(f"    c{k} = sa.Column(sa.Integer, nullable=True{', index=True' if k % 2 else ''})")
        lines.append("")
    return "\n".join(lines)


def generate(folder: Path, count: int, style: str = "minimal") -> Path:
    versions = folder / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    driver = "asyncpg" if style == "async-app" else "psycopg"
    ini = (f"[alembic]\nscript_location = %(here)s/migrations\nprepend_sys_path = .\n"
           f"sqlalchemy.url = postgresql+{driver}://bench@localhost/bench\n")
    if style == "minimal":
        (folder / "migrations" / "env.py").write_text(MINIMAL_ENV_PY)
    else:
        ini += "\n" + LOGGING_INI
        (folder / "migrations" / "env.py").write_text(APP_ENV_PY if style == "app" else ASYNC_APP_ENV_PY)
        (folder / "app").mkdir(exist_ok=True)
        (folder / "app" / "__init__.py").write_text("")
        (folder / "app" / "settings.py").write_text(SETTINGS_PY)
        (folder / "app" / "models.py").write_text(models_text(count))
    (folder / "alembic.ini").write_text(ini)
    for k in range(count):
        (versions / f"r{k:04d}_step.py").write_text(revision_text(k))
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--style", choices=STYLES, default="minimal")
    args = parser.parse_args()
    generate(args.folder, args.count, args.style)
