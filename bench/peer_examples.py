"""Runs migration-check on every example project of pytest-alembic's repository and sets our verdict beside
the outcome that pytest-alembic's own tests assert for it (tests/test_runner.py: which examples fail).

    python bench/peer_examples.py PATH/TO/pytest-alembic [--markdown]

The peer's examples that fail by design; all the others pass in its suite.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

PEER_FAILS = {
    "test_process_revision_directives", "test_experimental_all_models_register_failure",
    "test_experimental_all_models_register_no_metadata", "test_consistency_doesnt_roundtrip",
    "test_downgrade_leaves_no_trace_failure", "test_failing_downgrade",
}
VERDICTS = {0: "pass", 1: "fail (findings)", 2: "fail (cannot run)"}


def run(example: Path, reports: Path) -> tuple[int, Counter[str], str]:
    report = reports / f"{example.name}.json"
    done = subprocess.run([sys.executable, "-m", "migration_check", "check", ".", "--quiet", "--report",
                           str(report)], cwd=example, capture_output=True, text=True, timeout=600)
    if report.is_file() and report.stat().st_size:
        findings = json.loads(report.read_text())["findings"]
        return done.returncode, Counter(f"{f['rule']} ({f['severity'][0]})" for f in findings), ""
    message = next((line for line in done.stderr.splitlines() if line.startswith("migration-check:")), "")
    return done.returncode, Counter(), message.replace(f"{example}/", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", type=Path, help="a checkout of schireson/pytest-alembic")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    arguments = parser.parse_args()
    examples = sorted(p for p in (arguments.peer / "examples").iterdir() if p.is_dir())
    agree = 0
    rows = []
    with tempfile.TemporaryDirectory() as reports:
        for example in examples:
            status, rules, message = run(example, Path(reports))
            peer = "fail" if example.name in PEER_FAILS else "pass"
            ours = VERDICTS.get(status, f"exit {status}")
            same = (peer == "pass") == (status == 0)
            agree += same
            found = ", ".join(f"{rule} ×{count}" if count > 1 else rule for rule, count in sorted(rules.items()))
            rows.append((example.name.removeprefix("test_"), peer, ours, "yes" if same else "**no**",
                         found or message.removeprefix("migration-check: ")[:120]))
    if arguments.markdown:
        print("| example | pytest-alembic | migration-check | same verdict | findings (e error, w warning, n notice) |")
        print("|---|---|---|---|---|")
        for row in rows:
            print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    else:
        for row in rows:
            print("  ".join(row))
    print(f"\n{agree} of {len(rows)} verdicts agree")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
