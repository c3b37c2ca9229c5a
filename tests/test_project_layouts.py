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
