"""Flask-Migrate projects: their env.py takes the engine and the models from the Flask application
(`current_app`), so it runs only inside an application context, as `flask db upgrade` runs it.

The application is found as the `flask` command finds it: FLASK_APP (from --env, the environment, or the
project's .flaskenv or .env), else wsgi.py or app.py in the project folder.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from migration_check.errors import UsageError

# `from flask import current_app` (Flask-Migrate's template) or `flask.current_app`
_USES_CURRENT_APP = re.compile(r"^\s*from\s+flask\s+import\s+[^\n]*\bcurrent_app\b|\bflask\.current_app\b", re.M)
_FLASK_APP_LINE = re.compile(r"""^\s*(?:export\s+)?FLASK_APP\s*=\s*["']?([^"'#\s]+)""", re.M)
_DOTENV_FILES = (".flaskenv", ".env")  # the order in which `flask` reads them; the first wins


def needs_flask_app(env_py: Path) -> bool:
    try:
        return bool(_USES_CURRENT_APP.search(env_py.read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


def flask_app_path(project_dir: Path) -> tuple[str | None, str]:
    """The FLASK_APP to load, and where it came from."""
    if os.environ.get("FLASK_APP"):
        return os.environ["FLASK_APP"], "FLASK_APP"
    for name in _DOTENV_FILES:
        file = project_dir / name
        if file.is_file():
            found = _FLASK_APP_LINE.search(file.read_text(encoding="utf-8", errors="replace"))
            if found:
                return found.group(1), f"FLASK_APP in {name}"
    return None, "wsgi.py or app.py"


@contextlib.contextmanager
def application_context(project_dir: Path, env_py: Path) -> Iterator[None]:
    """A new application, created under the current environment (so that its configuration reads the scratch
    database's URL), and its context for one run of env.py. Its engines are closed afterwards, so that no
    pooled connection outlives the run."""
    try:
        from flask.cli import NoAppException, ScriptInfo
    except ImportError:
        raise UsageError(
            f"{env_py.name} imports current_app from Flask (Flask-Migrate), but Flask is not installed where "
            "migration-check runs.",
            fix="Install the project's dependencies (Flask, Flask-SQLAlchemy, Flask-Migrate) where migration-check "
            "runs.",
            file=env_py,
        ) from None
    import_path, source = flask_app_path(project_dir)
    try:
        app = ScriptInfo(app_import_path=import_path, set_debug_flag=False).load_app()
    except NoAppException as exc:
        raise UsageError(
            f"{env_py.name} needs the Flask application (Flask-Migrate), which could not be loaded from {source}: "
            f"{exc}",
            fix="Name the application as for `flask db upgrade`: --env FLASK_APP=package:create_app (or "
            "FLASK_APP in .flaskenv).",
            file=env_py,
        ) from None
    with app.app_context():
        try:
            yield
        finally:
            _dispose_engines(app)


def _dispose_engines(app: Any) -> None:
    """Close the pools of Flask-SQLAlchemy 3 (`engines`) or 2 (`get_engine()`), whichever the app has."""
    extension = app.extensions.get("sqlalchemy")
    database = getattr(extension, "db", extension)  # Flask-SQLAlchemy 2 keeps a state object with .db
    if database is None:
        return
    with contextlib.suppress(Exception):  # closing pools is tidiness; it must not hide the run's own outcome
        engines = getattr(database, "engines", None)
        for engine in engines.values() if isinstance(engines, Mapping) else [database.get_engine()]:
            engine.dispose()
