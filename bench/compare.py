"""The whole check against plain Alembic and pytest-alembic, side by side, in one run.

    python bench/compare.py --sizes 50 200 800 --runs 3 --write docs/performance.md --plot docs/compare.png
    python bench/compare.py --sizes 50 --runs 1                       # a quick look, printed only

For each size it generates a realistic history (bench/generate_history.py --shape realistic --style app:
branches and merges, enum types and added values, type changes, data migrations, a settings object, models
matching head) and measures, interleaved (every method once, then again, --runs times), each command timed
whole from process start to exit, each in a fresh database:

- a:  `migration-check check --roundtrip full`, on its own throwaway server;
- a': the same with `--database-url` to a server of each major found (`--servers`): Debian's PostgreSQL 15
      (apt install postgresql-15), PostgreSQL 16 from the pgserver wheel, the embedded 18; each started as a
      stock server is (JIT on where the build has it), durability off like the throwaway server;
- p:  the pull-request check: one new revision on top of the history in a git branch, `--base-ref main`
      (`--roundtrip changed`, the default with a base ref), with `--data-volume off`: what c' does, and more;
- p+v: the same as by default, with the volume stage: the new revision run again on the tables it names (and
      their neighbours) filled with 100,000 rows each, observed;
- c:  plain Alembic's CLI: `alembic upgrade head`, `alembic check`, `alembic downgrade base`, `alembic upgrade head`;
- c': the plain pull-request check on the same branch as p: `alembic upgrade head && alembic check`;
- d:  pytest-alembic's four default tests (single head, upgrade, model definitions match DDL, up/down
      consistency), `pytest` run whole;
- e:  the SQL floor: psql replaying `alembic upgrade head --sql` and `alembic downgrade head:base --sql`
      (the SQL is generated beforehand and not timed);
- f:  the floor of a: the same migration runs as the full check, in one pass of env.py each, with nothing read or
      compared (bench/plain_alembic.py --floor; its own timing, after the imports). Not run unless named in
      --methods: it shows what any check of this plan costs before it checks anything.

Every method but a and a' runs on one reference server: a throwaway PostgreSQL started here with the same
settings as the check's own (durability and JIT off). Peak memory is the process's own maximum RSS (os.wait4),
not counting the PostgreSQL servers. With --write, the Markdown between the markers
`<!-- compare:begin -->` and `<!-- compare:end -->` in that file is replaced; --json keeps the raw figures.
Needs the bench extra: pip install -e '.[bench]'.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate_history import generate

from migration_check.database import SERVER_USER, ThrowawayServer, find_server_binaries

METHODS = ("a", "p", "p+v", "c", "c'", "d", "e", "f")
DESCRIPTIONS = {
    "a": "migration-check, full check, own server",
    "p": "migration-check, pull-request check (--base-ref, one new revision), volume stage off",
    "p+v": "the same with the volume stage as by default (the new revision on tables of 100,000 rows)",
    "c": "plain Alembic CLI: upgrade, check, downgrade base, upgrade",
    "c'": "plain PR check: alembic upgrade head && alembic check",
    "d": "pytest-alembic's 4 default tests",
    "e": "psql replaying the offline SQL, up and down",
    "f": "the floor of (a): its migration runs (apply, downgrade, apply each revision, then down to base) in one "
         "pass of env.py each, nothing read or compared (bench/plain_alembic.py --floor, imports not counted)",
}
BEGIN, END = "<!-- compare:begin -->", "<!-- compare:end -->"

CONFTEST = """\
import os

import pytest
from sqlalchemy import create_engine


@pytest.fixture
def alembic_engine():
    return create_engine(os.environ["DATABASE_URL"])
