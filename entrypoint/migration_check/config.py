"""One typed configuration for a run, merged once from the command line (and later the Action's inputs and
.migration-check.yml). Everything after this module reads only `CheckConfig`."""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from migration_check import config_file
from migration_check.config_file import AllowEntry
from migration_check.errors import UsageError
from migration_check.findings import Severity
from migration_check.rules import RULES

PRESETS = ("supabase",)
FORMATS = ("text", "json", "markdown", "sarif")
DRIVERS = ("psycopg2", "psycopg", "asyncpg", "pg8000")
# What --only selects: graph and history read the files (no database); apply and compare need one.
STAGES = ("graph", "history", "apply", "roundtrip", "compare", "naming", "volume")
ROUNDTRIP_MODES = ("auto", "changed", "full", "off")
STATIC_STAGES = ("graph", "history")
FAIL_ON = {"error": Severity.ERROR, "warning": Severity.WARNING, "notice": Severity.NOTICE, "never": None}


@dataclass(frozen=True)
class AlembicLocation:
    """Where the project's Alembic configuration lives."""

    project_dir: Path
    ini_file: Path | None
    toml_file: Path | None
    section: str = "alembic"

    @property
    def main_file(self) -> Path:
        found = self.ini_file or self.toml_file
        assert found is not None
        return found


DEFAULT_VOLUME_ROWS = 100_000


@dataclass(frozen=True)
class DataVolume:
    """How full the volume stage makes the tables, and its thresholds: --data-volume, --table-sizes and
    .migration-check.yml's data-volume."""

    rows: int | None = None  # rows a table; None: not given (on with a base ref, at DEFAULT_VOLUME_ROWS); 0: off
    tables: tuple[tuple[str, int], ...] = ()  # rows for named tables ("schema.table" or "table")
    real_sizes: tuple[tuple[str, int], ...] = ()  # production's sizes (an audit report): estimates scale to them
    lock_threshold_ms: int = 1000
    slow_migration_ms: int = 5000
    fill: str = "touched"  # touched: the tables the new migrations name and their neighbours; all: every table

    @property
    def default_rows(self) -> int:
        return DEFAULT_VOLUME_ROWS if self.rows is None else self.rows

    def rows_for(self, table: str) -> int:
        """A table's rows ("schema.table"): named in the file, else no more than production has, else the
        default. Names are matched with or without their schema."""
        named = _size_of(table, self.tables)
        if named is not None:
            return named
        real = _size_of(table, self.real_sizes)
        return self.default_rows if real is None else min(self.default_rows, real)


def _size_of(table: str, sizes: tuple[tuple[str, int], ...]) -> int | None:
    by_name = dict(sizes)
    return by_name.get(table, by_name.get(table.partition(".")[2]))


@dataclass(frozen=True)
class CheckConfig:
    alembic: AlembicLocation
    database_url: str | None = None
    url_env: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    setup_sql: tuple[Path, ...] = ()
    preset: str | None = None
    report_path: Path | None = None
    output_format: str = "text"
    fail_on: Severity | None = Severity.ERROR
    driver: str | None = None
    postgres_bin: Path | None = None
    port: int | None = None
    verbose: bool = False
    excluded_schemas: tuple[str, ...] = field(default=())
    base_ref: str | None = None
    no_base_because: str | None = None  # why there is no base_ref although there should be (a shallow clone)
    stages: tuple[str, ...] = STAGES
    roundtrip: str = "auto"
    # From .migration-check.yml: severity per rule (None: off), naming patterns, reviewed exceptions.
    settings_file: Path | None = None
    rule_levels: dict[str, Severity | None] = field(default_factory=dict)
    naming_patterns: dict[str, str] = field(default_factory=dict)
    allow: tuple[AllowEntry, ...] = ()
    data_volume: DataVolume = field(default_factory=DataVolume)

    @property
    def volume_planned(self) -> bool:
        """The volume stage runs: asked for with --data-volume, else by default where there is a base ref."""
        if "volume" not in self.stages or "apply" not in self.stages:
            return False
        if self.data_volume.rows is not None:
            return self.data_volume.rows > 0
        return bool(self.base_ref)

    def severity_of(self, rule_id: str) -> Severity | None:
        """The rule's severity in this run, or None where it is off (by the file, or off by default)."""
        if rule_id in self.rule_levels:
            return self.rule_levels[rule_id]
        rule = RULES[rule_id]
        return rule.severity if rule.enabled else None

    @property
    def roundtrip_mode(self) -> str:
        """off, changed or full: auto is changed with a base ref (only the change's revisions), else full."""
        if "roundtrip" not in self.stages or self.roundtrip == "off":
            return "off"
        if self.roundtrip == "auto":
            return "changed" if self.base_ref else "full"
        return self.roundtrip

    @property
    def needs_database(self) -> bool:
        return any(stage not in STATIC_STAGES for stage in self.stages)


