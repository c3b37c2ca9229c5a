"""Helpers shared by the tests: run the real CLI in a subprocess, and prove it left nothing behind."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"

# Every check the tests start keeps its temporary folders in this session's own folder (MIGRATION_CHECK_TMPDIR,
# inherited by each subprocess), so the leftovers counted are this session's, not those of a check run beside the
# suite. On /dev/shm where it has room, as the tool itself would choose.
_SHM = Path("/dev/shm")
_PARENT = _SHM if _SHM.is_dir() and shutil.disk_usage(_SHM).free >= 512 * 1024 * 1024 else Path(tempfile.gettempdir())
SCRATCH_ROOT = _PARENT / f"mc-tests-{os.getpid()}"
os.environ["MIGRATION_CHECK_TMPDIR"] = str(SCRATCH_ROOT)
# The servers' initdb template is this session's too (made by its first server), not the user's cache.
os.environ["MIGRATION_CHECK_CACHE"] = str(SCRATCH_ROOT / "cache")


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    """A throwaway server of the test module's own: the "other server" that --database-url and the access
    tests use."""
    from migration_check.database import ThrowawayServer, find_server_binaries

    running = ThrowawayServer(find_server_binaries(None))
    running.start()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="session", autouse=True)
def scratch_root() -> Iterator[Path]:
    SCRATCH_ROOT.mkdir(exist_ok=True)
    try:
        yield SCRATCH_ROOT
    finally:
        shutil.rmtree(SCRATCH_ROOT, ignore_errors=True)


@dataclass
class Run:
    status: int
    stdout: str
    stderr: str
    report: dict[str, Any] | None

    def rules(self) -> list[str]:
        assert self.report is not None, self.stderr
        return [finding["rule"] for finding in self.report["findings"]]


def _scratch_folders() -> set[Path]:
    return set(SCRATCH_ROOT.glob("migration-check-*")) if SCRATCH_ROOT.is_dir() else set()


def _our_servers() -> set[int]:
    """PIDs of postgres processes whose data folder is in this test session's folder."""
    pids = set()
    mark = str(SCRATCH_ROOT).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"postgres") and any(mark in a for a in cmdline):
            pids.add(int(entry.name))
    return pids


@pytest.fixture
def no_leftovers() -> Iterator[None]:
    """Fail the test if it leaves a throwaway server or its folder behind."""
    folders, servers = _scratch_folders(), _our_servers()
    yield
    assert _our_servers() - servers == set(), "a throwaway PostgreSQL server was left running"
    assert _scratch_folders() - folders == set(), "a migration-check temporary folder was left behind"


def run_cli(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
            report: Path | None = None, timeout: float = 180) -> Run:
    command = [sys.executable, "-m", "migration_check", *map(str, args)]
    if report is not None:
        command += ["--report", str(report)]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(command, capture_output=True, text=True, cwd=cwd or REPO, env=full_env, timeout=timeout)
    data = json.loads(report.read_text()) if report is not None and report.exists() else None
    return Run(done.returncode, done.stdout, done.stderr, data)


def check(project: Path | str, *args: str | Path, tmp_path: Path, **kwargs: Any) -> Run:
    return run_cli("check", project, "--quiet", *args, report=tmp_path / "report.json", **kwargs)


def copy_example(name: str, destination: Path) -> Path:
    """Copy an example, and the clean example beside it, since several examples take parts of theirs from it."""
    for needed in {name, "clean"}:
        if not (destination / needed).exists():
            shutil.copytree(EXAMPLES / needed, destination / needed, ignore=shutil.ignore_patterns("__pycache__"))
    return destination / name


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
