"""Ctrl-C and SIGTERM in the middle of a run: the server stops and its folder goes, exit status 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, _our_servers, copy_example, edit

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_during_a_slow_migration_cleans_up(sig: signal.Signals, tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    edit(project / "migrations/versions/0002_create_agents_and_agent_versions.py",
         "def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute(\"SELECT pg_sleep(60)\")\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "migration_check", "check", str(project)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 60
    assert process.stderr is not None
    seen = ""
    while "reading the migrations" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    time.sleep(0.5)  # now inside pg_sleep
    assert _our_servers(), "the throwaway server is running while the migration sleeps"
    process.send_signal(sig)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "removed" in err


def test_sigkill_stops_the_server_and_the_next_run_removes_the_folder(tmp_path: Path) -> None:
    from conftest import _scratch_folders, check

    project = copy_example("clean", tmp_path)
    edit(project / "migrations/versions/0002_create_agents_and_agent_versions.py",
         "def upgrade() -> None:\n", "def upgrade() -> None:\n    op.execute(\"SELECT pg_sleep(60)\")\n")
    before_servers, before_folders = _our_servers(), _scratch_folders()
    process = subprocess.Popen([sys.executable, "-m", "migration_check", "check", str(project)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen, deadline = "", time.monotonic() + 60
    while "reading the migrations" not in seen and time.monotonic() < deadline:
        seen += process.stderr.readline()
    time.sleep(0.5)
    assert _our_servers() - before_servers
    process.kill()
    process.wait()
    deadline = time.monotonic() + 15
    while _our_servers() - before_servers and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _our_servers() - before_servers == set(), "the server dies with the check (parent-death signal)"
    assert _scratch_folders() - before_folders, "SIGKILL allows no clean-up: the folder is still there"
    run = check(EXAMPLES / "clean", tmp_path=tmp_path)
    assert run.status == 0
    assert _scratch_folders() - before_folders == set(), "the next run removed the killed run's folder"
