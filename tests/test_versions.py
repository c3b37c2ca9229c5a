"""The oldest supported pair, SQLAlchemy 1.4 with Alembic 1.9, in a virtualenv of its own.

The main test environment has the newest SQLAlchemy and Alembic; this builds a second one from PyPI once per
session (about half a minute) and runs the real CLI there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO, edit

LEGACY_PROJECT = REPO / "tests" / "projects" / "legacy-sqlalchemy14"
OLDEST = ["sqlalchemy>=1.4,<1.5", "alembic>=1.9,<1.10", "psycopg2-binary"]


@pytest.fixture(scope="session")
def legacy_python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    venv = tmp_path_factory.mktemp("legacy") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *OLDEST,
                    str(REPO)], check=True)
    yield python
    shutil.rmtree(venv, ignore_errors=True)


def _versions(python: Path) -> tuple[str, str]:
    out = subprocess.run([str(python), "-c", "import sqlalchemy, alembic; print(sqlalchemy.__version__, "
                          "alembic.__version__)"], capture_output=True, text=True, check=True).stdout.split()
    return out[0], out[1]


def _check(python: Path, project: Path, tmp_path: Path) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    report = tmp_path / "report.json"
    done = subprocess.run([str(python), "-m", "migration_check", "check", str(project), "--quiet", "--report",
                           str(report)], capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    return done.returncode, json.loads(report.read_text()) if report.exists() else {}, done.stderr


@pytest.mark.usefixtures("no_leftovers")
def test_oldest_supported_pair_passes_and_finds_drift(legacy_python: Path, tmp_path: Path) -> None:
    sqlalchemy_version, alembic_version = _versions(legacy_python)
    assert sqlalchemy_version.startswith("1.4.") and alembic_version.startswith("1.9.")
    status, report, stderr = _check(legacy_python, LEGACY_PROJECT, tmp_path)
    assert status == 0, stderr
    # the legacy project has no naming convention: the naming rules say so, on SQLAlchemy 1.4 too
    assert {f["rule"] for f in report["findings"]} == {"missing-naming-convention", "unnamed-constraint"}
    assert {f["severity"] for f in report["findings"]} == {"warning"}

    project = tmp_path / "project"
    shutil.copytree(LEGACY_PROJECT, project, ignore=shutil.ignore_patterns("__pycache__"))
    anchor = "    created_at = Column("
    edit(project / "app/models.py", anchor, "    plan = Column(String(20))\n" + anchor)
    (tmp_path / "report.json").unlink()
    status, report, stderr = _check(legacy_python, project, tmp_path)
    assert status == 1, stderr
    [finding] = [f for f in report["findings"] if f["rule"] == "model-drift"]
    assert (finding["rule"], finding["details"]["op"], finding["details"]["column"]) == (
        "model-drift", "add_column", "plan")
    assert "op.add_column('organizations'" in report["suggested_migration"]


@pytest.mark.usefixtures("no_leftovers")
def test_the_action_checks_a_project_that_pins_sqlalchemy_14(tmp_path: Path) -> None:
    """The Action's environment has the newest SQLAlchemy; the project's install step pins 1.4 into it. The
    process that loaded the newest starts again after the install, so the check runs on 1.4 and ends with a
    verdict, not an ImportError."""
    from fake_github import FakeGitHub
    from runner import read_outputs, runner_environment

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(REPO)],
                   check=True)
    assert not _versions(python)[0].startswith("1.4.")
    workspace = tmp_path / "workspace"
    shutil.copytree(LEGACY_PROJECT, workspace / "project", ignore=shutil.ignore_patterns("__pycache__"))
    (workspace / "project/requirements.txt").write_text("\n".join(OLDEST) + "\n")
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit",
                                                "-qm", "base"]):
        subprocess.run(["git", "-C", str(workspace), *args], check=True, capture_output=True)
    install = f"{python} -m pip install --quiet --disable-pip-version-check -r requirements.txt"
    with FakeGitHub() as github:
        environ = runner_environment(workspace, tmp_path / "files", github.url,
                                     {"working-directory": "project", "install": install})
        done = subprocess.run([str(python), "-m", "migration_check.github"], cwd=workspace, capture_output=True,
                              text=True, env={**os.environ, **environ}, timeout=600)
    outputs = read_outputs(tmp_path / "files" / "output")
    assert outputs.get("status") == "passed", done.stdout + done.stderr
    assert "ImportError" not in done.stdout + done.stderr
    assert _versions(python)[0].startswith("1.4.")
