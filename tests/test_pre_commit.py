"""The pre-commit hook as a user runs it: pre-commit installs this repository into a hook environment of its own
and runs the hook in a project's repository."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, copy_example, edit
from history_projects import git

pytestmark = pytest.mark.usefixtures("no_leftovers")


def _pre_commit(project: Path, home: Path) -> subprocess.CompletedProcess[str]:
    # try-repo takes the working tree as it is, uncommitted changes included, so this tests the code under test
    return subprocess.run([sys.executable, "-m", "pre_commit", "try-repo", str(REPO), "migration-check",
                           "--all-files", "--color", "never"],
                          cwd=project, capture_output=True, text=True, timeout=900,
                          env={**os.environ, "PRE_COMMIT_HOME": str(home)})


def test_the_hook_passes_a_clean_project_and_fails_on_drift(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "clean")
    home = tmp_path / "pre-commit-home"

    passed = _pre_commit(project, home)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "migration-check" in passed.stdout and "Passed" in passed.stdout

    edit(project / "app" / "models.py", "    name: Mapped[str] = mapped_column(String(200))\n",
         "    name: Mapped[str] = mapped_column(String(200))\n    notes: Mapped[str | None] = mapped_column(Text)\n")
    failed = _pre_commit(project, home)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and "model-drift" in failed.stdout
    assert "Column agents.notes (TEXT, nullable) is in the models, but no migration adds it." in failed.stdout
