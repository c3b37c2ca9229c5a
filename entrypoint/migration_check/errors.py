"""Why a check could not run.

Every error carries what the user needs to act on it: a message, the file and line where known, and the fix.
All of them end the run with exit status 2; findings (exit status 1) are not errors.
"""

from __future__ import annotations

from pathlib import Path

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_CANNOT_RUN = 2


class CheckError(Exception):
    """The check could not run. Subclasses say which part failed."""

    exit_status = EXIT_CANNOT_RUN
    kind = "error"

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        file: Path | str | None = None,
        line: int | None = None,
        detail: str | None = None,
        traceback: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.file = str(file) if file is not None else None
        self.line = line
        self.detail = detail
        self.traceback = traceback

    def render(self, verbose: bool = False) -> str:
        """One paragraph: where, what, and what to do."""
        where = ""
        if self.file:
            where = f"{self.file}:{self.line}: " if self.line else f"{self.file}: "
        text = f"migration-check: {self.kind}: {where}{self.message}\n  fix: {self.fix}"
        detail = self.traceback if verbose and self.traceback else self.detail
        if detail:
            indented = "\n".join("    " + line for line in detail.rstrip().splitlines())
            text += f"\n  detail:\n{indented}"
        if self.traceback and not verbose:
            text += "\n  (run with --verbose for the full traceback)"
        return text


class UsageError(CheckError):
    """A command-line flag, configuration file or project layout is wrong."""

    kind = "configuration error"


class ProjectLoadError(CheckError):
    """The project's env.py or a migration file cannot be loaded (syntax error, import error, missing module)."""

    kind = "project error"


class DatabaseUnavailable(CheckError):
    """No database to run on: the server would not start, or the given URL cannot be reached."""

    kind = "database error"


class Interrupted(CheckError):
    """Stopped by Ctrl-C or SIGTERM; everything started has been cleaned up."""

    kind = "interrupted"
    exit_status = 130  # the shell's convention for a run ended by a signal
