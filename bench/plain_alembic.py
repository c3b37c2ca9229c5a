"""Plain Alembic on one project, in a process of its own (a project's settings and models are modules that
must not leak into the next project's run), timed after the imports.

    python bench/plain_alembic.py PROJECT DATABASE_URL [--stairway N]

Prints JSON: {"up_down_up": seconds} and, with --stairway, {"stairway": seconds} for the round trip as one
command per step (`upgrade +1`, `downgrade -1`, `upgrade +1` per revision, then `downgrade base`, `upgrade head`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import time
from pathlib import Path

from alembic import command
from alembic.config import Config


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("project", type=Path)
    parser.add_argument("url", help="a fresh database for up/down/up")
    parser.add_argument("--stairway", metavar="URL", help="a second fresh database for the stairway")
    parser.add_argument("--count", type=int, default=0, help="the number of revisions, for the stairway")
    args = parser.parse_args()
    os.chdir(args.project)  # prepend_sys_path = . makes the project's own modules importable from here
    timings: dict[str, float] = {}
    with contextlib.redirect_stderr(io.StringIO()):  # the app style's logging prints every step
        for name, url in (("up_down_up", args.url), ("stairway", args.stairway)):
            if url is None:
                continue
            os.environ["DATABASE_URL"] = url  # the app styles read the URL from their settings
            config = Config(str(args.project / "alembic.ini"), stdout=io.StringIO())
            config.set_main_option("sqlalchemy.url", url)
            _clear_cached_settings()
            started = time.perf_counter()
            if name == "up_down_up":
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


def _clear_cached_settings() -> None:
    """The app styles cache their settings (functools.lru_cache), as services do; a new URL needs a new read."""
    with contextlib.suppress(ImportError):
        from app.settings import get_settings  # the generated project's module

        get_settings.cache_clear()


if __name__ == "__main__":
    main()
