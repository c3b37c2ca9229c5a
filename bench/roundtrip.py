"""The round trip's cost on generated linear histories, against plain Alembic and pytest-alembic, on one
throwaway server (each run in a fresh database).

    python bench/roundtrip.py --sizes 50 200 800
    python bench/roundtrip.py --sizes 50 200 --pytest-alembic     # also pytest-alembic (pip install pytest-alembic)

- migration-check: `migration-check check --only apply,roundtrip --roundtrip full`; the figure is the report's
  `roundtrip` timing: the stairway (apply, downgrade, apply each revision, a catalog snapshot after each step),
  then down to base and up again (5 migration runs per revision). Python's start-up is not counted.
- plain Alembic, in-process (start-up not counted): `upgrade head`, `downgrade base`, `upgrade head`
  (3 migration runs per revision), and the same stairway as migration-check's as separate commands
  (`upgrade +1`, `downgrade -1`, `upgrade +1` per revision, then `downgrade base`, `upgrade head`).
- pytest-alembic: its test_up_down_consistency, the test's own duration as pytest --durations reports it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_history import generate

from migration_check.database import SERVER_USER, ThrowawayServer, find_server_binaries

CONFTEST = '''
import os

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def alembic_engine():
    return create_engine(os.environ["BENCH_DATABASE_URL"])
'''


def fresh_database(port: int) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", port=port, user=SERVER_USER, dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name


def url(port: int, database: str, driver: str = "psycopg") -> str:
    return f"postgresql+{driver}://{SERVER_USER}@127.0.0.1:{port}/{database}"


def migration_check(project: Path, port: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run([sys.executable, "-m", "migration_check", "check", str(project), "--quiet", "--only",
                        "apply,roundtrip", "--roundtrip", "full", "--driver", "psycopg", "--database-url",
                        f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres", "--report", str(report),
                        "--fail-on", "never"], check=True, capture_output=True)
        data = json.loads(report.read_text())
    assert data["findings"] == [], data["findings"]
    return float(data["timings"]["roundtrip"]) + float(data["timings"].get("to-base", 0))


def plain_alembic(project: Path, port: int, count: int, stairway: bool) -> tuple[float, float | None]:
    config = Config(str(project / "alembic.ini"), stdout=io.StringIO())
    config.set_main_option("sqlalchemy.url", url(port, fresh_database(port)))
    started = time.perf_counter()
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    up_down_up = time.perf_counter() - started
    if not stairway:
        return up_down_up, None
    config.set_main_option("sqlalchemy.url", url(port, fresh_database(port)))
    started = time.perf_counter()
    for _ in range(count):
        command.upgrade(config, "+1")
        command.downgrade(config, "-1")
        command.upgrade(config, "+1")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    stairway = time.perf_counter() - started
    return up_down_up, stairway


def pytest_alembic(project: Path, port: int) -> float:
    (project / "conftest.py").write_text(CONFTEST)
    (project / "test_migrations.py").write_text("from pytest_alembic.tests import test_up_down_consistency  # noqa\n")
    environ = {**os.environ, "BENCH_DATABASE_URL": url(port, fresh_database(port))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "test_migrations.py", "--durations=0",
                           "-p", "no:cacheprovider"],
                          cwd=project, env=environ, capture_output=True, text=True)
    match = re.search(r"([\d.]+)s call\s+\S*test_up_down_consistency", done.stdout)
    if done.returncode != 0 or not match:
        raise SystemExit(f"pytest-alembic failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--pytest-alembic", action="store_true")
    parser.add_argument("--no-stairway", action="store_true",
                        help="skip plain Alembic's one-command-per-step stairway (slow: minutes at 800)")
    args = parser.parse_args()
    server = ThrowawayServer(find_server_binaries(None))
    server.start()
    assert server.port is not None
    print("| revisions | migration-check round trip (s) | per revision (ms) | plain Alembic up/down/up (s) | "
          "ratio | plain Alembic stairway, one command per step (s) | pytest-alembic up/down (s) |")
    print("|---|---|---|---|---|---|---|")
    try:
        for count in args.sizes:
            with tempfile.TemporaryDirectory() as folder:
                project = generate(Path(folder) / f"history{count}", count)
                ours = migration_check(project, server.port)
                with contextlib.redirect_stderr(io.StringIO()):
                    plain, stairway = plain_alembic(project, server.port, count, not args.no_stairway)
                theirs = f"{pytest_alembic(project, server.port):.2f}" if args.pytest_alembic else "–"
                print(f"| {count} | {ours:.2f} | {1000 * ours / count:.1f} | {plain:.2f} | {ours / plain:.2f} | "
                      f"{'–' if stairway is None else f'{stairway:.2f}'} | {theirs} |", flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
