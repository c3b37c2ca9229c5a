"""Generates an Alembic project with a long linear history, for the round-trip benchmark.

    python bench/generate_history.py DIR N [--style minimal|app|async-app] [--shape linear|realistic]

Two shapes of history, each revision with a working downgrade:
- linear (the default): revision k creates a table when k is a multiple of 4, and otherwise adds a column
  (with an index every other time) to the latest table.
- realistic: what a service's history holds after a few years (bench/compare.py uses it). A table every fifth
  revision, with a timestamp defaulting to now() and a named foreign key to the table before it; columns with
  indexes; integer to bigint and varchar widening; enum types created with `CREATE TYPE`, and values added to
  them later (`ALTER TYPE ... ADD VALUE`, undone by rebuilding the type); data migrations (`UPDATE`); and every
  50 revisions two branches off one revision, merged by the next (40 tables at 200 revisions).

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
SHAPES = ("linear", "realistic")

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


NAMING_CONVENTION = ('{"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_N_name)s", '
                     '"ck": "ck_%(table_name)s_%(constraint_name)s", '
                     '"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", '
                     '"pk": "%(table_name)s_pkey"}')


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
    lines = ["import sqlalchemy as sa", "from sqlalchemy.orm import DeclarativeBase", "", "",
             "class Base(DeclarativeBase):", f"    metadata = sa.MetaData(naming_convention={NAMING_CONVENTION})", ""]
    for first in range(0, count, 4):
        table = table_of(first)
        lines += ["", f"class {table.upper()}(Base):", f'    __tablename__ = "{table}"',
                  "    id = sa.Column(sa.Integer, primary_key=True)",
                  "    name = sa.Column(sa.String(100), nullable=False)"]
        for k in range(first + 1, min(first + 4, count)):
            lines.append(f"    c{k} = sa.Column(sa.Integer, nullable=True{', index=True' if k % 2 else ''})")
        lines.append("")
    return "\n".join(lines)


class RealisticHistory:
    """The realistic shape: each revision's upgrade and downgrade, and the schema at head for the models.

    The schema is simulated as the revisions are written, so that the models match whatever head is.
    """

    def __init__(self) -> None:
        # table -> column -> the model's Column(...) arguments; tables in creation order
        self.tables: dict[str, dict[str, str]] = {}
        self.enum_values: dict[str, list[str]] = {}

    @staticmethod
    def table_of(k: int) -> str:
        return f"t{k // 5:04d}"

    @staticmethod
    def parents(k: int) -> list[str]:
        """Every 50 revisions, k = 47 and 48 branch off 46, and 49 merges them."""
        if k == 0:
            return []
        if k % 50 == 48:
            return [f"r{k - 2:04d}"]
        if k % 50 == 49:
            return [f"r{k - 2:04d}", f"r{k - 1:04d}"]
        return [f"r{k - 1:04d}"]

    def revision(self, k: int) -> tuple[str, str, str]:
        """(message, upgrade body, downgrade body) of revision k, the schema updated to follow it."""
        table = self.table_of(k)
        if k % 50 in (47, 48):
            column = f"c{k}"
            self.tables[table][column] = "sa.Integer, nullable=True" if k % 2 else "sa.String(20), nullable=True"
            kind = "sa.Integer()" if k % 2 else "sa.String(20)"
            return (f"add {column} to {table} (branch {k % 50 - 46})",
                    f'op.add_column("{table}", sa.Column("{column}", {kind}, nullable=True))',
                    f'op.drop_column("{table}", "{column}")')
        if k % 50 == 49:
            return "merge the two branches", "pass", "pass"
        step = k % 5
        if step == 0:
            columns = {"id": "sa.Integer, primary_key=True", "name": "sa.String(100), nullable=False",
                       "created_at": 'sa.DateTime(), server_default=sa.text("now()"), nullable=False'}
            upgrade = [f'op.create_table("{table}",',
                       '    sa.Column("id", sa.Integer(), nullable=False),',
                       '    sa.Column("name", sa.String(100), nullable=False),',
                       '    sa.Column("created_at", sa.DateTime(), server_default=sa.text("now()"), nullable=False),']
            previous = self.table_of(k - 5) if k else None
            if previous:
                columns["parent_id"] = f'sa.Integer, sa.ForeignKey("{previous}.id"), nullable=True, index=True'
                upgrade += ['    sa.Column("parent_id", sa.Integer(), nullable=True),',
                            f'    sa.ForeignKeyConstraint(["parent_id"], ["{previous}.id"], '
                            f'name="fk_{table}_parent_id_{previous}"),']
            upgrade += [f'    sa.PrimaryKeyConstraint("id", name="{table}_pkey"),', ")"]
            if previous:
                upgrade.append(f'op.create_index("ix_{table}_parent_id", "{table}", ["parent_id"])')
            self.tables[table] = columns
            return f"create {table}", "\n    ".join(upgrade), f'op.drop_table("{table}")'
        if step == 1:
            column = f"c{k}"
            self.tables[table][column] = "sa.Integer, nullable=True, index=True"
            return (f"add {column} to {table}, indexed",
                    f'op.add_column("{table}", sa.Column("{column}", sa.Integer(), nullable=True))\n    '
                    f'op.create_index("ix_{table}_{column}", "{table}", ["{column}"])',
                    f'op.drop_index("ix_{table}_{column}", table_name="{table}")\n    '
                    f'op.drop_column("{table}", "{column}")')
        if step == 2:
            column = f"c{k - 1}"
            self.tables[table][column] = "sa.BigInteger, nullable=True, index=True"
            return (f"widen {table}.{column} to bigint",
                    f'op.alter_column("{table}", "{column}", type_=sa.BigInteger(), existing_type=sa.Integer())',
                    f'op.alter_column("{table}", "{column}", type_=sa.Integer(), existing_type=sa.BigInteger())')
        if step == 3 and k % 20 == 3:
            enum = f"{table}_status"
            self.enum_values[enum] = ["new", "active"]
            self.tables[table]["status"] = f'sa.Enum("new", "active", name="{enum}"), nullable=True'
            return (f"add a status to {table}",
                    f'op.execute("CREATE TYPE {enum} AS ENUM (\'new\', \'active\')")\n    '
                    f'op.add_column("{table}", sa.Column("status", postgresql.ENUM(name="{enum}", create_type=False), '
                    f'nullable=True))\n    '
                    f'op.execute("UPDATE {table} SET status = \'new\' WHERE status IS NULL")',
                    f'op.drop_column("{table}", "status")\n    op.execute("DROP TYPE {enum}")')
        if step == 3:
            column = f"c{k}"
            self.tables[table][column] = "sa.String(50), nullable=True"
            return (f"add {column} to {table}, filled from name",
                    f'op.add_column("{table}", sa.Column("{column}", sa.String(50), nullable=True))\n    '
                    f'op.execute("UPDATE {table} SET {column} = left(name, 50) WHERE {column} IS NULL")',
                    f'op.drop_column("{table}", "{column}")')
        enum = f"{table}_status"
        if enum in self.enum_values:
            before = ", ".join(f"'{value}'" for value in self.enum_values[enum])
            self.enum_values[enum].append("archived")
            values = ", ".join(f'"{value}"' for value in self.enum_values[enum])
            self.tables[table]["status"] = f'sa.Enum({values}, name="{enum}"), nullable=True'
            return (f"add 'archived' to {enum}",
                    f'op.execute("ALTER TYPE {enum} ADD VALUE \'archived\'")',
                    f'op.execute("UPDATE {table} SET status = NULL WHERE status = \'archived\'")\n    '
                    f'op.execute("ALTER TYPE {enum} RENAME TO {enum}_old")\n    '
                    f'op.execute("CREATE TYPE {enum} AS ENUM ({before})")\n    '
                    f'op.execute("ALTER TABLE {table} ALTER COLUMN status TYPE {enum} '
                    f'USING status::text::{enum}")\n    '
                    f'op.execute("DROP TYPE {enum}_old")')
        self.tables[table]["name"] = "sa.String(200), nullable=False"
        return (f"widen {table}.name to 200 characters, trimmed",
                f'op.alter_column("{table}", "name", type_=sa.String(200), existing_type=sa.String(100), '
                f'existing_nullable=False)\n    op.execute("UPDATE {table} SET name = trim(name)")',
                f'op.execute("UPDATE {table} SET name = left(name, 100)")\n    '
                f'op.alter_column("{table}", "name", type_=sa.String(100), existing_type=sa.String(200), '
                f'existing_nullable=False)')

    def revision_text(self, k: int) -> str:
        message, upgrade, downgrade = self.revision(k)
        parents = self.parents(k)
        down = "None" if not parents else repr(parents[0]) if len(parents) == 1 else repr(tuple(parents))
        return (f'"""{message}\n\nRevision ID: r{k:04d}\n"""\nimport sqlalchemy as sa\nfrom alembic import op\n'
                f'from sqlalchemy.dialects import postgresql\n\nrevision = "r{k:04d}"\ndown_revision = {down}\n'
                f'branch_labels = None\ndepends_on = None\n\n\ndef upgrade():\n    {upgrade}\n\n\n'
                f'def downgrade():\n    {downgrade}\n')

    def models_text(self) -> str:
        lines = ["import sqlalchemy as sa", "from sqlalchemy.orm import DeclarativeBase", "", "",
                 "class Base(DeclarativeBase):", f"    metadata = sa.MetaData(naming_convention={NAMING_CONVENTION})",
                 ""]
        for table, columns in self.tables.items():
            lines += ["", f"class {table.upper()}(Base):", f'    __tablename__ = "{table}"']
            lines += [f"    {name} = sa.Column({arguments})" for name, arguments in columns.items()]
            lines.append("")
        return "\n".join(lines)


def generate(folder: Path, count: int, style: str = "minimal", shape: str = "linear") -> Path:
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
    (folder / "alembic.ini").write_text(ini)
    if shape == "realistic":
        history = RealisticHistory()
        for k in range(count):
            (versions / f"r{k:04d}_step.py").write_text(history.revision_text(k))
        models = history.models_text()
    else:
        for k in range(count):
            (versions / f"r{k:04d}_step.py").write_text(revision_text(k))
        models = models_text(count)
    if style != "minimal":
        (folder / "app" / "models.py").write_text(models)
    return folder


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("count", type=int)
    parser.add_argument("--style", choices=STYLES, default="minimal")
    parser.add_argument("--shape", choices=SHAPES, default="linear")
    args = parser.parse_args()
    generate(args.folder, args.count, args.style, args.shape)
