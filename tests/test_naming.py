"""The naming and foreign-key rules on a project of their own: a self-referential table, a table in a schema
other than public, conventions with %(column_0_N_name)s and %(column_0_label)s, cycles and long names."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest import Run, check, copy_example, edit
from history_projects import migration
from migration_check.stages.naming import clipped, sqlalchemy_cut

pytestmark = pytest.mark.usefixtures("no_leftovers")

MODELS = '''
from sqlalchemy import ForeignKey, MetaData, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    })


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (UniqueConstraint("customer", "number"), {"schema": "billing"})
    id: Mapped[int] = mapped_column(primary_key=True)
    customer: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(20), index=True)
'''

CREATE = '''op.execute("CREATE SCHEMA billing")
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["parent_id"], ["categories.id"], name=op.f("fk_categories_parent_id_categories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_categories")),
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer", sa.String(length=100), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("customer", "number", name=op.f("uq_invoices_customer_number")),
        schema="billing",
    )
    op.create_index(op.f("{index}"), "invoices", ["number"], schema="billing")'''

DROP = '''op.drop_table("invoices", schema="billing")
    op.drop_table("categories")
    op.execute("DROP SCHEMA billing")'''


def shop(tmp_path: Path, *, index: str = "ix_billing_invoices_number", models: str = "",
         settings: str | None = None) -> Path:
    """A small project of its own, on the clean example's alembic.ini and env.py."""
    project = copy_example("clean", tmp_path)
    for old in (project / "migrations/versions").glob("*.py"):
        old.unlink()
    (project / "app/models.py").write_text(MODELS + textwrap.dedent(models))
    edit(project / "migrations/env.py", "compare_type=True", "compare_type=True, include_schemas=True")
    (project / "migrations/versions/0001_create_categories_and_invoices.py").write_text(
        migration("0001", None, "create categories and invoices", CREATE.replace("{index}", index), DROP))
    if settings is not None:
        (project / ".migration-check.yml").write_text(textwrap.dedent(settings))
    return project


