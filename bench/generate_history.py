"""Generates an Alembic project with a long linear history, for the round-trip benchmark.

    python bench/generate_history.py DIR N

Revision k creates a table when k is a multiple of 4, and otherwise adds a column (with an index every
other time) to the latest table: the kind of history a real service builds, each with a working downgrade.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ENV_PY = textwrap.dedent('''\
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


def revision_text(k: int) -> str:
    table = f"t{k // 4:04d}"
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


def generate(folder: Path, count: int) -> Path:
    versions = folder / "migrations" / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    (folder / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s/migrations\n"
                                        "sqlalchemy.url = postgresql+psycopg://bench@localhost/bench\n")
    (folder / "migrations" / "env.py").write_text(ENV_PY)
    for k in range(count):
        (versions / f"r{k:04d}_step.py").write_text(revision_text(k))
    return folder


if __name__ == "__main__":
    generate(Path(sys.argv[1]), int(sys.argv[2]))