def parse_stages(text: str | None) -> tuple[str, ...]:
    if not text:
        return STAGES
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [stage for stage in chosen if stage not in STAGES]
    if unknown or not chosen:
        raise UsageError(f"--only {text!r} names no known stage{': ' + ', '.join(unknown) if unknown else ''}.",
                         fix=f"Choose from {', '.join(STAGES)}, separated by commas: --only graph,history.")
    if any(stage in chosen for stage in ("compare", "roundtrip", "naming", "volume")) and "apply" not in chosen:
        chosen = ("apply", *chosen)  # they need the migrated database
    return tuple(stage for stage in STAGES if stage in chosen)


def _has_tool_alembic(pyproject: Path) -> bool:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Alembic's toml support brings tomli on older Pythons
        import tomli as tomllib
    try:
        with pyproject.open("rb") as handle:
            return "alembic" in tomllib.load(handle).get("tool", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(
            f"Cannot read {pyproject}: {exc}", fix="Fix the TOML syntax of pyproject.toml.", file=pyproject
        ) from None


def locate_alembic(path: Path, config_file: Path | None, section: str | None) -> AlembicLocation:
    """Find alembic.ini, or pyproject.toml with [tool.alembic] (Alembic 1.16+), for PATH and --config."""
    if not path.exists():
        raise UsageError(f"{path} does not exist.", fix="Pass the folder that holds the project's alembic.ini.")
    project_dir = (path if path.is_dir() else path.parent).resolve()
    if config_file is None and path.is_file():
        config_file = path
    section = section or "alembic"
    if config_file is not None:
        # As `cd PATH && alembic -c FILE`: the project runs from PATH, wherever the file is.
        config_file = (config_file if config_file.is_absolute() else Path.cwd() / config_file).resolve()
        if not config_file.is_file():
            raise UsageError(
                f"The Alembic configuration file {config_file} does not exist.",
                fix="Pass an existing ini file with --config, or leave --config out to use PATH/alembic.ini.",
            )
        if path.is_file():
            project_dir = config_file.parent
        if config_file.suffix == ".toml":
            return AlembicLocation(project_dir, None, config_file, section)
        pyproject = config_file.parent / "pyproject.toml"
        toml = pyproject if pyproject.is_file() and _has_tool_alembic(pyproject) else None
        return AlembicLocation(project_dir, config_file, toml, section)
    ini = project_dir / "alembic.ini"
    pyproject = project_dir / "pyproject.toml"
    toml = pyproject if pyproject.is_file() and _has_tool_alembic(pyproject) else None
    if ini.is_file() or toml is not None:
        return AlembicLocation(project_dir, ini if ini.is_file() else None, toml, section)
    flask_migrate_ini = project_dir / "migrations" / "alembic.ini"  # where `flask db init` puts it
    if flask_migrate_ini.is_file():
        return AlembicLocation(project_dir, flask_migrate_ini, None, section)
    raise UsageError(
        f"{project_dir} has no alembic.ini, no pyproject.toml with a [tool.alembic] table and no "
        "migrations/alembic.ini (Flask-Migrate's).",
        fix="Run migration-check in the folder that holds alembic.ini, pass that folder as PATH, or name the "
        "file with --config.",
        file=project_dir,
    )


def parse_data_volume(text: str | None) -> int | None:
    """--data-volume ROWS, or off (0)."""
    if text is None:
        return None
    if text.strip().lower() in ("off", "0", "no", "false"):
        return 0
    try:
        rows = int(text.replace("_", "").replace(",", ""))
    except ValueError:
        rows = -1
    if rows < 0:
        raise UsageError(f"--data-volume {text!r} is not a number of rows.",
                         fix="Pass the rows each table gets, such as --data-volume 100000, or --data-volume off.")
    return rows


def parse_env_pairs(pairs: list[str]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--env {pair!r} is not KEY=VALUE.", fix="Write --env NAME=value, once per variable.")
        parsed.append((key.strip(), value))
    return tuple(parsed)


def check_setup_sql(files: list[str]) -> tuple[Path, ...]:
    paths = tuple(Path(f).resolve() for f in files)
    for given, resolved in zip(files, paths):
        if not resolved.is_file():
            raise UsageError(f"The setup SQL file {given} does not exist.", fix="Pass an existing .sql file.")
    return paths


def check_output_path(path: Path, what: str) -> Path:
    """A file the run will write when it ends: checked before anything runs, so that a long check does not end
    in a traceback. Missing parent folders are fine (they are created), a folder or a file in the way is not."""
    if path.is_dir():
        raise UsageError(f"{what} {path} is a folder; it names the file to write.",
                         fix=f"Give a file name, such as {path / 'migration-check.json'}.")
    existing = next((parent for parent in path.parents if parent.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UsageError(f"{what} {path} cannot be written: {existing} is a file, not a folder.",
                         fix="Give a path whose folders are folders.")
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{what} {path} cannot be written: {existing} is not writable for this user.",
                         fix="Give a path in a folder you can write to.")
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(f"{what} {path} exists and is not writable for this user.",
                         fix="Give another file, or make this one writable.")
    return path


# The names settings objects give a URL's parts, after a prefix (POSTGRES_HOST, DB_PORT, ...), and what each gets.
URL_PART_NAMES = (
    (("HOST", "SERVER"), "{host}"),
    (("PORT",), "{port}"),
    (("USER", "USERNAME"), "{user}"),
    (("PASSWORD", "PASS", "PWD"), "{password}"),
    (("DB", "DATABASE", "NAME"), "{database}"),
)


def url_part_pairs(prefixes: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """--url-parts PREFIX: the scratch database's parts under every usual name after the prefix. They come
    before the --env pairs, so that an --env value for the same name wins."""
    return tuple((f"{prefix}{name}", placeholder) for prefix in prefixes
                 for names, placeholder in URL_PART_NAMES for name in names)


def environment_names(config: CheckConfig) -> tuple[str, ...]:
    """The variables that receive the database URL: DATABASE_URL and every --url-env."""
    return ("DATABASE_URL", *(name for name in config.url_env if name != "DATABASE_URL"))


def with_settings_file(config: CheckConfig, explicit: Path | None) -> CheckConfig:
    """Merge .migration-check.yml (in the project folder, or --config-file) into the configuration. Flags given
    on the command line win; lists (setup SQL, env, url-env, schemas) add up, the file's first."""
    path = explicit if explicit is not None else config.alembic.project_dir / config_file.DEFAULT_NAME
    if explicit is None and not path.is_file():
        return config
    path = path.resolve()
    if not path.is_file():
        raise UsageError(f"The configuration file {explicit} does not exist.",
                         fix=f"Pass an existing file with --config-file, or leave it out to use "
                         f"{config_file.DEFAULT_NAME} in the project folder.")
    settings = config_file.load(path, set(RULES), shown=_shown(path))
    return dataclasses.replace(
        config,
        roundtrip=config.roundtrip if config.roundtrip != "auto" else settings.roundtrip or "auto",
        preset=config.preset or settings.preset,
        setup_sql=(*settings.setup_sql, *config.setup_sql),
        env=(*url_part_pairs(settings.url_parts), *settings.env, *config.env),  # a later pair wins: the command line's
        url_env=tuple(dict.fromkeys((*settings.url_env, *config.url_env))),
        excluded_schemas=tuple(dict.fromkeys((*settings.exclude_schemas, *config.excluded_schemas))),
        settings_file=path,
        rule_levels=settings.rules,
        naming_patterns=settings.naming,
        allow=settings.allow,
        data_volume=dataclasses.replace(
            config.data_volume,
            rows=config.data_volume.rows if config.data_volume.rows is not None else settings.volume_rows,
            tables=settings.volume_tables,
            lock_threshold_ms=settings.lock_threshold_ms or config.data_volume.lock_threshold_ms,
            slow_migration_ms=settings.slow_migration_ms or config.data_volume.slow_migration_ms,
            fill=settings.volume_fill or config.data_volume.fill,
        ),
    )


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
