"""Hands the scratch database's URL and the user's settings to the project through the process environment."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping

from migration_check.database import ScratchDatabase

PLACEHOLDER = re.compile(r"\{(host|port|user|password|database|url|plain_url|driver_url)\}")


def url_for_settings(database: ScratchDatabase, driver: str, configured_url: str | None) -> str:
    """The URL the project's variables get: plain postgresql:// (what settings that check the scheme accept, and
    what SQLAlchemy reads as psycopg2), unless the driver needs naming: another driver than psycopg2, and a
    project whose own URL names no driver is plain too."""
    configured = (configured_url or "").split("://", 1)[0]
    plain = driver == "psycopg2" or configured in ("postgresql", "postgres")
    return database.url(None if plain else driver).render_as_string(hide_password=False)


def database_fields(database: ScratchDatabase, url: str, driver_url: str | None = None) -> dict[str, str]:
    """What --env values may refer to as {host}, {port}, {user}, {password}, {database}, {url} (the form the
    URL variables get), {plain_url} (postgresql://) and {driver_url} (postgresql+driver://)."""
    return {
        "host": database.host,
        "port": str(database.port),
        "user": database.user,
        "password": database.password or "",
        "database": database.name,
        "url": url,
        "plain_url": database.url(None).render_as_string(hide_password=False),
        "driver_url": driver_url or url,
    }


def project_environment(
    database: ScratchDatabase, url: str, url_names: tuple[str, ...], user_values: tuple[tuple[str, str], ...],
    driver_url: str | None = None,
) -> dict[str, str]:
    """The variables the project sees: libpq's PG* variables, the URL under every name it may be read from, and
    the user's --env values with their placeholders filled in (settings that build the URL from parts)."""
    fields = database_fields(database, url, driver_url)
    values = {
        "PGHOST": database.host,
        "PGPORT": str(database.port),
        "PGUSER": database.user,
        "PGDATABASE": database.name,
    }
    if database.password:
        values["PGPASSWORD"] = database.password
    values.update({key: PLACEHOLDER.sub(lambda m: fields[m.group(1)], value) for key, value in user_values})
    values.update({name: url for name in url_names})
    return values


@contextlib.contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set variables for the duration of the run, and put back what was there before."""
    previous = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
