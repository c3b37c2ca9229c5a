"""Hands the scratch database's URL and the user's settings to the project through the process environment."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping

from migration_check.database import ScratchDatabase

PLACEHOLDER = re.compile(r"\{(host|port|user|password|database|url)\}")


def database_fields(database: ScratchDatabase, url: str) -> dict[str, str]:
    """What --env values may refer to as {host}, {port}, {user}, {password}, {database} and {url}."""
    return {
        "host": database.host,
        "port": str(database.port),
        "user": database.user,
        "password": database.password or "",
        "database": database.name,
        "url": url,
    }


def project_environment(
    database: ScratchDatabase, url: str, url_names: tuple[str, ...], user_values: tuple[tuple[str, str], ...]
) -> dict[str, str]:
    """The variables the project sees: libpq's PG* variables, the URL under every name it may be read from, and
    the user's --env values with their placeholders filled in (settings that build the URL from parts)."""
    fields = database_fields(database, url)
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
