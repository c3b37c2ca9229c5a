"""When env.py cannot connect, or its settings will not load: say where it tried, where the scratch database is,
and where the project wrote the address it used (a settings default, a .env file); for settings that lack
values, the --env flags to pass. That is what the user has to change."""

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


def places_naming(attempt: Attempt, folder: Path, overridden: Path | None = None,
                  scratch: URL | None = None) -> list[str]:
    """file:line of the project's settings, .env files and environment variables that spell the address; not
    the Alembic configuration's sqlalchemy.url, which migration-check replaces."""
    if attempt.port is None:
        return []
    in_url = re.compile(rf":{re.escape(attempt.port)}(?!\d)")  # host:port in a URL
    alone = re.compile(rf"(?<![\w.:-]){re.escape(attempt.port)}(?![\w.-])")  # PORT = 5432, "port": 5432
    ours = f"{scratch.host}:{scratch.port}" if scratch is not None else None
    places: list[str] = []
    for name, value in sorted(os.environ.items()):
        if ours and ours in value:
            continue  # one migration-check set, pointing at the scratch database
        if in_url.search(value) or (name.upper().endswith("PORT") and value.strip() == attempt.port):
            places.append(f"the environment variable {name}")
    for path in _project_files(folder):
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        for number, line in enumerate(lines, 1):
            if path == overridden and line.strip().startswith("sqlalchemy.url"):
                continue
            if ("://" in line and in_url.search(line)) or ("port" in line.lower() and alone.search(line)):
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
    places = places_naming(attempt, folder, overridden, scratch)
    if places:
        sentence += f". That address is written in {', '.join(places)}"
    return sentence + "."


# What a settings field's name says it holds, for the placeholder to suggest.
_PART_OF_NAME = [
    (re.compile(r"URL|URI|DSN", re.IGNORECASE), "{url}"),
    (re.compile(r"HOST|SERVER", re.IGNORECASE), "{host}"),
    (re.compile(r"PORT", re.IGNORECASE), "{port}"),
    (re.compile(r"PASSWORD|PASS\b|PWD", re.IGNORECASE), "{password}"),
    (re.compile(r"USER", re.IGNORECASE), "{user}"),
    (re.compile(r"DB|DATABASE|NAME", re.IGNORECASE), "{database}"),
]


def _env_prefix(model_name: str, chain: list[BaseException]) -> str:
    """The env_prefix of the pydantic-settings class of that name, found in the frames the error passed through
    (its module failed to import, so it is not in sys.modules)."""
    for link in chain:
        trace = link.__traceback__
        while trace is not None:
            candidate = trace.tb_frame.f_globals.get(model_name)
            config = getattr(candidate, "model_config", None)
            if isinstance(candidate, type) and isinstance(config, dict):
                return str(config.get("env_prefix") or "")
            trace = trace.tb_next
    return ""


def missing_settings_flags(chain: list[BaseException]) -> str | None:
    """For a pydantic ValidationError that names missing fields: the --env flags that would give them, with a
    placeholder of the scratch database's where the name says which part it is."""
    for link in chain:
        errors = getattr(link, "errors", None)
        if type(link).__name__ != "ValidationError" or not callable(errors):
            continue
        try:
            missing = [str(error["loc"][0]) for error in errors()
                       if error.get("type") == "missing" and error.get("loc")]
        except Exception:  # not pydantic's after all
            continue
        if not missing:
            continue
        prefix = _env_prefix(str(getattr(link, "title", "")), chain)
        flags = []
        for name in missing:
            placeholder = next((value for pattern, value in _PART_OF_NAME if pattern.search(name)), "...")
            flags.append(f"--env {(prefix + name).upper()}={placeholder}")
        return " ".join(flags)
    return None
