"""A project that has not started yet: no migrations, perhaps no models either. Not an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check, copy_example

pytestmark = pytest.mark.usefixtures("no_leftovers")

EMPTY_MODELS = '''
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s",
    })
'''


def _without_migrations(tmp_path: Path) -> Path:
    project = copy_example("clean", tmp_path)
    for migration in (project / "migrations/versions").glob("*.py"):
        migration.unlink()
    return project


def test_no_migrations_and_no_models_passes(tmp_path: Path) -> None:
    project = _without_migrations(tmp_path)
    (project / "app/models.py").write_text(EMPTY_MODELS)
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert run.report is not None and run.report["findings"] == []
    assert any("holds no migrations yet" in reason for reason in run.report["skipped"])
    assert "to-base" not in run.report["timings"]


def test_models_without_migrations_get_the_first_migration(tmp_path: Path) -> None:
    project = _without_migrations(tmp_path)
    run = check(project, tmp_path=tmp_path)
    assert run.status == 1, run.stdout + run.stderr
    assert run.report is not None and set(run.rules()) == {"model-drift"}
    assert "op.create_table('organizations'" in run.report["suggested_migration"]
