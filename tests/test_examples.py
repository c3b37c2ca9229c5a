"""The real CLI on every example, on the real throwaway server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import EXAMPLES, check, copy_example, edit, run_cli
from history_projects import git

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize(
    ("example", "extra"),
    [
        ("clean", []),
        ("async-env", []),
        ("pyproject-config", []),
        ("settings-env", ["--url-env", "APP_DATABASE_URL", "--env", "APP_SECRET_KEY=not-a-secret"]),
        ("supabase", ["--preset", "supabase"]),
        ("flask-migrate", []),
        ("sqlmodel", []),
    ],
)
def test_passing_examples(example: str, extra: list[str], tmp_path: Path) -> None:
    run = check(EXAMPLES / example, *extra, tmp_path=tmp_path)
    assert run.status == 0, run.stderr + run.stdout
    assert run.rules() == []
    assert run.report is not None
    assert run.report["server"]["kind"] == "embedded"
    assert run.report["server"]["version"].startswith("18")
    assert set(run.report["timings"]) >= {"database", "roundtrip", "compare"}
    assert "passed" in run.stdout


def test_drift_example_reports_each_difference_at_its_model_line(tmp_path: Path) -> None:
    run = check(EXAMPLES / "drift", tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    found = {(f["details"]["op"], f["details"]["table"], f["details"].get("column") or f["details"].get("name"))
             for f in run.report["findings"]}
    assert found == {
        ("add_column", "agents", "description"),
        ("modify_type", "users", "display_name"),
        ("modify_nullable", "api_keys", "revoked_at"),
        ("add_index", "runs", "ix_runs_started_at"),
    }
    models = (EXAMPLES / "drift" / "app" / "models.py").read_text().splitlines()
    for finding in run.report["findings"]:
        assert finding["rule"] == "model-drift"
        assert finding["severity"] == "error"
        assert finding["file"] == "examples/drift/app/models.py"
        line = models[finding["line"] - 1]
        expected = finding["details"].get("column") or "Index("
        assert expected in line, (finding, line)
    migration = run.report["suggested_migration"]
    assert "op.add_column('agents', sa.Column('description', sa.Text(), nullable=True))" in migration
    assert "op.drop_column('agents', 'description')" in migration
    compile(migration, "suggested_migration", "exec")  # it is valid Python, ready to paste
    assert "suggested migration" in run.stdout


def test_drift_passes_with_fail_on_never(tmp_path: Path) -> None:
    run = check(EXAMPLES / "drift", "--fail-on", "never", tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert len(run.rules()) == 4


def test_failing_migration_names_revision_file_line_and_error(tmp_path: Path) -> None:
    run = check(EXAMPLES / "failing-migration", tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    [finding] = run.report["findings"]
    assert finding["rule"] == "upgrade-failed"
    assert finding["revision"] == "0003"
    assert finding["file"] == "examples/failing-migration/migrations/versions/0003_create_runs_and_api_keys.py"
    source = (EXAMPLES / "failing-migration" / finding["file"].split("failing-migration/")[1]).read_text()
    assert '["state"]' in source.splitlines()[finding["line"] - 1]
    assert 'column "state" does not exist' in finding["message"]
    assert run.report["skipped"], "the comparison is skipped, and the report says so"


def test_supabase_without_preset_fails_with_a_hint(tmp_path: Path) -> None:
    run = check(EXAMPLES / "supabase", tmp_path=tmp_path)
    assert run.status == 1
    assert run.report is not None
    [finding] = run.report["findings"]
    assert finding["rule"] == "upgrade-failed"
    assert 'schema "auth" does not exist' in finding["message"]
    assert "--preset supabase" in finding["details"]["hint"]


def test_text_report_groups_by_rule_and_names_steps(tmp_path: Path) -> None:
    from conftest import run_cli

    run = run_cli("check", EXAMPLES / "drift")
    assert run.status == 1
    assert "error [model-drift]" in run.stdout
    assert "fix: Add a migration" in run.stdout
    for step in ("starting a throwaway PostgreSQL", "round trip (full)", "comparing the models"):
        assert step in run.stderr
    assert "PostgreSQL 18" in run.stderr


def test_markdown_format(tmp_path: Path) -> None:
    run = check(EXAMPLES / "drift", "--format", "markdown", tmp_path=tmp_path)
    assert run.stdout.startswith("## ❌ migration-check failed")
    assert "### Suggested migration" in run.stdout
    assert "`examples/drift/app/models.py:" in run.stdout


def test_json_format_on_stdout_matches_report_file(tmp_path: Path) -> None:
    import json

    run = check(EXAMPLES / "clean", "--format", "json", tmp_path=tmp_path)
    assert run.status == 0
    printed = json.loads(run.stdout)
    assert printed["findings"] == run.report["findings"] == []  # type: ignore[index]
    assert printed["version"] == 1


def test_named_ini_section_and_config_file(tmp_path: Path) -> None:
    from conftest import copy_example

    project = copy_example("drift", tmp_path)
    ini = project / "alembic.ini"
    # a second migration tree, as projects with several databases have; this one matches its models
    text = ini.read_text()
    ini.write_text(text + "\n[clean_tree]\nscript_location = %(here)s/../clean/migrations\n"
                   "sqlalchemy.url = postgresql+psycopg://x@localhost/x\n")
    other = tmp_path / "elsewhere.ini"
    other.write_text(ini.read_text().replace("%(here)s", str(project)))
    run = check(project, "--name", "clean_tree", tmp_path=tmp_path)
    assert run.status == 1 and len(run.rules()) == 4, run.stderr
    (tmp_path / "report.json").unlink()
    run = check(project, "--config", other, tmp_path=tmp_path)  # the project runs from PATH, as `alembic -c`
    assert run.status == 1 and len(run.rules()) == 4, run.stderr


def test_colour_on_request_and_not_by_default(tmp_path: Path) -> None:
    from conftest import run_cli

    plain = run_cli("check", EXAMPLES / "drift", "--quiet")
    assert "\033[" not in plain.stdout
    coloured = run_cli("check", EXAMPLES / "drift", "--quiet", env={"NO_COLOR": "", "FORCE_COLOR": "1"})
    assert "\033[1;31merror [model-drift]" in coloured.stdout


def test_verbose_shows_what_alembic_logged() -> None:
    from conftest import run_cli

    quiet = run_cli("check", EXAMPLES / "clean")
    assert "Running upgrade" not in quiet.stderr
    verbose = run_cli("check", EXAMPLES / "clean", "--verbose")
    assert "Running upgrade  -> 0001" in verbose.stderr
    assert verbose.status == 0


def test_postgres_bin_names_the_binaries(tmp_path: Path) -> None:
    from migration_check.database import find_server_binaries

    bin_dir = find_server_binaries(None).bin_dir
    run = check(EXAMPLES / "clean", "--postgres-bin", bin_dir, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None
    assert run.report["server"]["source"] == str(bin_dir)


def _head_file(folder: Path) -> Path:
    """The last migration: the one no other names as its down_revision (Flask-Migrate's names do not sort)."""
    def assigned(name: str, text: str) -> str | None:
        found = re.search(rf"^{name}(?::[^=]*)?\s*=\s*['\"](\w+)['\"]", text, re.M)
        return found.group(1) if found else None

    texts = {path: path.read_text() for path in folder.glob("*.py")}
    parents = {assigned("down_revision", text) for text in texts.values()}
    [head] = [path for path, text in texts.items() if assigned("revision", text) not in parents]
    return head


@pytest.mark.parametrize(
    ("example", "versions", "extra"),
    [
        ("clean", "clean/migrations/versions", []),
        ("async-env", "clean/migrations/versions", []),
        ("pyproject-config", "clean/migrations/versions", []),
        ("settings-env", "settings-env/migrations/versions",
         ["--url-env", "APP_DATABASE_URL", "--env", "APP_SECRET_KEY=not-a-secret"]),
        ("supabase", "supabase/migrations/versions", ["--preset", "supabase"]),
        ("flask-migrate", "flask-migrate/migrations/versions", []),
        ("sqlmodel", "sqlmodel/app/alembic/versions", []),
    ],
)
def test_changed_mode_on_every_example(example: str, versions: str, extra: list[str], tmp_path: Path) -> None:
    """The base branch lacks the example's last migration; the change adds it. Only that one takes the stairway,
    on top of the base's applied plainly, and there is no downgrade to base."""
    project = copy_example(example, tmp_path)
    folder = tmp_path / versions
    last = _head_file(folder)
    text = last.read_text()
    last.unlink()
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "base")
    base = git(tmp_path, "rev-parse", "HEAD")
    last.write_text(text)
    applied_first = len(list(folder.glob("*.py"))) - 1
    run = run_cli("check", project, "--base-ref", base, *extra, report=tmp_path / "report.json")
    assert run.status == 0, run.stderr + run.stdout
    assert run.rules() == []
    assert "round trip (changed)" in run.stderr
    assert f"· {applied_first + 3} steps, 0 findings" in run.stderr, run.stderr
    assert run.report is not None and "to-base" not in run.report["timings"]


