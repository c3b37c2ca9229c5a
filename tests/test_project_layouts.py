"""Projects laid out as real ones are: relative paths in alembic.ini, run from another folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import copy_example, edit, run_cli

pytestmark = pytest.mark.usefixtures("no_leftovers")


def test_a_src_layout_checked_from_another_folder(tmp_path: Path) -> None:
    """script_location, version_locations and prepend_sys_path relative to the project, as `alembic` is run
    there; the check is run from / with the project's path."""
    project = copy_example("clean", tmp_path)
    (project / "src").mkdir()
    (project / "app").rename(project / "src/app")
    (project / "migrations/versions").rename(project / "migrations/revisions")
    edit(project / "alembic.ini", "prepend_sys_path = .",
         "prepend_sys_path = src\nversion_locations = migrations/revisions")
    edit(project / "alembic.ini", "script_location = %(here)s/migrations", "script_location = migrations")
    run = run_cli("check", project, "--quiet", cwd=Path("/"), report=tmp_path / "report.json")
    assert run.status == 0, run.stdout + run.stderr
    assert run.report is not None and "compare" in run.report["timings"]
    assert run.report["findings"] == []


def test_an_error_is_placed_in_the_projects_code_not_in_its_virtualenv(tmp_path: Path) -> None:
    """A virtualenv inside the project folder holds code that is not the project's: the error points at the
    env.py line that called into it."""
    project = copy_example("clean", tmp_path)
    installed = project / ".venv/lib/python3.11/site-packages/vendored_settings"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("def load():\n    raise RuntimeError('settings are incomplete')\n")
    edit(project / "migrations/env.py", "def run_migrations_online() -> None:\n",
         "def run_migrations_online() -> None:\n"
         f"    import sys; sys.path.insert(0, {str(installed.parent)!r}); import vendored_settings\n"
         "    vendored_settings.load()\n")
    run = run_cli("check", project, "--quiet", report=tmp_path / "report.json")
    assert run.status == 2
    first = run.stderr.splitlines()[0]
    assert "migrations/env.py:" in first and "site-packages" not in first, run.stderr


def test_version_locations_that_env_py_sets_itself(tmp_path: Path) -> None:
    """One folder of revisions per database dialect, chosen by env.py (context.script.version_locations = ...),
    none in alembic.ini: the revisions are read where env.py says, as Alembic reads them after env.py ran, and the
    file rules see them too."""
    project = copy_example("clean", tmp_path)
    dialects = project / "migrations/dialects"
    dialects.mkdir()
    (project / "migrations/versions").rename(dialects / "postgresql")
    edit(project / "migrations/env.py", "def run_migrations_online() -> None:\n",
         "def run_migrations_online() -> None:\n"
         "    from pathlib import Path\n\n"
         "    context.script.version_locations = [str(Path(__file__).parent / 'dialects' / 'postgresql')]\n")
    edit(dialects / "postgresql/0003_create_runs_and_api_keys.py", '"""create runs and api_keys', '"""wip')
    run = run_cli("check", project, report=tmp_path / "report.json")
    assert run.report is not None, run.stderr
    assert run.rules() == ["vague-message"], run.stdout
    assert "3 revisions (in the folders env.py sets: " in run.stderr
    assert "holds no migrations" not in run.stdout + run.stderr


def test_a_script_location_inside_a_package_that_reads_its_settings_at_import(tmp_path: Path) -> None:
    """script_location = package:migrations, and the package reads its database URL from the environment when it
    is imported: the package must not be imported before the check has set that variable."""
    project = copy_example("clean", tmp_path)
    package = project / "acme_service"
    package.mkdir()
    (package / "__init__.py").write_text("import os\n\nDATABASE_URL = os.environ['ACME_DATABASE_URL']\n")
    (project / "migrations").rename(package / "migrations")
    edit(project / "alembic.ini", "script_location = %(here)s/migrations", "script_location = acme_service:migrations")
    edit(package / "migrations/env.py", "def run_migrations_online() -> None:\n",
         "def run_migrations_online() -> None:\n"
         "    import acme_service\n\n"
         "    config.set_main_option('sqlalchemy.url', acme_service.DATABASE_URL.replace('%', '%%'))\n")
    run = run_cli("check", project, "--quiet", "--url-env", "ACME_DATABASE_URL", cwd=Path("/"),
                  report=tmp_path / "report.json")
    assert run.status == 0, run.stdout + run.stderr
    assert run.report is not None and run.report["findings"] == []


def test_drift_of_a_plugins_model_points_at_the_project_and_names_the_model(tmp_path: Path) -> None:
    """A plugin, installed (here into a folder of its own named site-packages, as pip --target makes), adds a
    model to the project's Base; env.py loads it. The missing migration's finding is placed on the line of env.py
    that hands the models to Alembic, and names the model and its file: a finding without a place is no
    annotation at all."""
    project = copy_example("clean", tmp_path)
    plugin = tmp_path / "vendor" / "site-packages" / "acme_tags"
    plugin.mkdir(parents=True)
    (plugin / "__init__.py").write_text("")
    (plugin / "models.py").write_text(
        "from sqlalchemy.orm import Mapped, mapped_column\n\nfrom app.models import Base\n\n\n"
        "class Tag(Base):\n    __tablename__ = \"tags\"\n\n    id: Mapped[int] = mapped_column(primary_key=True)\n")
    edit(project / "migrations/env.py", "from app.models import Base\n",
         f"from app.models import Base\nimport sys\nsys.path.insert(0, {str(plugin.parent)!r})\n"
         "import acme_tags.models  # noqa: E402,F401\n")
    run = run_cli("check", project, "--fail-on", "never", report=tmp_path / "report.json")
    assert run.report is not None, run.stderr
    [drift] = [f for f in run.report["findings"] if f["rule"] == "model-drift"]
    assert drift["details"]["op"] == "add_table" and drift["details"]["table"] == "tags"
    assert (drift["file"], drift["line"]) == ("migrations/env.py", 15), drift
    assert f"acme_tags.models.Tag in {plugin / 'models.py'}:6" in drift["message"]
