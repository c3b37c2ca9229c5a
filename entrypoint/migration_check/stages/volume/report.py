"""What the volume stage saw, revision by revision, and the per-revision table the reporters show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from migration_check.config import DEFAULT_VOLUME_ROWS
from migration_check.stages.volume.fill import Filled
from migration_check.stages.volume.observe import BLOCKS, SHOWN_MODE, Statement


@dataclass
class RevisionRun:
    revision: str
    file: str | None
    seconds: float
    statements: list[Statement] = field(default_factory=list)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"revision": self.revision, "file": self.file, "seconds": round(self.seconds, 4), "error": self.error,
                "statements": [statement.as_json() for statement in self.riskiest_first()]}

    def riskiest_first(self) -> list[Statement]:
        return sorted(self.statements, key=lambda statement: statement.risk, reverse=True)


@dataclass
class VolumeReport:
    """What the stage filled and saw: the report's per-revision tables come from it."""

    filled: Filled
    revisions: list[RevisionRun] = field(default_factory=list)
    default_rows: int = DEFAULT_VOLUME_ROWS
    estimated: bool = False  # times were scaled to real table sizes
    # how the database got to the base's head: "downgraded" through the new revisions (proved exact by the round
    # trip), or "rebuilt" (made anew, the base's revisions applied)
    base_reached_by: str = "rebuilt"

    def as_json(self) -> dict[str, Any]:
        return {"default_rows": self.default_rows, "fill": self.filled.as_json(), "estimated": self.estimated,
                "base_reached_by": self.base_reached_by,
                "revisions": [run.as_json() for run in self.revisions]}


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"



# -- the per-revision table, for the reporters ------------------------------------------------------------------

TABLE_HEADER = ("statement", "lock held", "blocks", "rewrite", "table rows", "time")


def statement_rows(run: RevisionRun, estimated: bool) -> list[tuple[str, ...]]:
    """One row per statement, riskiest first: the cells of TABLE_HEADER."""
    rows = []
    for statement in run.riskiest_first():
        worked = {table: statement.rows_read.get(table, 0) + statement.rows_written.get(table, 0)
                  for table in statement.table_rows}
        strongest = max(statement.locks.items(), default=None,
                        key=lambda item: (item[0] in statement.rewritten, item[1] in BLOCKS,
                                          item[1] == "AccessExclusiveLock", worked.get(item[0], 0)))
        lock = f"{SHOWN_MODE.get(strongest[1], strongest[1])} on {strongest[0]}" if strongest else "–"
        blocked = sorted({what for table, waits in statement.blocked.items() for what in waits})
        rewrite = ", ".join(statement.rewritten) if statement.rewritten else "no"
        main = strongest[0] if strongest else max(worked, key=lambda table: worked[table], default=None)
        rows_cell = f"{statement.table_rows[main]:,}" if main and statement.table_rows.get(main) else "–"
        time_cell = format_time(statement.seconds)
        if estimated and statement.estimated_seconds is not None:
            time_cell += f" (≈ {format_time(statement.estimated_seconds)} at real size, estimate)"
        if statement.error:
            time_cell += " — failed"
        rows.append((" ".join(statement.sql.split()), lock, " and ".join(blocked) or "–", rewrite,
                     rows_cell, time_cell))
    return rows
