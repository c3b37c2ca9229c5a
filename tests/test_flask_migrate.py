"""Flask-Migrate projects: migrations/alembic.ini without script_location, and an env.py that needs the Flask
application's context. On the Flask-Migrate example, with the real throwaway server."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check, copy_example, edit

pytestmark = pytest.mark.usefixtures("no_leftovers")

FIRST = "migrations/versions/e5a696689d90_create_organizations_and_users.py"
ENUM_FIX = "    sa.Enum(name='user_role').drop(op.get_bind())\n"


def test_the_generated_downgrade_that_keeps_the_enum_type_is_caught(tmp_path: Path) -> None:
    project = copy_example("flask-migrate", tmp_path)
    edit(project / FIRST, ENUM_FIX, "")  # the downgrade as `flask db migrate` wrote it
    run = check(project, tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    found = {(f["rule"], f["revision"], f["file"].split("flask-migrate/")[-1]) for f in run.report["findings"]}
    assert found == {("roundtrip-mismatch", "e5a696689d90", FIRST)}  # the failing re-upgrade is in its details
    [mismatch] = [f for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"]
    assert "enum type public.user_role" in mismatch["message"]


def test_model_drift_points_at_the_flask_sqlalchemy_column(tmp_path: Path) -> None:
    project = copy_example("flask-migrate", tmp_path)
    edit(project / "service/models.py", '    email = db.Column(db.String(320), nullable=False, unique=True)\n',
         '    email = db.Column(db.String(320), nullable=False, unique=True)\n    bio = db.Column(db.Text)\n')
    run = check(project, "--roundtrip", "off", tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.report is not None
    [finding] = run.report["findings"]
    assert (finding["rule"], finding["details"]["op"], finding["details"]["column"]) == ("model-drift", "add_column",
                                                                                          "bio")
    lines = (project / "service/models.py").read_text().splitlines()
    assert "bio = db.Column" in lines[finding["line"] - 1]
    # the fix names the command a Flask-Migrate project writes migrations with
    assert 'fix: Add a migration for the change: `flask db migrate -m "<what changes>"`.' in run.stdout
    assert "suggested migration (flask db migrate would write):" in run.stdout
    assert "alembic revision" not in run.stdout


def test_the_application_comes_from_flask_app_when_there_is_no_flaskenv(tmp_path: Path) -> None:
    project = copy_example("flask-migrate", tmp_path)
    (project / ".flaskenv").unlink()
    run = check(project, tmp_path=tmp_path, env={"FLASK_APP": ""})
    assert run.status == 2
    assert f"{project / 'migrations/env.py'}: env.py needs the Flask application" in run.stderr
    assert "--env FLASK_APP=package:create_app" in run.stderr
    (tmp_path / "report.json").unlink(missing_ok=True)
    run = check(project, "--env", "FLASK_APP=service:create_app", tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.rules() == []


def test_an_application_that_fails_to_start_names_its_line(tmp_path: Path) -> None:
    project = copy_example("flask-migrate", tmp_path)
    edit(project / "service/__init__.py", '    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]\n',
         '    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]\n'
         '    app.config["SECRET_KEY"] = os.environ["SERVICE_SECRET_KEY"]\n')
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2
    assert "Loading the Flask application failed: KeyError: 'SERVICE_SECRET_KEY'" in run.stderr
    assert f"{project / 'service/__init__.py'}:29:" in run.stderr
    assert "--env KEY=VALUE" in run.stderr


def test_an_application_that_upgrades_itself_while_it_loads(tmp_path: Path) -> None:
    """create_app() calls flask_migrate.upgrade(): the scratch database is at head before the round trip applies
    anything. That is said as what it is (exit 2, with the way out), not blamed on the first migration."""
    project = copy_example("flask-migrate", tmp_path)
    edit(project / "service/__init__.py", "    return app\n",
         "    if not os.environ.get('SKIP_STARTUP_UPGRADE'):\n"
         "        from flask_migrate import upgrade\n\n"
         "        with app.app_context():\n"
         "            upgrade()\n"
         "    return app\n")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert "already held revision" in run.stderr and "flask_migrate.upgrade()" in run.stderr
    assert "upgrade-failed" not in run.stdout
    run = check(project, "--env", "SKIP_STARTUP_UPGRADE=1", tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr


def test_the_suggested_batch_migration_runs_as_pasted(tmp_path: Path) -> None:
    """render_as_batch=True (Flask-Migrate projects that also run on SQLite): the suggested migration uses
    `with op.batch_alter_table(...) as batch_op:`, and batch_op is a variable there, not a module to import."""
    project = copy_example("flask-migrate", tmp_path)
    edit(project / "service/__init__.py", "migrate = Migrate(compare_type=True)",
         "migrate = Migrate(compare_type=True, render_as_batch=True)")
    edit(project / "service/models.py", '    email = db.Column(db.String(320), nullable=False, unique=True)\n',
         '    email = db.Column(db.String(320), nullable=False, unique=True)\n    bio = db.Column(db.Text)\n')
    run = check(project, "--roundtrip", "off", tmp_path=tmp_path)
    assert run.report is not None
    suggested = run.report["suggested_migration"]
    assert "as batch_op:" in suggested and "import batch_op" not in suggested, suggested
    compile(suggested, "suggested.py", "exec")
