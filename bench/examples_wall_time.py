"""Wall time of `migration-check check` on each example, end to end (Python start-up included), and the
per-step timings the report records.

    python bench/examples_wall_time.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "clean": [],
    "drift": [],
    "async-env": [],
    "pyproject-config": [],
    "settings-env": ["--url-env", "APP_DATABASE_URL", "--env", "APP_SECRET_KEY=x"],
    "supabase": ["--preset", "supabase"],
    "failing-migration": [],
}
STEPS = ("database", "upgrade", "compare")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"| example | exit | wall (s) | {' | '.join(STEPS)} |")
    print("|---|---|---|---|---|---|")
    for name, flags in EXAMPLES.items():
        walls: list[float] = []
        steps: dict[str, list[float]] = {}
        status = None
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as folder:
                report = Path(folder) / "report.json"
                began = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "migration_check", "check", str(REPO / "examples" / name),
                                       "--quiet", "--report", str(report), *flags], capture_output=True, cwd=REPO)
                walls.append(time.perf_counter() - began)
                status = done.returncode
                for step, seconds in json.loads(report.read_text())["timings"].items():
                    steps.setdefault(step, []).append(seconds)
        cells = [f"{statistics.median(steps[s]):.2f}" if s in steps else "–" for s in STEPS]
        print(f"| {name} | {status} | {statistics.median(walls):.2f} | {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
