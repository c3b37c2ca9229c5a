"""When env.py cannot connect: say where it tried, where the scratch database is, and where the project wrote
the address it used (a settings default, a .env file), since that is what the user has to change."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL

# How the drivers say where they tried: psycopg and psycopg2, asyncpg (an OSError), pg8000.
_TRIED = [
    re.compile(r'connection to server at "(?P<host>[^"]+)"(?: \([^)]*\))?, port (?P<port>\d+) failed: (?P<why>[^\n]+)'),
    re.compile(r'connection to server on socket "(?P<socket>[^"]+)" failed: (?P<why>[^\n]+)'),
    re.compile(r"Connect call failed \('(?P<host>[^']+)', (?P<port>\d+)\)"),
    re.compile(r"Can't create a connection to host (?P<host>\S+) and port (?P<port>\d+)"),
]
_SKIPPED_FOLDERS = {"venv", "env", "node_modules", "__pycache__", "site-packages", "dist", "build"}
_READ_SUFFIXES = {".py", ".toml", ".ini", ".cfg", ".yml", ".yaml", ".json", ".env"}
MOST_FILES_READ = 3000
MOST_PLACES_SHOWN = 4


@dataclass(frozen=True)
class Attempt:
    where: str  # host:port, or the socket's path
    why: str
    host: str | None = None
    port: str | None = None


def attempt_in(texts: list[str]) -> Attempt | None:
    """Where the driver tried to connect, from its error messages (outermost first)."""
    for text in texts:
        for pattern in _TRIED:
            found = pattern.search(text)
            if not found:
                continue
            groups = found.groupdict()
            why = (groups.get("why") or "connection refused").strip()
            if groups.get("socket"):
                return Attempt(f"the unix socket {groups['socket']}", why)
            return Attempt(f"{groups['host']}:{groups['port']}", why, groups["host"], groups["port"])
    return None


def _project_files(folder: Path) -> Iterator[Path]:
    read = 0
    for current, folders, files in os.walk(folder):
        folders[:] = sorted(f for f in folders if f not in _SKIPPED_FOLDERS and not f.startswith("."))
        for name in sorted(files):
            path = Path(current, name)
            if path.suffix in _READ_SUFFIXES or name.startswith(".env"):
                read += 1
                if read > MOST_FILES_READ:
                    return
                yield path


def places_naming(attempt: Attempt, folder: Path, overridden: Path | None = None) -> list[str]:
    """file:line of the project's settings, .env files and environment variables that spell the address; not
    the Alembic configuration's sqlalchemy.url, which migration-check replaces."""
    if attempt.port is None:
        return []
    spelled = re.compile(rf"(?<![\d.]){re.escape(attempt.port)}(?!\d)")
    places: list[str] = []
    for name, value in sorted(os.environ.items()):
        if spelled.search(value) and ("://" in value or name.upper().endswith("PORT")):
            places.append(f"the environment variable {name}")
    for path in _project_files(folder):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            if path == overridden and line.strip().startswith("sqlalchemy.url"):
                continue
            if spelled.search(line) and ("://" in line or "port" in line.lower()):
                places.append(f"{path.relative_to(folder)}:{number}")
                break
        if len(places) >= MOST_PLACES_SHOWN:
            break
    return places[:MOST_PLACES_SHOWN]


def explain(texts: list[str], scratch: URL | None, folder: Path, overridden: Path | None = None) -> str | None:
    """A sentence for a failed connection of env.py's, or None when the errors do not say where it tried."""
    attempt = attempt_in(texts)
    if attempt is None:
        return None
    sentence = f"env.py tried to connect to {attempt.where} ({attempt.why.rstrip('.')})"
    if scratch is not None:
        sentence += (f", but the scratch database migration-check made for this check is {scratch.database} on "
                     f"{scratch.host}:{scratch.port}")
    places = places_naming(attempt, folder, overridden)
    if places:
        sentence += f". That address is written in {', '.join(places)}"
    return sentence + "."
