"""The round trip's cost on generated linear histories, against plain Alembic and pytest-alembic, on one
throwaway server (each run in a fresh database).

    python bench/roundtrip.py --sizes 50 200 800
    python bench/roundtrip.py --sizes 50 200 --pytest-alembic     # also pytest-alembic (pip install pytest-alembic)
    python bench/roundtrip.py --styles app --sizes 200            # one kind of project only

Every figure is the median of --repeat runs (3 by default), each in a fresh database.

The same history is wrapped in three kinds of project (bench/generate_history.py): `minimal` (a bare env.py,
pytest-alembic's best case), `app` (`alembic init`'s env.py with logging, settings and models, and
pytest-alembic's recipe) and `async-app` (the same on asyncpg).

- migration-check: `migration-check check --only apply,roundtrip --roundtrip full`; the figure is the report's
  `roundtrip` plus `to-base` timings: the stairway (apply, downgrade, apply each revision, the schema checked
  after each step), then down to base (4 migration runs per revision). Python's start-up is not counted.
- plain Alembic, in a process of its own, imports not counted (bench/plain_alembic.py): `upgrade head`,
  `downgrade base`, `upgrade head` (3 migration runs per revision), and, unless --no-stairway, the same stairway
  as migration-check's as separate commands.
- floor: migration-check's migration runs (the stairway, then down to base) through its own runner with
  nothing read or compared (bench/plain_alembic.py --floor): the least any round trip of that plan can cost.
- pytest-alembic: its test_up_down_consistency, the test's own duration as pytest --durations reports it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_history import STYLES, generate

from migration_check.database import SERVER_USER, ThrowawayServer, find_server_binaries

CONFTEST = """
import os

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def alembic_engine():
    return create_engine(os.environ["BENCH_DATABASE_URL"])
"""

# pytest-alembic's asyncio set-up, as its documentation shows it: an AsyncEngine for the async env.py (which
# runs each step in an event loop of its own, asyncio.run, and disposes of the engine's connections at the end).
ASYNC_CONFTEST = """
import os

import pytest
from sqlalchemy.ext.asyncio import create_async_engine


@pytest.fixture
def alembic_engine():
    return create_async_engine(os.environ["BENCH_DATABASE_URL"])
"""


def driver_of(style: str) -> str:
    return "asyncpg" if style == "async-app" else "psycopg"


def fresh_database(port: int) -> str:
    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", port=port, user=SERVER_USER, dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name


def url(port: int, database: str, driver: str = "psycopg") -> str:
    return f"postgresql+{driver}://{SERVER_USER}@127.0.0.1:{port}/{database}"


def migration_check(project: Path, port: int, style: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run([sys.executable, "-m", "migration_check", "check", str(project), "--quiet", "--only",
                        "apply,roundtrip", "--roundtrip", "full", "--driver", driver_of(style), "--database-url",
                        f"postgresql://{SERVER_USER}@127.0.0.1:{port}/postgres", "--report", str(report),
                        "--fail-on", "never"], check=True, capture_output=True)
        data = json.loads(report.read_text())
    assert data["findings"] == [], data["findings"]
    return float(data["timings"]["roundtrip"]) + float(data["timings"].get("to-base", 0))


def plain_alembic(
    project: Path, port: int, count: int, style: str, stairway: bool
) -> tuple[float, float | None, float]:
    command = [sys.executable, str(Path(__file__).with_name("plain_alembic.py")), str(project),
               url(port, fresh_database(port), driver_of(style))]
    if stairway:
        command += ["--stairway", url(port, fresh_database(port), driver_of(style)), "--count", str(count)]
    command += ["--floor", url(port, fresh_database(port), driver_of(style))]
    timings = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return timings["up_down_up"], timings.get("stairway"), timings["floor"]


def pytest_alembic(project: Path, port: int, style: str) -> float:
    (project / "conftest.py").write_text(ASYNC_CONFTEST if style == "async-app" else CONFTEST)
    (project / "test_migrations.py").write_text("from pytest_alembic.tests import test_up_down_consistency  # noqa\n")
    database_url = url(port, fresh_database(port), driver_of(style))
    environ = {**os.environ, "BENCH_DATABASE_URL": database_url, "DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "test_migrations.py", "--durations=0",
                           "-p", "no:cacheprovider"],
                          cwd=project, env=environ, capture_output=True, text=True)
    match = re.search(r"([\d.]+)s call\s+\S*test_up_down_consistency", done.stdout)
    if done.returncode != 0 or not match:
        raise SystemExit(f"pytest-alembic failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")
    return float(match.group(1))


def measure(project: Path, port: int, count: int, style: str,
            args: argparse.Namespace) -> tuple[float, float, float, float | None, float | None]:
    """One run of each on a project: migration-check, floor, plain up/down/up, plain stairway, pytest-alembic."""
    ours = migration_check(project, port, style)
    plain, stairway, floor = plain_alembic(project, port, count, style, not args.no_stairway)
    theirs = pytest_alembic(project, port, style) if args.pytest_alembic else None
    return ours, floor, plain, stairway, theirs


def median_of(values: list[float | None]) -> float | None:
    known = [value for value in values if value is not None]
    return statistics.median(known) if known else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--styles", nargs="+", choices=STYLES, default=list(STYLES),
                        help="the kinds of project around the history (see bench/generate_history.py)")
    parser.add_argument("--pytest-alembic", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the table shows medians")
    parser.add_argument("--no-stairway", action="store_true",
                        help="skip plain Alembic's one-command-per-step stairway (slow: minutes at 800)")
    args = parser.parse_args()
    server = ThrowawayServer(find_server_binaries(None))
    server.start()
    assert server.port is not None
    # The server asks TCP logins for its password; libpq and asyncpg read it from here, so the URLs below and
    # those of the check's subprocesses need none.
    os.environ["PGPASSWORD"] = server.password
    print("| project | revisions | migration-check round trip (s) | per revision (ms) | floor: the same runs, "
          "nothing checked (s) | plain Alembic up/down/up (s) | ratio | plain Alembic stairway, one command per step "
          "(s) | pytest-alembic up/down (s) | pytest-alembic ÷ migration-check | pytest-alembic ÷ floor |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    try:
        for style in args.styles:
            for count in args.sizes:
                with tempfile.TemporaryDirectory() as folder:
                    project = generate(Path(folder) / f"history{count}", count, style)
                    runs = [measure(project, server.port, count, style, args) for _ in range(args.repeat)]
                ours, floor, plain, stairway, theirs = (median_of([run[i] for run in runs]) for i in range(5))
                cells = [style, str(count), f"{ours:.2f}", f"{1000 * ours / count:.1f}", f"{floor:.2f}",
                         f"{plain:.2f}", f"{ours / plain:.2f}", "–" if stairway is None else f"{stairway:.2f}",
                         "–" if theirs is None else f"{theirs:.2f}",
                         "–" if theirs is None else f"{theirs / ours:.1f}",
                         "–" if theirs is None else f"{theirs / floor:.1f}"]
                print("| " + " | ".join(cells) + " |", flush=True)
    finally:
        server.close()


if __name__ == "__main__":
    main()