def test_sqlmodel_drift_suggests_a_migration_that_works_as_it_is(tmp_path: Path) -> None:
    """A field added to a SQLModel class: the suggested migration imports what its SQLModel types need, and
    pasted into a new revision file it brings the models and the migrations back in step."""
    project = copy_example("sqlmodel", tmp_path)
    edit(project / "app" / "models.py", '    owner_id: uuid.UUID = Field(',
         '    note: str | None = Field(default=None, max_length=80)\n    owner_id: uuid.UUID = Field(')
    run = check(project, tmp_path=tmp_path)
    assert run.status == 1 and run.rules() == ["model-drift"]
    migration = run.report["suggested_migration"]
    assert "import sqlmodel.sql.sqltypes\n" in migration
    assert "sqlmodel.sql.sqltypes.AutoString(length=80)" in migration
    head = _head_file(project / "app" / "alembic" / "versions").stem.split("_")[0]
    (project / "app" / "alembic" / "versions" / "0003_add_item_note.py").write_text(
        f'"""add item note"""\n{migration}\nrevision = "0003"\ndown_revision = "{head}"\n')
    fixed = check(project, "--roundtrip", "full", tmp_path=tmp_path)
    assert fixed.status == 0, fixed.stdout + fixed.stderr
    assert fixed.rules() == []


