"""Plain Alembic on one project, in a process of its own (a project's settings and models are modules that
must not leak into the next project's run), timed after the imports.

    python bench/plain_alembic.py PROJECT DATABASE_URL [--stairway N]

Prints JSON: {"up_down_up": seconds}; with --stairway, {"stairway": seconds} for the round trip as one
command per step (`upgrade +1`, `downgrade -1`, `upgrade +1` per revision, then `downgrade base`, `upgrade head`);
with --floor, {"floor": seconds} for the migration runs of migration-check's full round trip (apply, downgrade,
apply each revision, then everything down to base) in one pass of env.py each, as migration-check runs them, but
with nothing read or compared: what any round trip of that plan costs in Alembic and PostgreSQL alone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

# imported before any timing starts, like Alembic's own modules
from migration_check.alembic_runner import AlembicProject, Step
from migration_check.config import AlembicLocation
from migration_check.database import IDENTITY_SQL, identity_from


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("url", help="a fresh database for up/down/up")
    parser.add_argument("--stairway", metavar="URL", help="a second fresh database for the stairway")
    parser.add_argument("--count", type=int, default=0, help="the number of revisions, for the stairway")
    parser.add_argument("--floor", metavar="URL", help="a third fresh database for the floor")
    args = parser.parse_args()
    os.chdir(args.project)  # prepend_sys_path = . makes the project's own modules importable from here
    timings: dict[str, float] = {}
    with contextlib.redirect_stderr(io.StringIO()):  # the app style's logging prints every step
        for name, url in (("up_down_up", args.url), ("stairway", args.stairway), ("floor", args.floor)):
            if url is None:
                continue
            os.environ["DATABASE_URL"] = url  # the app styles read the URL from their settings
            config = Config(str(args.project / "alembic.ini"), stdout=io.StringIO())
            config.set_main_option("sqlalchemy.url", url)
            clear_cached_settings()
            started = time.perf_counter()
            if name == "floor":
                _floor(args.project, url)
            elif name == "up_down_up":
                command.upgrade(config, "head")
                command.downgrade(config, "base")
                command.upgrade(config, "head")
            else:
                for _ in range(args.count):
                    command.upgrade(config, "+1")
                    command.downgrade(config, "-1")
                    command.upgrade(config, "+1")
                command.downgrade(config, "base")
                command.upgrade(config, "head")
            timings[name] = time.perf_counter() - started
    print(json.dumps(timings))


def _floor(project: Path, url: str) -> None:
    """migration-check's own runner, with an observer that does nothing."""
    alembic = AlembicProject(AlembicLocation(project, project / "alembic.ini", None))
    with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)) as c:
        identity = identity_from(c.execute(IDENTITY_SQL).fetchone())
    alembic.point_at(url, identity)  # as the check does: its guard is part of the cost
    order = alembic.ordered_revisions()
    stairway = [Step(revision, upgrade) for revision in order for upgrade in (True, False, True)]
    for plan in (stairway, [Step(revision, False) for revision in reversed(order)]):
        run = alembic.run_steps(plan, lambda _index, _context, _failure: None)
        assert run.stopped is None and not run.recovered, run


def clear_cached_settings() -> None:
    """The app styles cache their settings (functools.lru_cache), as services do; a new URL needs a new read."""
    with contextlib.suppress(ImportError):
        from app.settings import get_settings  # the generated project's module

        get_settings.cache_clear()


if __name__ == "__main__":
    main()