"""
PYTEST_ALEMBIC_TESTS = """\
from pytest_alembic.tests import (  # noqa: F401  pytest-alembic's default tests
    test_model_definitions_match_ddl,
    test_single_head_revision,
    test_up_down_consistency,
    test_upgrade,
)
"""


@dataclass
class Server:
    """A running PostgreSQL the bench makes databases on."""

    label: str
    running: ThrowawayServer
    jit: str

    def url(self, database: str, driver: str | None = "psycopg") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"  # None: libpq's form, for psql
        return (f"{scheme}://{SERVER_USER}:{self.running.password}@127.0.0.1:{self.running.port}"
                f"/{database}")

    def fresh_database(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        with self._admin() as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        with self._admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.running.port, user=SERVER_USER,
                               password=self.running.password, dbname="postgres", autocommit=True)


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float


@dataclass
class Projects:
    """The projects of one size: the history itself, and a git clone of it with one revision more on a branch."""

    count: int
    history: Path
    pull_request: Path
    up_sql: Path
    down_sql: Path


@dataclass
class Results:
    sizes: list[int]
    servers: dict[str, str] = field(default_factory=dict)  # a' label -> "version, JIT ..."
    runs: dict[str, dict[int, list[Run]]] = field(default_factory=dict)  # method -> size -> runs

    def add(self, method: str, count: int, run: Run) -> None:
        self.runs.setdefault(method, {}).setdefault(count, []).append(run)

    def median(self, method: str, count: int) -> float | None:
        runs = self.runs.get(method, {}).get(count)
        return statistics.median(run.seconds for run in runs) if runs else None

    def spread(self, method: str, count: int) -> tuple[float, float] | None:
        runs = self.runs.get(method, {}).get(count)
        return (min(run.seconds for run in runs), max(run.seconds for run in runs)) if runs else None

    def peak_rss(self, method: str, count: int) -> float | None:
        runs = self.runs.get(method, {}).get(count)
        return max(run.peak_rss_mb for run in runs) if runs else None


def timed(command: list[str], cwd: Path, env: dict[str, str], expect: tuple[int, ...] = (0,)) -> Run:
    """Runs a command to its end: its wall time and its own peak RSS."""
    began = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in expect:
        raise SystemExit(f"{' '.join(command)} (in {cwd}) exited {process.returncode}:\n"
                         f"{output.decode(errors='replace')[-4000:]}")
    return Run(seconds, usage.ru_maxrss / 1024)


def sequence(commands: list[list[str]], cwd: Path, env: dict[str, str]) -> Run:
    runs = [timed(command, cwd, env) for command in commands]
    return Run(sum(run.seconds for run in runs), max(run.peak_rss_mb for run in runs))


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit(f"{name} is not installed next to {sys.executable}: pip install -e '.[bench]'")
    return found


def git(cwd: Path, *arguments: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", *arguments],
                   cwd=cwd, check=True, capture_output=True)


def make_projects(root: Path, count: int, reference: Server, environ: dict[str, str]) -> Projects:
    history = generate(root / f"history{count}", count, "app", "realistic")
    (history / "conftest.py").write_text(CONFTEST)
    (history / "test_migrations.py").write_text(PYTEST_ALEMBIC_TESTS)
    pull_request = root / f"pull-request{count}"
    generate(pull_request, count, "app", "realistic")
    git(pull_request, "init", "-q", "-b", "main")
    git(pull_request, "add", "-A")
    git(pull_request, "commit", "-q", "-m", "the history")
    git(pull_request, "checkout", "-q", "-b", "feature")
    generate(pull_request, count + 1, "app", "realistic")  # one revision more, and the models to match it
    git(pull_request, "add", "-A")
    git(pull_request, "commit", "-q", "-m", "one new migration")
    # The offline SQL for e; alembic needs a URL for the dialect only, but the app's env.py reads its settings.
    database = reference.fresh_database()
    env = {**environ, "DATABASE_URL": reference.url(database)}
    up_sql, down_sql = root / f"up{count}.sql", root / f"down{count}.sql"
    for target, arguments in ((up_sql, ["upgrade", "head", "--sql"]), (down_sql, ["downgrade", "head:base", "--sql"])):
        done = subprocess.run([tool("alembic"), *arguments], cwd=history, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"alembic {' '.join(arguments)} failed:\n{done.stderr[-4000:]}")
        target.write_text(done.stdout)
    reference.drop_database(database)
    return Projects(count, history, pull_request, up_sql, down_sql)


def measure(method: str, projects: Projects, reference: Server, psql: str, environ: dict[str, str],
            target: Server | None = None) -> Run:
    """One run of one method, in a fresh database of the reference server (a and a' make their own)."""
    check = [tool("migration-check"), "check"]
    if method == "a":
        return timed([*check, str(projects.history), "--roundtrip", "full"], projects.history, environ)
    if method == "a'":
        assert target is not None
        return timed([*check, str(projects.history), "--roundtrip", "full", "--database-url",
                      target.url("postgres", None)], projects.history, environ)
    if method in ("p", "p+v"):
        volume = ["--data-volume", "off"] if method == "p" else []
        return timed([*check, str(projects.pull_request), "--base-ref", "main", "--roundtrip", "changed", *volume],
                     projects.pull_request, environ)
    database = reference.fresh_database()
    env = {**environ, "DATABASE_URL": reference.url(database)}
    alembic = tool("alembic")
    try:
        if method == "c":
            return sequence([[alembic, "upgrade", "head"], [alembic, "check"], [alembic, "downgrade", "base"],
                             [alembic, "upgrade", "head"]], projects.history, env)
        if method == "c'":
            return sequence([[alembic, "upgrade", "head"], [alembic, "check"]], projects.pull_request, env)
        if method == "d":
            return timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_migrations.py"],
                         projects.history, env)
        if method == "f":
            second = reference.fresh_database()
            try:
                done = subprocess.run([sys.executable, str(Path(__file__).parent / "plain_alembic.py"),
                                       str(projects.history), env["DATABASE_URL"], "--floor",
                                       reference.url(second)], cwd=projects.history, env=env, capture_output=True,
                                      text=True)
            finally:
                reference.drop_database(second)
            if done.returncode != 0:
                raise SystemExit(f"plain_alembic.py --floor failed:\n{done.stderr[-3000:]}")
            return Run(json.loads(done.stdout.strip().splitlines()[-1])["floor"], 0.0)
        if method == "e":
            libpq = reference.url(database, None)
            return sequence([[psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", libpq, "-f", str(sql)]
                             for sql in (projects.up_sql, projects.down_sql)], projects.history, env)
    finally:
        reference.drop_database(database)
    raise ValueError(method)


def start_servers(wanted: list[str]) -> dict[str, Server]:
    """The servers for a': each major that is here, started as a stock server would be (JIT at its default)."""
    candidates: dict[str, Path | None] = {"18": None}  # the embedded one
    debian = Path("/usr/lib/postgresql/15/bin")
    if (debian / "postgres").is_file():
        candidates["15"] = debian
    import importlib.util

    spec = importlib.util.find_spec("pgserver")  # found, not imported: its import starts things
    if spec is not None and spec.origin:
        candidates["16"] = Path(spec.origin).parent / "pginstall" / "bin"
    servers: dict[str, Server] = {}
    for major in wanted:
        if major not in candidates:
            print(f"PostgreSQL {major}: not found here, skipped", file=sys.stderr)
            continue
        binaries = find_server_binaries(candidates[major])
        running = ThrowawayServer(binaries, settings={"jit": "on"})
        running.start()
        with psycopg.connect(host="127.0.0.1", port=running.port, user=SERVER_USER, password=running.password,
                             dbname="postgres") as connection:
            row = connection.execute("SELECT pg_jit_available()").fetchone()
        jit = "JIT on, LLVM available" if row and row[0] else "JIT on, but the build has no LLVM"
        servers[major] = Server(f"a' PG {binaries.version}", running, jit)
        print(f"a' server: PostgreSQL {binaries.version} ({binaries.source}), {jit}", file=sys.stderr)
    return servers


def machine() -> str:
    memory = ""
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    cpu = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = ", ".join(f"{name} {importlib.metadata.version(name)}"
                         for name in ("SQLAlchemy", "alembic", "psycopg", "pytest-alembic"))
    return (f"{os.cpu_count()} vCPUs ({cpu}){memory}, Linux {platform.release()}, Python {platform.python_version()}, "
            f"{versions}")


def cell(results: Results, method: str, count: int) -> str:
    median, spread = results.median(method, count), results.spread(method, count)
    if median is None or spread is None:
        return "–"
    return f"{median:.2f} ({spread[0]:.2f}–{spread[1]:.2f})"


def ratio(top: float | None, bottom: float | None) -> str:
    return "–" if top is None or bottom is None or bottom == 0 else f"{top / bottom:.2f}"


def markdown(results: Results, command: str, reference_version: str) -> str:
    methods = [method for method in ("a", *sorted(m for m in results.runs if m.startswith("a'")), "p", "p+v", "c",
                                     "c'", "d", "e", "f") if method in results.runs]
    lines = [f"    {command}", "",
             f"Measured {datetime.date.today().isoformat()} on {machine()}. Reference server (c, c', d, e, and the "
             f"check's own in a and p): PostgreSQL {reference_version}, durability and JIT off. Each cell: median "
             f"(min–max) of {max(len(r) for m in results.runs.values() for r in m.values())} interleaved runs, "
             "seconds, each command timed whole (Python's start-up included).", ""]
    for method in methods:
        lines.append(f"- **{method}**: {DESCRIPTIONS.get(method) or results.servers.get(method, '')}")
    lines += ["", "| revisions | " + " | ".join(methods) + " |", "|---|" + "---|" * len(methods)]
    for count in results.sizes:
        lines.append(f"| {count} | " + " | ".join(cell(results, method, count) for method in methods) + " |")
    lines += ["", "Ratios of medians (the targets of issue 16):", "",
              "| revisions | d ÷ a (≥ 5 at 200, ≥ 6 at 800) | c ÷ a (> 1) | c' ÷ p (≥ 1) | c' ÷ p+v | "
              + " | ".join(f"{m} ÷ a (≤ 1.3)" for m in methods if m.startswith("a'"))
              + " | a ÷ e | peak RSS of a (MB) | peak RSS of p (MB) |",
              "|---|---|---|---|---|" + "---|" * len([m for m in methods if m.startswith("a'")]) + "---|---|---|"]
    for count in results.sizes:
        a = results.median("a", count)
        cells = [str(count), ratio(results.median("d", count), a), ratio(results.median("c", count), a),
                 ratio(results.median("c'", count), results.median("p", count)),
                 ratio(results.median("c'", count), results.median("p+v", count)),
                 *(ratio(results.median(m, count), a) for m in methods if m.startswith("a'")),
                 ratio(a, results.median("e", count))]
        rss_a, rss_p = results.peak_rss("a", count), results.peak_rss("p", count)
        cells += ["–" if rss_a is None else f"{rss_a:.0f}", "–" if rss_p is None else f"{rss_p:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    if 200 in results.sizes and 800 in results.sizes:
        lines += ["", f"Growth from 200 to 800 revisions (a, target ≤ 4.5): "
                      f"{ratio(results.median('a', 800), results.median('a', 200))}; plain Alembic (c): "
                      f"{ratio(results.median('c', 800), results.median('c', 200))}; the SQL floor (e): "
                      f"{ratio(results.median('e', 800), results.median('e', 200))}."]
    return "\n".join(lines) + "\n"


def plot(results: Results, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for method in results.runs:
        sizes = [count for count in results.sizes if results.median(method, count) is not None]
        label = f"{method}: {DESCRIPTIONS.get(method) or results.servers.get(method, '')}"
        axes.plot(sizes, [results.median(method, count) for count in sizes], marker="o", label=label)
    axes.set_xlabel("revisions in the history")
    axes.set_ylabel("wall time of the whole command (s), median")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(results.sizes, [str(count) for count in results.sizes])
    from matplotlib.ticker import NullFormatter

    axes.xaxis.set_minor_formatter(NullFormatter())  # the sizes alone, not 6x10^1 between them
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    axes.set_title("The migration check against plain Alembic and pytest-alembic")
    figure.tight_layout()
    figure.savefig(path)


def write_into(document: Path, text: str) -> None:
    content = document.read_text()
    if BEGIN not in content or END not in content:
        raise SystemExit(f"{document} has no {BEGIN} … {END} markers to write between")
    before, rest = content.split(BEGIN, 1)
    _, after = rest.split(END, 1)
    document.write_text(f"{before}{BEGIN}\n{text}{END}{after}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 800])
    parser.add_argument("--runs", type=int, default=3, help="interleaved runs of every method; medians are shown")
    parser.add_argument("--methods", nargs="+", default=[*(m for m in METHODS if m != "f"), "a'"],
                        choices=[*METHODS, "a'"])
    parser.add_argument("--servers", nargs="+", default=["15", "16", "18"], help="majors for a'")
    parser.add_argument("--write", type=Path, help="a Markdown file with the compare markers, to write the table in")
    parser.add_argument("--plot", type=Path, help="a PNG file for the plot")
    parser.add_argument("--json", type=Path, help="a file for the raw figures")
    parser.add_argument("--from-json", type=Path, metavar="FILE",
                        help="measure nothing: write the table and the plot from the raw figures of an earlier run "
                        "(its --json), with the command line given here")
    args = parser.parse_args()
    command = "python bench/compare.py " + " ".join(sys.argv[1:])
    if args.from_json:
        raw = json.loads(args.from_json.read_text())
        results = Results(sorted(args.sizes), dict(raw.get("servers", {})))
        for method, by_size in raw["runs"].items():
            for count, runs in by_size.items():
                for run in runs:
                    results.add(method, int(count), Run(**run))
        command = raw.get("command", command)
        text = markdown(results, command, raw.get("reference_version", "?"))
        print(text)
        if args.write:
            write_into(args.write, text)
        if args.plot:
            plot(results, args.plot)
        return
    reference_binaries = find_server_binaries(None)
    reference = Server(f"PG {reference_binaries.version}", ThrowawayServer(reference_binaries), "JIT off")
    reference.running.start()
    servers = start_servers(args.servers) if "a'" in args.methods else {}
    results = Results(sorted(args.sizes), {f"a' PG {s.running.binaries.version}": f"migration-check, full check, "
                                           f"--database-url to PostgreSQL {s.running.binaries.version} ({s.jit})"
                                           for s in servers.values()})
    psql = str(reference_binaries.bin_dir / "psql")
    environ = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "PGOPTIONS")}
    try:
        with tempfile.TemporaryDirectory(prefix="migration-check-compare-") as folder:
            for count in results.sizes:
                projects = make_projects(Path(folder), count, reference, environ)
                for run in range(args.runs):
                    for method in args.methods:
                        targets = list(servers.values()) if method == "a'" else [None]
                        for target in targets:
                            name = f"a' PG {target.running.binaries.version}" if target else method
                            result = measure(method, projects, reference, psql, environ, target)
                            results.add(name, count, result)
                            print(f"{count} revisions, run {run + 1}: {name} {result.seconds:.2f} s, "
                                  f"{result.peak_rss_mb:.0f} MB", file=sys.stderr, flush=True)
                if args.json:
                    args.json.write_text(json.dumps({
                        "command": command, "reference_version": reference_binaries.version,
                        "servers": results.servers,
                        "runs": {m: {str(c): [vars(r) for r in rs] for c, rs in by.items()}
                                 for m, by in results.runs.items()}}, indent=1))
    finally:
        for server in (reference, *servers.values()):
            server.running.close()
    text = markdown(results, command, reference_binaries.version)
    print(text)
    if args.write:
        write_into(args.write, text)
    if args.plot:
        plot(results, args.plot)


if __name__ == "__main__":
    main()
