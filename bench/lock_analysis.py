"""Observed against static: the volume stage and Squawk on the same classic risky operations.

    python bench/lock_analysis.py --rows 100000 --servers 15 16 18 --write docs/lock-analysis.md

For each operation, a project whose base revision creates `accounts` and `events` and whose change adds one
revision doing the operation is checked with `migration-check check --base-ref main --only apply,volume
--data-volume ROWS`, on each server major found (Debian's PostgreSQL 15 with `--postgres-bin`, PostgreSQL 16 from
the pgserver wheel, the embedded 18). The statements the check captured (the SQL Alembic really sent) are then
given to Squawk (`pip install squawk-cli`), whose rules read the SQL text alone. The table says, per operation,
what was observed (rewrite, the strongest lock held, what it blocked, rows scanned, time) and what Squawk said.
Squawk's rules that fire on every DDL statement whatever it does (require-lock-timeout, require-statement-timeout,
prefer-robust-stmts) and its type-style advice (prefer-timestamp-tz...) are left out of the comparison: they say
nothing about what the operation does to the table.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

BEGIN, END = "<!-- lock-analysis:begin -->", "<!-- lock-analysis:end -->"
# Squawk's rules that are not about what the operation does to the table: timeouts and idempotence asked of every
# DDL statement, and type-style advice (prefer timestamptz, bigint, identity, text)
GENERIC = {"require-lock-timeout", "require-statement-timeout", "prefer-robust-stmts", "prefer-bigint-over-int",
           "prefer-bigint-over-smallint", "prefer-identity", "prefer-text-field", "prefer-timestamp-tz",
           "prefer-timestamptz", "transaction-nesting"}

BASE = '''"""create accounts and events

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("accounts", sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("email", sa.String(100), nullable=False))
    op.execute("CREATE TYPE event_kind AS ENUM ('click', 'view')")
    op.create_table("events", sa.Column("id", sa.Integer(), nullable=False),
                    sa.Column("account_id", sa.Integer(), nullable=False),
                    sa.Column("name", sa.String(100), nullable=True),
                    sa.Column("body", sa.Text(), nullable=True),
                    sa.Column("kind", sa.Enum("click", "view", name="event_kind", create_type=False), nullable=True),
                    sa.Column("score", sa.Integer(), nullable=True))


def downgrade():
    op.drop_table("events")
    op.drop_table("accounts")
    op.execute("DROP TYPE event_kind")
