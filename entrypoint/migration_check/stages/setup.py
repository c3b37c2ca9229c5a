"""Runs presets and --setup-sql files before the first migration: extensions, roles, stub schemas."""

from __future__ import annotations

from pathlib import Path

import psycopg

from migration_check.database import ScratchDatabase
from migration_check.errors import UsageError
from migration_check.presets import Preset


def _line_of(text: str, position: int | None) -> int | None:
    """PostgreSQL reports a 1-based character offset into the statement; turn it into a line number."""
    if not position:
        return None
    return text.count("\n", 0, position - 1) + 1


# psql's guards around a dump (pg_dump writes them since PostgreSQL 17.6 and 18.0): harmless without psql.
_DUMP_GUARDS = ("\\restrict", "\\unrestrict")


def _without_psql_guards(text: str) -> str:
    """The SQL, with pg_dump's \\restrict lines blanked, so that line numbers stay."""
    return "\n".join("" if line.split(" ")[0] in _DUMP_GUARDS else line for line in text.split("\n"))


def run_sql(database: ScratchDatabase, text: str, origin: Path | str) -> None:
    text = _without_psql_guards(text)
    with database.connect() as connection:
        try:
            connection.execute(text.encode("utf-8"))
        except psycopg.Error as exc:
            position = getattr(exc.diag, "statement_position", None)
            line = _line_of(text, int(position) if position else None)
            fix = "Fix the statement in the setup SQL file; it runs on an empty database before the first migration."
            if line is not None and text.split("\n")[line - 1].startswith("\\"):
                fix = ("That line is a psql meta-command, not SQL, and the setup SQL runs through a database driver, "
                       "not psql: remove it, or write what it does in SQL.")
            raise UsageError(f"The setup SQL failed: {str(exc).strip().splitlines()[0]}", fix=fix, file=origin,
                             line=line) from None


def run_setup(database: ScratchDatabase, preset: Preset | None, files: tuple[Path, ...]) -> int:
    """Run the preset first, then the files in the order given. Returns how many scripts ran."""
    if preset is not None:
        run_sql(database, preset.sql(), f"preset {preset.name}")
    for file in files:
        run_sql(database, file.read_text(encoding="utf-8"), file)
    return len(files) + (preset is not None)
