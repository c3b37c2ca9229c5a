"""The volume stage's cost: how fast the tables fill, and what the stage adds to a pull-request check.

    python bench/volume.py --rows 100000 1000000 --runs 3

The project is the clean example (six tables: keys, foreign keys, an enum, JSON, timestamps) in a git repository,
with a change that adds one revision: a NOT NULL column with a volatile default, an integer-to-bigint type change,
a plain index and a column with `now()` as default. For each volume it runs `migration-check check --base-ref
main --only apply,volume --data-volume ROWS` (one process each, timed whole) and reads from the JSON report the
fill (rows, seconds) and the volume step's time; peak memory is the process's maximum RSS. Medians of --runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHANGE = '''"""add run tokens and seen_at, widen agent ids, index runs.started_at

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("runs", sa.Column("token", sa.Uuid(), nullable=False, server_default=sa.text("gen_random_uuid()")))
    op.add_column("runs", sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False,
                                    server_default=sa.text("now()")))
    op.alter_column("agents", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
    op.create_index("ix_runs_started_at", "runs", ["started_at"])


def downgrade():
    pass
'''


def git(cwd: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *arguments],
                   cwd=cwd, check=True, capture_output=True)


def project(folder: Path) -> Path:
    shutil.copytree(REPO / "examples" / "clean", folder, ignore=shutil.ignore_patterns("__pycache__"))
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "base")
    (folder / "migrations" / "versions" / "0004_change.py").write_text(CHANGE)
    return folder


def run_once(folder: Path, rows: int) -> dict[str, float]:
    report = folder / "report.json"
    command = [shutil.which("migration-check", path=str(Path(sys.executable).parent)) or "migration-check",
               "check", str(folder), "--quiet", "--base-ref", "main", "--only", "apply,volume", "--data-volume",
               str(rows), "--fail-on", "never", "--report", str(report)]
    errors = folder / "stderr.txt"
    began = time.perf_counter()
    with errors.open("wb") as sink:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=sink)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own peak RSS
    wall = time.perf_counter() - began
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors.read_text()[-3000:]}")
    data = json.loads(report.read_text())
    fill = data["volume"]["fill"]
    statements = [s for run in data["volume"]["revisions"] for s in run["statements"]]
    return {"wall": wall, "volume": data["timings"]["volume"], "fill": fill["seconds"],
            "rows": sum(fill["rows"].values()), "migration": sum(s["seconds"] for s in statements),
            "rss": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = [f"    python bench/volume.py --rows {' '.join(map(str, args.rows))} --runs {args.runs}", "",
             "| rows a table | rows filled | fill (s) | fill rate (rows/s) | the revision's statements (s) "
             "| volume step (s) | whole check (s) | peak RSS of the check (MB) |",
             "|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="migration-check-volume-bench-") as scratch:
        folder = project(Path(scratch) / "clean")
        for rows in args.rows:
            runs = [run_once(folder, rows) for _ in range(args.runs)]
            median = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(f"{rows}: {median}", file=sys.stderr)
            lines.append(f"| {rows:,} | {median['rows']:,.0f} | {median['fill']:.2f} | "
                         f"{median['rows'] / median['fill']:,.0f} | {median['migration']:.2f} | "
                         f"{median['volume']:.2f} | {median['wall']:.2f} | {median['rss']:.0f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
