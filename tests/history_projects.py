"""Git repositories in temporary folders with a base commit and a change, for the graph and history rules."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from conftest import copy_example

STATIC = ("--only", "graph,history")


def git(repository: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repository), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def migration(revision: str, down: str | tuple[str, ...] | None, message: str,
              upgrade: str = 'op.add_column("agents", sa.Column("description", sa.Text(), nullable=True))',
              downgrade: str = 'op.drop_column("agents", "description")', extra: str = "") -> str:
    """A migration file as Alembic's template writes it. Bodies are one statement, or several lines already
    indented by four spaces after the first."""
    template = textwrap.dedent('''\
        """{message}

        Revision ID: {revision}
        Revises: {revises}
        """
        import sqlalchemy as sa
        from alembic import op

        revision = {revision!r}
        down_revision = {down!r}
        branch_labels = None
        depends_on = None
        {extra}

        def upgrade():
            {upgrade}


        def downgrade():
            {downgrade}
        ''')
    return template.format(message=message, revision=revision, revises=down or "", down=down, extra=extra,
                           upgrade=upgrade, downgrade=downgrade)


def repository(tmp_path: Path) -> tuple[Path, str]:
    """The clean example as the base commit of a fresh repository; returns the project and the base sha."""
    project = copy_example("clean", tmp_path)
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    return project, git(tmp_path, "rev-parse", "HEAD")


def add(project: Path, name: str, text: str) -> Path:
    path = project / "migrations" / "versions" / name
    path.write_text(text)
    return path


def change(tmp_path: Path, *files: tuple[str, str]) -> tuple[Path, list[str]]:
    """A change that adds these migration files on top of the base; returns the project and the flags."""
    project, base = repository(tmp_path)
    for name, text in files:
        add(project, name, text)
    return project, [*STATIC, "--base-ref", base]


GOOD = ("0004_add_agents_description.py", migration("0004", "0003", "add agents.description"))