def run_naming(project: Path, tmp_path: Path) -> Run:
    run = check(project, "--only", "naming,compare", "--roundtrip", "off", "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    return run


def findings(run: Run, rule: str) -> list[dict[str, Any]]:
    assert run.report is not None
    return [finding for finding in run.report["findings"] if finding["rule"] == rule]


def test_self_reference_and_other_schema_with_the_convention_pass(tmp_path: Path) -> None:
    run = run_naming(shop(tmp_path), tmp_path)
    assert run.rules() == [], run.report


def test_label_includes_the_schema(tmp_path: Path) -> None:
    run = run_naming(shop(tmp_path, index="ix_invoices_number"), tmp_path)
    [wrong] = findings(run, "naming-convention")
    assert wrong["details"]["expected"] == "ix_billing_invoices_number"
    assert wrong["details"]["schema"] == "billing"
    assert wrong["file"] == "migrations/versions/0001_create_categories_and_invoices.py"


def test_excluded_schema_is_not_checked(tmp_path: Path) -> None:
    project = shop(tmp_path, index="ix_invoices_number", settings="exclude-schemas: [billing]\n")
    assert findings(run_naming(project, tmp_path), "naming-convention") == []


def test_configured_pattern_overrides_the_models(tmp_path: Path) -> None:
    project = shop(tmp_path, settings="naming:\n  pk: '%(table_name)s_pkey'\n")
    wrong = findings(run_naming(project, tmp_path), "naming-convention")
    assert sorted(f["details"]["expected"] for f in wrong) == ["categories_pkey", "invoices_pkey"]


THREE_TABLE_CYCLE = '''

class Warehouse(Base):
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(primary_key=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("employees.id"{use_alter}))


class Employee(Base):
    __tablename__ = "employees"
    id: Mapped[int] = mapped_column(primary_key=True)
    desk_id: Mapped[int | None] = mapped_column(ForeignKey("desks.id"))


class Desk(Base):
    __tablename__ = "desks"
    id: Mapped[int] = mapped_column(primary_key=True)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
'''


def test_three_table_cycle_names_its_tables(tmp_path: Path) -> None:
    run = run_naming(shop(tmp_path, models=THREE_TABLE_CYCLE.format(use_alter="")), tmp_path)
    [cycle] = findings(run, "fk-cycle-without-use-alter")
    assert cycle["details"]["tables"] == ["desks", "employees", "warehouses"]
    assert cycle["severity"] == "error" and cycle["file"] == "app/models.py"


def test_use_alter_with_a_name_breaks_the_cycle(tmp_path: Path) -> None:
    fixed = THREE_TABLE_CYCLE.format(use_alter=', use_alter=True, name="fk_warehouses_manager_id_employees"')
    run = run_naming(shop(tmp_path / "named", models=fixed), tmp_path)
    assert findings(run, "fk-cycle-without-use-alter") == []


LONG_COLUMNS = '''

class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    {name}: Mapped[str | None] = mapped_column(String(10))
'''


@pytest.mark.parametrize(("name", "too_long"), [("é" * 31 + "x", False), ("é" * 32, True)])
def test_multibyte_names_are_counted_in_bytes(name: str, too_long: bool, tmp_path: Path) -> None:
    assert len(name.encode()) == (64 if too_long else 63)
    run = run_naming(shop(tmp_path, models=LONG_COLUMNS.format(name=name)), tmp_path)
    found = [f for f in findings(run, "identifier-too-long") if f["details"]["name"] == name]
    if too_long:
        [finding] = found
        assert finding["details"]["stored_as"] == "é" * 31 and finding["file"] == "app/models.py"
        assert finding["line"] is not None
    else:
        assert found == []


def test_names_equal_after_the_cut_are_reported(tmp_path: Path) -> None:
    prefix = "a_table_whose_name_is_long_enough_to_reach_the_limit_of_postgres"  # 64 bytes
    models = f'''

class First(Base):
    __tablename__ = "{prefix}_one"
    id: Mapped[int] = mapped_column(primary_key=True)


class Second(Base):
    __tablename__ = "{prefix}_two"
    id: Mapped[int] = mapped_column(primary_key=True)
'''
    run = run_naming(shop(tmp_path, models=models), tmp_path)
    clashes = [f for f in findings(run, "identifier-too-long") if "other" in f["details"]]
    assert any({c["details"]["name"], c["details"]["other"]} == {f"{prefix}_one", f"{prefix}_two"}
               for c in clashes), findings(run, "identifier-too-long")


def test_cutting_follows_postgres_and_sqlalchemy() -> None:
    assert clipped("é" * 32) == "é" * 31  # 63 bytes would split the last character
    assert clipped("x" * 70) == "x" * 63
    long = "ix_" + "x" * 70
    assert len(sqlalchemy_cut(long)) == 60 and sqlalchemy_cut(long).startswith("ix_" + "x" * 52 + "_")
    assert sqlalchemy_cut("short") == "short"


def test_a_long_string_that_is_no_name_is_not_reported(tmp_path: Path) -> None:
    """A URL in a log message is not an identifier, even when it is passed to a call in a migration."""
    from history_projects import add, repository

    project, _base = repository(tmp_path)
    url = "https://docs.example.com/migrations/backfills/agents-description-and-why-it-is-optional"
    add(project, "0004_a.py", migration(
        "0004", "0003", "add agents.description",
        'import logging\n    logging.getLogger("alembic").info("see {} for the backfill".format('
        f'"{url}"))\n    op.add_column("agents", sa.Column("description", sa.Text(), nullable=True))'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None and "naming" in run.report["timings"]
    assert findings(run, "identifier-too-long") == []


def test_a_name_too_long_for_sqlalchemy_is_reported_although_the_upgrade_fails(tmp_path: Path) -> None:
    """SQLAlchemy refuses an index name over 63 characters, so the upgrade fails and the naming stage, which needs
    the migrated database, cannot run; the name is read from the migration file instead."""
    from history_projects import add, repository

    project, _base = repository(tmp_path)
    name = "ix_agents_" + "name_and_description_for_the_search_page_" * 2
    add(project, "0004_a.py", migration("0004", "0003", "index agents by name",
                                        f'op.create_index("{name}", "agents", ["name"])',
                                        f'op.drop_index("{name}", table_name="agents")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    assert [f["revision"] for f in run.report["findings"] if f["rule"] == "upgrade-failed"] == ["0004"]
    [long] = findings(run, "identifier-too-long")
    assert long["details"]["name"] == name and long["file"].endswith("0004_a.py") and long["line"] == 16
    assert "naming: skipped because the upgrade failed" in run.report["skipped"]


def test_without_a_convention_the_unnamed_constraints_are_said_once(tmp_path: Path) -> None:
    """Every foreign key, unique constraint and index of the models is unnamed: one warning with the count and the
    list, not one per constraint; the primary keys, which PostgreSQL names <table>_pkey, are not in it."""
    project = copy_example("clean", tmp_path)
    edit(project / "app/models.py", "metadata = MetaData(naming_convention=NAMING_CONVENTION)", "metadata = MetaData()")
    run = run_naming(project, tmp_path)
    [unnamed] = findings(run, "unnamed-constraint")
    listed = unnamed["details"]["unnamed"]
    assert unnamed["details"]["count"] == len(listed) >= 5
    assert f"and {len(listed) - 1} more (listed in the details)" in unnamed["message"]
    assert any(item.startswith("Foreign key on agents") for item in listed), listed
    assert not any(item.lower().startswith("primary key") for item in listed)
    assert len(findings(run, "missing-naming-convention")) == 1


@pytest.mark.parametrize("in_models", [True, False])
def test_a_name_the_models_spell_out_is_the_teams_choice(in_models: bool, tmp_path: Path) -> None:
    """An index the models name explicitly is not held to the convention; the same index made by a migration
    alone is."""
    from history_projects import add, repository

    project, _base = repository(tmp_path)
    add(project, "0004_a.py", migration("0004", "0003", "index agents by name",
                                        'op.create_index("agents_by_name", "agents", ["name"])',
                                        'op.drop_index("agents_by_name", table_name="agents")'))
    if in_models:
        edit(project / "app/models.py", 'name="uq_agents_organization_id_name"),)',
             'name="uq_agents_organization_id_name"), Index("agents_by_name", "name"))')
    run = run_naming(project, tmp_path)
    names = [f["details"]["name"] for f in findings(run, "naming-convention")]
    assert names == ([] if in_models else ["agents_by_name"]), names


def test_unnamed_primary_keys_count_when_the_settings_ask_for_pk_names(tmp_path: Path) -> None:
    """A `pk` pattern in the settings file's naming says the team wants primary keys named: then they are listed."""
    project = copy_example("clean", tmp_path)
    edit(project / "app/models.py", "metadata = MetaData(naming_convention=NAMING_CONVENTION)", "metadata = MetaData()")
    (project / ".migration-check.yml").write_text('naming:\n  pk: "pk_%(table_name)s"\n')
    run = run_naming(project, tmp_path)
    [unnamed] = findings(run, "unnamed-constraint")
    assert any(item.lower().startswith("primary key on agents") for item in unnamed["details"]["unnamed"])