'''

CHANGE = '''"""{message}

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
{body}


def downgrade():
    pass
'''

ENV = '''from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
with engine_from_config(config.get_section(config.config_ini_section), poolclass=pool.NullPool).connect() as c:
    context.configure(connection=c, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
'''

# (name, the operation in Alembic code)
OPERATIONS: list[tuple[str, str]] = [
    ("add a column with a volatile default", 'op.add_column("events", sa.Column("token", sa.Uuid(), nullable=False, '
                                             'server_default=sa.text("gen_random_uuid()")))'),
    ("add a column with a stable default (now())", 'op.add_column("events", sa.Column("seen", sa.DateTime(), '
                                                   'nullable=False, server_default=sa.text("now()")))'),
    ("set NOT NULL", 'op.alter_column("events", "name", nullable=False, existing_type=sa.String(100))'),
    ("add a foreign key", 'op.create_foreign_key("fk_events_account", "events", "accounts", ["account_id"], ["id"])'),
    ("add a foreign key NOT VALID", 'op.create_foreign_key("fk_events_account", "events", "accounts", '
                                    '["account_id"], ["id"], postgresql_not_valid=True)'),
    ("create an index", 'op.create_index("ix_events_score", "events", ["score"])'),
    ("create an index CONCURRENTLY", 'with op.get_context().autocommit_block():\n        op.create_index('
                                     '"ix_events_score", "events", ["score"], postgresql_concurrently=True)'),
    ("change a column's type (int to bigint)", 'op.alter_column("events", "score", type_=sa.BigInteger(), '
                                               'existing_type=sa.Integer())'),
    ("add an enum value", 'op.execute("ALTER TYPE event_kind ADD VALUE \'purchase\'")'),
    ("rename a column", 'op.alter_column("events", "body", new_column_name="content")'),
    ("add a primary key", 'op.create_primary_key("pk_events", "events", ["id"])'),
    ("add a unique constraint", 'op.create_unique_constraint("uq_events_id", "events", ["id"])'),
    ("drop a column", 'op.drop_column("events", "body")'),
    ("widen a VARCHAR (100 to 200)", 'op.alter_column("events", "name", type_=sa.String(200), '
                                     'existing_type=sa.String(100))'),
    ("narrow a VARCHAR (100 to 50)", 'op.alter_column("events", "name", type_=sa.String(50), '
                                     'existing_type=sa.String(100))'),
    ("add a check constraint", 'op.create_check_constraint("ck_events_score", "events", "score >= 0")'),
    ("add a check constraint NOT VALID", 'op.create_check_constraint("ck_events_score", "events", "score >= 0", '
                                         'postgresql_not_valid=True)'),
    ("text to VARCHAR", 'op.alter_column("events", "body", type_=sa.String(200), existing_type=sa.Text())'),
    ("VARCHAR to text", 'op.alter_column("events", "name", type_=sa.Text(), existing_type=sa.String(100))'),
    ("backfill with one UPDATE", 'op.execute("UPDATE events SET score = 0 WHERE score IS NULL OR score > 0")'),
]


def git(cwd: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *arguments],
                   cwd=cwd, check=True, capture_output=True)


def make_project(folder: Path, message: str, body: str) -> Path:
    (folder / "migrations" / "versions").mkdir(parents=True)
    (folder / "alembic.ini").write_text("[alembic]\nscript_location = migrations\n"
                                        "sqlalchemy.url = postgresql+psycopg://u:p@localhost/db\n")
    (folder / "migrations" / "env.py").write_text(ENV)
    (folder / "migrations" / "versions" / "0001_base.py").write_text(BASE)
    git(folder, "init", "-q", "-b", "main")
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", "base")
    (folder / "migrations" / "versions" / "0002_change.py").write_text(
        CHANGE.format(message=message, body=textwrap.indent(body, "    ")))
    return folder


def servers(wanted: list[str]) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {"18": None}
    if Path("/usr/lib/postgresql/15/bin/postgres").is_file():
        found["15"] = Path("/usr/lib/postgresql/15/bin")
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin:
        found["16"] = Path(spec.origin).parent / "pginstall" / "bin"
    return {major: found[major] for major in wanted if major in found}


def observe(project: Path, rows: int, binaries: Path | None) -> dict[str, object]:
    report = project / "report.json"
    command = [shutil.which("migration-check", path=str(Path(sys.executable).parent)) or "migration-check",
               "check", str(project), "--quiet", "--base-ref", "main", "--only", "apply,volume", "--data-volume",
               str(rows), "--fail-on", "never", "--format", "json", "--report", str(report)]
    if binaries is not None:
        command += ["--postgres-bin", str(binaries)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    data = json.loads(report.read_text())
    statements = [s for run in (data["volume"] or {"revisions": []})["revisions"] for s in run["statements"]
                  if s["revision"] == "0002"]
    findings = sorted({f["rule"] for f in data["findings"]})
    return {"statements": statements, "findings": findings, "version": data["server"]["version"]}


def squawk(statements: list[dict[str, object]], folder: Path) -> tuple[list[str], list[str]]:
    """Squawk's rules on the captured SQL: (the operation's rules, the generic ones)."""
    sql = folder / "captured.sql"
    sql.write_text("".join(f"{statement['sql']};\n" for statement in statements))
    done = subprocess.run([shutil.which("squawk", path=str(Path(sys.executable).parent)) or "squawk",
                           "--reporter", "json", str(sql)], capture_output=True, text=True)
    rules = sorted({violation["rule_name"] for violation in json.loads(done.stdout or "[]")})
    return [rule for rule in rules if rule not in GENERIC], [rule for rule in rules if rule in GENERIC]


def summary(statements: list[dict[str, object]]) -> dict[str, object]:
    strongest, blocks, rewrite, scanned, seconds = "–", set(), False, 0, 0.0
    order = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
             "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
    for statement in statements:
        for mode in statement["locks"].values():  # type: ignore[union-attr]
            if strongest == "–" or order.index(mode) > order.index(strongest):
                strongest = mode
        for waits in statement["blocked"].values():  # type: ignore[union-attr]
            blocks |= set(waits)
        rewrite = rewrite or any(t == "public.events" for t in statement["rewritten"])  # type: ignore[union-attr]
        scanned = max(scanned, *statement["rows_read"].values(), 0)  # type: ignore[union-attr]
        seconds += float(statement["seconds"])  # type: ignore[arg-type]
    return {"lock": strongest.removesuffix("Lock"), "blocks": " and ".join(sorted(blocks)) or "nothing",
            "rewrite": "yes" if rewrite else "no", "scanned": scanned, "ms": seconds * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--servers", nargs="+", default=["15", "16", "18"])
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    found = servers(args.servers)
    results: dict[str, dict[str, dict[str, object]]] = {}
    static: dict[str, tuple[list[str], list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="migration-check-locks-") as scratch:
        for number, (name, body) in enumerate(OPERATIONS):
            for major, binaries in found.items():
                project = make_project(Path(scratch) / f"{number}-{major}", name, body)
                observed = observe(project, args.rows, binaries)
                results.setdefault(name, {})[major] = {**summary(observed["statements"]),  # type: ignore[arg-type]
                                                       "findings": observed["findings"],
                                                       "version": observed["version"]}
                if name not in static:
                    static[name] = squawk(observed["statements"], project)  # type: ignore[arg-type]
                print(f"{name} on {major}: {results[name][major]}; squawk {static[name][0]}", file=sys.stderr)
    text = markdown(results, static, found, args)
    print(text)
    if args.write:
        content = args.write.read_text()
        before, rest = content.split(BEGIN, 1)
        _, after = rest.split(END, 1)
        args.write.write_text(f"{before}{BEGIN}\n{text}{END}{after}")


def markdown(results: dict[str, dict[str, dict[str, object]]], static: dict[str, tuple[list[str], list[str]]],
             found: dict[str, Path | None], args: argparse.Namespace) -> str:
    majors = list(found)
    versions = ", ".join(str(next(iter(results.values()))[major]["version"]) for major in majors)
    lines = [f"    python bench/lock_analysis.py --rows {args.rows} --servers {' '.join(args.servers)}", "",
             f"PostgreSQL {versions}; `events` and `accounts` filled with {args.rows:,} rows each; Squawk "
             f"{_squawk_version()}.", "",
             "| operation | observed (PostgreSQL " + ", ".join(majors) + "): lock held, blocks, rewrite, rows scanned"
             " | time (ms) per major | migration-check's findings | Squawk's rules | agree? |",
             "|---|---|---|---|---|---|"]
    for name, per_major in results.items():
        first = per_major[majors[0]]
        same = all({k: v for k, v in r.items() if k not in ("ms", "version")} ==
                   {k: v for k, v in first.items() if k not in ("ms", "version")} for r in per_major.values())
        observed = (f"{first['lock']}, blocks {first['blocks']}, rewrite {first['rewrite']}, "
                    f"{first['scanned']:,} scanned")
        if not same:
            observed += " — differs by major: " + "; ".join(
                f"{m}: {r['lock']}, {r['blocks']}, rewrite {r['rewrite']}, {r['scanned']:,}"
                for m, r in per_major.items())
        times = " / ".join(f"{float(r['ms']):.0f}" for r in per_major.values())
        ours = ", ".join(first["findings"]) or "none"  # type: ignore[arg-type]
        theirs = ", ".join(static[name][0]) or "none"
        flagged_ours = bool(first["findings"])
        flagged_theirs = bool(static[name][0])
        verdict = "yes" if flagged_ours == flagged_theirs else \
            ("no: Squawk flags, observed harmless" if flagged_theirs else "no: observed risky, Squawk silent")
        lines.append(f"| {name} | {observed} | {times} | {ours} | {theirs} | {verdict} |")
    return "\n".join(lines) + "\n"


def _squawk_version() -> str:
    done = subprocess.run([shutil.which("squawk", path=str(Path(sys.executable).parent)) or "squawk", "--version"],
                          capture_output=True, text=True)
    return done.stdout.strip().removeprefix("squawk ")


if __name__ == "__main__":
    main()
