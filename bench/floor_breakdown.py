"""Where the round trip's floor goes: the bare migration runs of `--roundtrip full`, split into their parts, on
a generated history (bench/generate_history.py), with nothing read or compared.

    python bench/floor_breakdown.py --count 200 --style minimal --repeat 5

Columns, each the median of --repeat runs in a fresh database on one throwaway server:
- stairway: apply, downgrade, apply each revision in one pass of env.py (3 runs per revision);
- to base: then everything down to base (1 run per revision);
- stairway without version-table writes: the stairway again, with Alembic's per-step INSERT/UPDATE/DELETE of
  alembic_version replaced by its in-memory bookkeeping only. For measurement only: it tells how much of the
  floor is Alembic's own version-table maintenance, which any plan of this many runs pays.

Python's start-up and the loading of the revision files are not counted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic.runtime import migration

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_history import STYLES, generate
from plain_alembic import clear_cached_settings

from migration_check.alembic_runner import AlembicProject, Step
from migration_check.config import AlembicLocation
from migration_check.database import (
    IDENTITY_SQL,
    SERVER_USER,
    ThrowawayServer,
    find_server_binaries,
    identity_from,
)


def fresh_database(port: int) -> str:
    name = f"floor_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(host="127.0.0.1", port=port, user=SERVER_USER, dbname="postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name


@contextmanager
def version_table_in_memory() -> Iterator[None]:
    """Alembic's HeadMaintainer keeps its set of heads but writes nothing to alembic_version."""
    maintainer = migration.HeadMaintainer
    saved = (maintainer._insert_version, maintainer._delete_version, maintainer._update_version)

    def update(self: migration.HeadMaintainer, from_: str, to_: str) -> None:
        self.heads.remove(from_)
        self.heads.add(to_)

    maintainer._insert_version = lambda self, version: self.heads.add(version)  # type: ignore[method-assign]
    maintainer._delete_version = lambda self, version: self.heads.remove(version)  # type: ignore[method-assign]
    maintainer._update_version = update  # type: ignore[method-assign]
    try:
        yield
    finally:
        maintainer._insert_version, maintainer._delete_version, maintainer._update_version = saved


def one_run(project: Path, port: int, driver: str, write_versions: bool) -> tuple[float, float | None]:
    """Seconds for the stairway and, when the version table is written, for the pass down to base."""
    database = fresh_database(port)
    alembic = AlembicProject(AlembicLocation(project, project / "alembic.ini", None))
    with psycopg.connect(host="127.0.0.1", port=port, user=SERVER_USER, dbname=database) as connection:
        identity = identity_from(connection.execute(IDENTITY_SQL).fetchone())
    url = f"postgresql+{driver}://{SERVER_USER}@127.0.0.1:{port}/{database}"
    os.environ["DATABASE_URL"] = url  # the app style reads the URL from its settings
    clear_cached_settings()
    alembic.point_at(url, identity)
    order = alembic.ordered_revisions()  # loads the revision files before the clock starts
    stairway = [Step(revision, upgrade) for revision in order for upgrade in (True, False, True)]
    started = time.perf_counter()
    if write_versions:
        run = alembic.run_steps(stairway, lambda _index, _context, _failure: None)
    else:
        with version_table_in_memory():
            run = alembic.run_steps(stairway, lambda _index, _context, _failure: None)
    stairway_seconds = time.perf_counter() - started
    assert run.stopped is None and not run.recovered, run
    if not write_versions:  # alembic_version is empty: there is nothing to go down from
        return stairway_seconds, None
    started = time.perf_counter()
    run = alembic.run_steps([Step(revision, False) for revision in reversed(order)],
                                lambda _index, _context, _failure: None)
    assert run.stopped is None and not run.recovered, run
    return stairway_seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200, help="revisions in the generated history")
    parser.add_argument("--style", choices=[style for style in STYLES if style != "async-app"], default="minimal")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    server = ThrowawayServer(find_server_binaries(None))
    server.start()
    assert server.port is not None
    # The server asks TCP logins for its password; libpq and asyncpg read it from here, so the URLs below and
    # those of the check's subprocesses need none.
    os.environ["PGPASSWORD"] = server.password
    try:
        with tempfile.TemporaryDirectory() as folder:
            project = generate(Path(folder), args.count, args.style)
            sys.path.insert(0, str(project))  # the app style's settings and models
            with_versions = [one_run(project, server.port, "psycopg", True) for _ in range(args.repeat)]
            without = [one_run(project, server.port, "psycopg", False)[0] for _ in range(args.repeat)]
    finally:
        server.close()
    stairway = statistics.median(run[0] for run in with_versions)
    to_base = statistics.median(run[1] or 0.0 for run in with_versions)
    bare = statistics.median(without)
    print("| project | revisions | stairway (s) | to base (s) | floor (s) "
          "| stairway without version-table writes (s) | version table's share of the stairway |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.style} | {args.count} | {stairway:.2f} | {to_base:.2f} | {stairway + to_base:.2f} "
          f"| {bare:.2f} | {100 * (stairway - bare) / stairway:.0f}% |")


if __name__ == "__main__":
    main()
