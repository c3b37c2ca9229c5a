"""Which database driver env.py gets. We keep the project's own, because env.py may build an async engine (it
then needs asyncpg or psycopg) and the project's code may import the driver it uses."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy.engine import make_url

from migration_check.config import DRIVERS

# An async engine, however env.py gets it (also from the project's own helper): awaiting run_sync, async with,
# an event loop run, or AnyIO's worker-thread hand-back.
ASYNC_ENV_PATTERN = re.compile(r"async_engine_from_config|create_async_engine|AsyncEngine|asyncio\.run|"
                               r"run_until_complete|\.run_sync\(|\basync with\b|\banyio\.run\b|from_thread\b|"
                               r"run_async_from_worker_thread")


def _installed(driver: str) -> bool:
    return importlib.util.find_spec(driver) is not None


def driver_of(url: str | None) -> str | None:
    """The driver a URL names; None for placeholders such as driver://user:pass@localhost/dbname."""
    if not url:
        return None
    try:
        parsed = make_url(url)
    except Exception:
        return None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in ("postgresql", "postgres"):
        return None
    return driver if driver in DRIVERS else None


def env_py_is_async(env_py: Path) -> bool:
    try:
        return bool(ASYNC_ENV_PATTERN.search(env_py.read_text(encoding="utf-8")))
    except OSError:
        return False


def choose_driver(explicit: str | None, project_urls: Iterable[str | None], env_py: Path) -> tuple[str, str]:
    """The driver to use, and why: --driver, else the project's configured URL, else what env.py needs."""
    if explicit:
        return explicit, "--driver"
    for url in project_urls:
        found = driver_of(url)
        if found:
            return found, "the project's configured URL"
    if env_py_is_async(env_py):
        preferred: tuple[str, ...] = ("asyncpg", "psycopg")
        reason = "env.py uses an async engine"
    else:
        preferred = ("psycopg2", "psycopg", "pg8000")
        reason = "installed driver"
    for driver in preferred:
        if _installed(driver):
            return driver, reason
    return preferred[-1] if env_py_is_async(env_py) else "psycopg", reason