def test_drift_the_models_lack_points_at_the_migration_that_made_it(tmp_path: Path) -> None:
    """A table that only the migrations have: no model line to point at, so the finding points at the migration
    that creates it (not an earlier one that only spells the same word, as a column). A column the model lacks
    points at its model, where it would go."""
    from history_projects import add, migration, repository

    project, _base = repository(tmp_path)
    add(project, "0004_0.py", migration("0004", "0003", "add agents.audit_log",
                                        'op.add_column("agents", sa.Column("audit_log", sa.Text()))',
                                        'op.drop_column("agents", "audit_log")'))
    add(project, "0004_a.py", migration(
        "0005", "0004", "create the audit log and agents.notes",
        'op.create_table("audit_log", sa.Column("id", sa.Integer(), primary_key=True))\n'
        '    op.add_column("agents", sa.Column("notes", sa.Text()))',
        'op.drop_column("agents", "notes")\n    op.drop_table("audit_log")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert run.report is not None
    drift = run.report["findings"]
    [table] = [f for f in drift if f["rule"] == "model-drift" and f["details"]["op"] == "remove_table"]
    [notes] = [f for f in drift if f["rule"] == "model-drift" and f["details"].get("column") == "notes"]
    source = (project / "migrations/versions/0004_a.py").read_text().splitlines()
    assert table["file"].endswith("0004_a.py"), table
    assert 'create_table("audit_log"' in source[table["line"] - 1]
    assert notes["file"].endswith("app/models.py")


def test_a_model_on_another_metadata_is_invisible_to_autogenerate(tmp_path: Path) -> None:
    """A second declarative Base: its models are loaded, but their MetaData is not env.py's target_metadata."""
    project = copy_example("clean", tmp_path)
    (project / "app/legacy.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class LegacyBase(DeclarativeBase):\n    pass\n\n\n"
        "class Setting(LegacyBase):\n    __tablename__ = 'settings'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n")
    edit(project / "migrations/env.py", "from app.models import Base", "from app.models import Base\nimport app.legacy")
    run = check(project, tmp_path=tmp_path)
    [finding] = [f for f in run.report["findings"] if f["rule"] == "model-not-imported"]  # type: ignore[index]
    assert finding["details"]["problem"] == "other-metadata" and finding["details"]["table"] == "settings"
    assert finding["file"].endswith("app/legacy.py"), finding


def test_the_models_of_another_migration_tree_are_not_reported(tmp_path: Path) -> None:
    """One Alembic configuration per database in one project: the second tree's models, which its own env.py
    imports, are not this tree's forgotten models."""
    project = copy_example("clean", tmp_path)
    (project / "app/reporting.py").write_text(
        "from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n"
        "class ReportingBase(DeclarativeBase):\n    pass\n\n\n"
        "class Snapshot(ReportingBase):\n    __tablename__ = 'snapshots'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n")
    (project / "reporting_migrations").mkdir()
    (project / "reporting_migrations/env.py").write_text("from app.reporting import ReportingBase\n")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stdout
    assert "model-not-imported" not in run.rules()


def test_a_bootstrap_module_with_a_base_of_its_own_is_not_a_forgotten_model(tmp_path: Path) -> None:
    """Seen in MLflow: initial_models.py holds the tables a create_all bootstrap makes before the first migration,
    on a declarative_base() of its own. Nothing imports it while migrating, and it is not meant to be."""
    project = copy_example("clean", tmp_path)
    (project / "app/initial_models.py").write_text(
        "from sqlalchemy import Column, Integer\nfrom sqlalchemy.orm import declarative_base\n\n"
        "InitialBase = declarative_base()\n\n\n"
        "class InitialSetting(InitialBase):\n    __tablename__ = 'settings'\n"
        "    id = Column(Integer, primary_key=True)\n")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stdout
    assert "model-not-imported" not in run.rules()
