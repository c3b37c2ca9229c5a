"""The only module that calls Alembic's command and EnvironmentContext API.

It runs the project's own env.py, so that everything the project configures there applies: include_object,
compare_type, include_schemas, naming conventions, render_item, and sync or async engines.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import sqlalchemy as sa
from alembic import autogenerate
from alembic.config import Config
from alembic.runtime import migration as alembic_migration
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import HeadMaintainer, MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from migration_check import connection_errors, signals
from migration_check.config import AlembicLocation
from migration_check.database import IDENTITY_SQL, Identity, identity_from
from migration_check.errors import CheckError, ProjectLoadError, UsageError
from migration_check.flask_app import application_context, needs_flask_app
from migration_check.locate import INSTALLED_FILE

_POINT_AT_SCRATCH = (
    "Make the project read its database URL from DATABASE_URL, or name the variable it reads with --url-env NAME. "
    "Settings that build the URL from parts can take them with --env, for example --env POSTGRES_SERVER={host} "
    "--env POSTGRES_PORT={port} --env POSTGRES_DB={database}; connect_args or a creator function in env.py must "
    "not override the host, port or database."
)


@dataclass(frozen=True)
class MigrationFailure:
    """A migration raised while being applied."""

    revision: str | None
    file: Path | None
    line: int | None
    error: str
    statement: str | None
    log: str


@dataclass
class Comparison:
    """What autogenerate found between the models and the migrated database."""

    diffs: list[tuple[Any, ...]]
    upgrade_code: str | None
    downgrade_code: str | None
    ops: Any = None
    log: str = ""
    metadata: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class PendingRevision:
    """A revision a database has yet to get."""

    revision: str
    message: str
    path: Path | None


@dataclass(frozen=True)
class ComparisonOptions:
    """What env.py configures for a comparison, reusable on another connection."""

    opts: dict[str, Any]
    version_table: str
    version_table_schema: str | None

    @property
    def version_table_shown(self) -> str:
        """schema.table, or the table alone where env.py names no schema."""
        if self.version_table_schema:
            return f"{self.version_table_schema}.{self.version_table}"
        return self.version_table


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first."""
    chain: list[BaseException] = []
    link: BaseException | None = exc
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    return chain


def _lines_in(exc: BaseException, files: set[Path]) -> list[tuple[Path, int]]:
    """(file, line) of each frame of the migrations' own code that the exception passed through, outermost
    first; async env.py chains the exception through the event loop, so every link of the chain is read."""
    return [
        (Path(frame.filename).resolve(), frame.lineno or 0)
        for link in reversed(_exception_chain(exc))
        for frame in traceback.extract_tb(link.__traceback__)
        if frame.name != "<module>" and Path(frame.filename).resolve() in files
    ]


# anyio.from_thread.run(...), from anyio.from_thread import run, and helpers built on it (Prefect's
# run_async_from_worker_thread): they work only in a worker thread that AnyIO started.
_HANDS_BACK_TO_THE_LOOP = re.compile(r"\bfrom_thread\b|\brun_async_from_worker_thread\b")
_OURS = str(Path(__file__).resolve().parent)


def _resource_folder(location: str | None) -> str | None:
    """The folder of a "package:sub:folder" script_location, found without importing the package: Alembic's
    importlib.resources would import it, and with it the project's settings, before the check has set the
    variables they read."""
    if not location or os.path.isabs(location) or ":" not in location:
        return None
    package, *parts = location.split(":")
    try:
        spec = importlib.util.find_spec(package) if "." not in package else None
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)), *parts)
    return str(folder) if folder.is_dir() else None


def _from_an_enclosing_folder(location: str | None, project_dir: Path) -> str | None:
    """A relative script_location that is missing from the project's folder but names it from an enclosing one
    (an alembic.ini inside a package, `script_location = pkg/db/migrations`, which its team runs from the
    repository root): that folder, when it holds env.py."""
    if not location or os.path.isabs(location) or ":" in location or "%(" in location \
            or (project_dir / location).is_dir():
        return None
    for folder in project_dir.parents:
        candidate = folder / location
        if (candidate / "env.py").is_file():
            return str(candidate)
    return None


def _is_projects_own(filename: str, project: str) -> bool:
    """A frame of the project's own code: in its folder, but not in a virtualenv inside it, nor ours."""
    return filename.startswith(project) and not INSTALLED_FILE.search(filename) and not filename.startswith(_OURS)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def database_error_message(exc: BaseException) -> str:
    """The database's own message, without SQLAlchemy's wrapping or asyncpg's class prefix."""
    if isinstance(exc, sa_exc.StatementError) and exc.orig is not None:  # DBAPIError is a StatementError
        text = _server_message(exc.orig)
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = re.sub(r"^<class '[\w.]+'>: ", "", text.strip())
    return "\n".join(line for line in text.splitlines() if line.strip()) or type(exc).__name__


def _server_message(error: BaseException) -> str:
    """The driver's error as a sentence: pg8000 hands the server's fields over as a dict (M the message, D the
    detail, H the hint); the others already say it in words."""
    fields = error.args[0] if error.args and isinstance(error.args[0], dict) else None
    if not fields or "M" not in fields:
        return str(error)
    return "\n".join(str(fields[key]) if key == "M" else f"{label}: {fields[key]}"
                     for key, label in (("M", ""), ("D", "DETAIL"), ("H", "HINT")) if fields.get(key))


def _identity_of(connection: Any) -> Identity:
    """IDENTITY_SQL's answer on env.py's connection. The query goes through the driver, so that SQLAlchemy
    does not begin a transaction of its own; the one the driver began for it is ended unless one was open."""
    in_transaction = connection.in_transaction()
    raw = connection.connection
    cursor = raw.cursor()
    try:
        cursor.execute(IDENTITY_SQL)
        row = cursor.fetchone()
    finally:
        cursor.close()
    if not in_transaction:
        raw.rollback()
    return identity_from(row)


class AlembicProject:
    """The project's Alembic configuration and scripts, pointed at our scratch database."""

    def __init__(self, location: AlembicLocation) -> None:
        self.location = location
        self.output = ""  # everything env.py and Alembic printed or logged, for --verbose
        self._last_output = ""  # what the last collecting run of env.py printed
        # The scratch database: env.py's connection must lead there, and nowhere else (see point_at).
        self.scratch_url: URL | None = None
        self.scratch_identity: Identity | None = None
        self.used_driver: str | None = None  # the driver of the connection env.py handed to configure()
        try:
            if location.toml_file is not None:
                self.config = Config(
                    file_=str(location.ini_file) if location.ini_file else None,
                    toml_file=str(location.toml_file),
                    ini_section=location.section,
                )
            else:
                self.config = Config(str(location.ini_file), ini_section=location.section)
        except TypeError:
            raise UsageError(
                "This project keeps its Alembic configuration in pyproject.toml, which needs Alembic 1.16 or "
                "later.",
                fix="Upgrade Alembic (pip install 'alembic>=1.16') or add an alembic.ini.",
                file=location.main_file,
            ) from None
        if location.ini_file is not None and not self.config.file_config.has_section(location.section):
            raise UsageError(
                f"{location.ini_file.name} has no [{location.section}] section.",
                fix="Pass the section that configures the migrations with --name, as with `alembic -n`.",
                file=location.ini_file,
            )
        self.configured_url = self.config.get_main_option("sqlalchemy.url")
        if self.config.get_main_option("script_location") is None and location.ini_file is not None \
                and (location.ini_file.parent / "env.py").is_file():
            # Flask-Migrate's alembic.ini has no script_location: `flask db` sets it to the ini's own folder.
            self.config.set_main_option("script_location", str(location.ini_file.parent))
        self.script = self._script_directory()
        self.env_py = Path(self.script.dir) / "env.py"
        self.flask_app = needs_flask_app(self.env_py)

    # -- helpers ---------------------------------------------------------------------------------------------

    def _script_directory(self, version_locations: list[str] | None = None) -> ScriptDirectory:
        """Alembic's view of the migration scripts, with relative script_location, version_locations and
        prepend_sys_path entries taken from the project's folder (Alembic takes them from the folder it runs in,
        and the project's folder is where its team runs it, wherever the check runs from)."""
        with self._project_cwd():
            configured = self.config.get_main_option("script_location")
            located = _resource_folder(configured) or _from_an_enclosing_folder(configured,
                                                                                self.location.project_dir)
            if located is not None:
                self.config.set_main_option("script_location", located)
            prepended = len(sys.path)
            try:
                script = ScriptDirectory.from_config(self.config)
            except Exception as exc:  # alembic.util.CommandError for a missing script_location
                candidates = sorted(str(env.parent.relative_to(self.location.project_dir))
                                    for env in self.location.project_dir.glob("*/env.py"))
                raise UsageError(
                    f"Alembic cannot find the migration scripts: {_first_line(str(exc))}",
                    fix=f"Add `script_location = {candidates[0]}` to the [alembic] section ({candidates[0]}/ holds "
                    "env.py)." if candidates else
                    "Set script_location in the Alembic configuration to the folder that holds env.py.",
                    file=self.location.main_file,
                ) from None
            sys.path[:len(sys.path) - prepended] = [os.path.abspath(entry)
                                                    for entry in sys.path[:len(sys.path) - prepended]]
            script.dir = os.path.abspath(script.dir)
            if not (Path(script.dir) / "env.py").is_file():
                raise UsageError(
                    f"{os.path.relpath(script.dir, self.location.project_dir)}/ has no env.py: Alembic runs the "
                    "migrations through it, and so does the check.",
                    fix="Create env.py there (`alembic init` writes one: run it in another folder and copy its "
                    "env.py), configured with your models' target_metadata; or point script_location at the "
                    "folder that has it.",
                    file=self.location.main_file,
                )
            folders = script.version_locations if version_locations is None else version_locations
            if folders:  # None on Alembic before 1.10 when alembic.ini names none
                script.version_locations = [
                    folder if ":" in folder and not os.path.isabs(folder) else os.path.abspath(folder)
                    for folder in map(str, folders)  # "package:folder" is a resource
                ]
        return script

    @contextlib.contextmanager
    def _project_cwd(self) -> Iterator[None]:
        """Run from the project folder, as `alembic` would, with it importable (the usual prepend_sys_path)."""
        previous = Path.cwd()
        folder = str(self.location.project_dir)
        os.chdir(folder)
        added = folder not in sys.path
        if added:
            sys.path.insert(0, folder)
        try:
            yield
        finally:
            os.chdir(previous)
            if added and folder in sys.path:
                sys.path.remove(folder)

    @contextlib.contextmanager
    def _running(self, env_py: bool = True) -> Iterator[io.StringIO]:
        """Capture what env.py and Alembic print, so it shows only with --verbose (see `output`). For a run of
        env.py, also what it needs around it: a Flask application context for Flask-Migrate's env.py."""
        buffer = io.StringIO()
        self.config.stdout = buffer
        try:
            with self._project_cwd(), contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer), \
                    contextlib.ExitStack() as around:
                if env_py and self.flask_app:
                    try:
                        around.enter_context(application_context(self.location.project_dir, self.env_py))
                    except CheckError:
                        raise
                    except Exception as exc:  # the project's create_app(): anything can come out of it
                        signals.raise_if_received()
                        raise self._file_error(exc, "Loading the Flask application") from None
                yield buffer
        finally:
            self.output += buffer.getvalue()

    def _run_env(self) -> None:
        """Run env.py as the project's own command runs it: in an AnyIO worker thread when env.py hands its
        async work back to the event loop with anyio.from_thread (its CLI then calls Alembic from
        anyio.to_thread.run_sync), else in this thread, as `alembic` does."""
        if not self.needs_worker_thread:
            self.script.run_env()
            return
        import anyio
        import anyio.to_thread

        anyio.run(anyio.to_thread.run_sync, self.script.run_env)

    def _run_env_or_fail(self, environment: EnvironmentContext, what: str) -> None:
        """One run of env.py in which any error is the project's: it says the file and line."""
        try:
            with environment:
                self._run_env()
        except CheckError:
            raise
        except Exception as exc:
            signals.raise_if_received()
            raise self._file_error(exc, what) from None

    @property
    def needs_worker_thread(self) -> bool:
        try:
            source = self.env_py.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return bool(_HANDS_BACK_TO_THE_LOOP.search(source))

    def point_at(self, url: str, identity: Identity) -> None:
        """Give env.py the scratch database's URL, and refuse from then on to run migrations anywhere else:
        a project whose settings fall back to a developer's database must not be migrated, let alone
        downgraded, there. identity is IDENTITY_SQL's answer on the scratch database."""
        # ConfigParser treats % as interpolation, so a password with % must be doubled.
        self.config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
        self.scratch_url = make_url(url)
        self.scratch_identity = identity

    def scratch_database_recreated(self, identity: Identity) -> None:
        """The scratch database was made again under its name: the same URL now leads to a new database."""
        self.scratch_identity = identity

    def _environment(
        self, fn: Callable[[Any, Any], list[Any]], observe: Observer | None = None, **options: Any
    ) -> tuple[EnvironmentContext, _RunState]:
        """The context for one run of env.py. Its configure() checks the connection env.py gives it, and, with
        observe, adds our callback after each step to whatever env.py passes (observe(step index, context))."""
        environment = EnvironmentContext(self.config, self.script, fn=fn, as_sql=False, **options)
        state = _RunState()
        configure = environment.configure

        def configure_checked(*args: Any, **kwargs: Any) -> None:
            connection = kwargs["connection"] if "connection" in kwargs else (args[0] if args else None)
            if connection is not None:
                self._require_scratch(connection)
            if observe is not None:
                kwargs["on_version_apply"] = _after_each_step(kwargs.get("on_version_apply"), observe, state)
            configure(*args, **kwargs)
            state.configured = True

        # The module-level `context.configure` is bound from the instance when the context is entered, so an
        # instance attribute is enough (a subclass would not get Alembic's module proxy).
        environment.configure = configure_checked  # type: ignore[method-assign]
        return environment, state

    def _require_scratch(self, connection: Any) -> None:
        """Ask the very connection env.py hands to configure() which database it is on: its URL proves nothing,
        since connect_args, a creator function or the driver's own defaults can lead anywhere."""
        self.used_driver = getattr(connection.dialect, "driver", None)
        if self.scratch_identity is None:
            return
        url = connection.engine.url
        shown = url.render_as_string(hide_password=True)
        dialect = connection.dialect.name
        if dialect != "postgresql":
            raise UsageError(
                f"{self.env_py.name} connected to a {dialect} database ({shown}), not to the PostgreSQL scratch "
                "database migration-check created for this check. No migration was run there.",
                fix=_POINT_AT_SCRATCH,
                file=self.env_py,
            )
        try:
            identity = _identity_of(connection)
        except Exception as exc:
            raise UsageError(
                f"{self.env_py.name} handed context.configure() a connection that cannot say which database it is "
                f"on ({shown}): {database_error_message(exc).splitlines()[0]}. No migration was run.",
                fix=_POINT_AT_SCRATCH,
                file=self.env_py,
            ) from None
        if identity == self.scratch_identity:
            return
        place = "on the same server" if identity[2:] == self.scratch_identity[2:] else "on another server"
        raise UsageError(
            f"{self.env_py.name} connected to database {identity[0]!r} {place} ({shown}), not to the scratch "
            "database migration-check created for this check. No migration was run there.",
            fix=_POINT_AT_SCRATCH,
            file=self.env_py,
        )

    def version_folders(self) -> tuple[Path, ...]:
        """The folders that hold the revision files, as configured (version_locations, else versions/)."""
        configured = self.script.version_locations
        folders = [Path(p) for p in configured] if configured else [Path(self.script.dir) / "versions"]
        return tuple((p if p.is_absolute() else self.location.project_dir / p).resolve() for p in folders)

    @property
    def recursive_versions(self) -> bool:
        return bool(getattr(self.script, "recursive_version_locations", False))  # Alembic 1.10+

    def revision_files(self) -> dict[Path, str]:
        """{resolved file: revision}, read once per script directory (the round trip's runs each ask; resolving
        800 paths costs 0.2 s a time)."""
        known = getattr(self, "_files_of_script", None)
        if known is None or known[0] is not self.script:
            known = self._files_of_script = (self.script, {Path(rev.path).resolve(): rev.revision
                                                           for rev in self.script.walk_revisions() if rev.path})
        return dict(known[1])

    def _file_error(self, exc: BaseException, what: str) -> ProjectLoadError:
        """Turn an exception raised while loading project code into an error that names the file and line."""
        project = str(self.location.project_dir)
        chain = _exception_chain(exc)
        project_frames = [
            frame for link in chain for frame in traceback.extract_tb(link.__traceback__)
            if _is_projects_own(frame.filename, project)
        ]
        file: str | None = None
        line: int | None = None
        if isinstance(exc, SyntaxError) and exc.filename:
            file, line = exc.filename, exc.lineno
        elif project_frames:
            file, line = project_frames[-1].filename, project_frames[-1].lineno
        missing = next((link for link in chain if isinstance(link, ModuleNotFoundError)), None)
        fix = "Fix the error above, then run the check again."
        if isinstance(exc, SyntaxError):
            fix = "Fix the syntax error at that line; Alembic reads every migration file before it runs any."
        elif missing is not None:
            name = missing.name or "the missing module"
            fix = (
                f"If {name} is a dependency, install it where migration-check runs (the project's dependencies "
                f"must be installed there; for a driver you do not use, pass --driver). If {name} is the "
                "project's own code, run the check on the folder it is importable from (PATH), or set "
                "prepend_sys_path in the Alembic configuration."
            )
        elif any(isinstance(link, (sa_exc.OperationalError, sa_exc.InterfaceError, ConnectionError))
                 for link in chain):
            fix = (
                "env.py could not reach the database. Make it connect with the URL migration-check gives it: "
                "sqlalchemy.url, DATABASE_URL, the variables named with --url-env, or the parts given with --env."
            )
            explained = connection_errors.explain([str(link) for link in chain], self.scratch_url,
                                                  self.location.project_dir, self.location.main_file)
            if explained is not None:
                return ProjectLoadError(
                    explained, fix=fix, file=file, line=line,
                    detail="\n".join(f"{f.filename}:{f.lineno}: {(f.line or '').strip()}"
                                      for f in project_frames[-4:]) or None,
                    traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                )
        elif (flags := connection_errors.missing_settings_flags(chain)) is not None:
            fix = f"Give the settings the values they lack, for example: {flags}"
        elif isinstance(exc, KeyError) or re.search(r"environ|setting|variable", str(exc), re.IGNORECASE):
            fix = "Give the settings the project needs with --env KEY=VALUE, and the URL's variable with --url-env."
        where = [f"{f.filename}:{f.lineno}: {(f.line or '').strip()}" for f in project_frames[-4:]]
        return ProjectLoadError(
            f"{what} failed: {type(exc).__name__}: {exc}",
            fix=fix,
            file=file,
            line=line,
            detail="\n".join(where) or None,
            traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )

    # -- what the stages call --------------------------------------------------------------------------------

    def discover_version_locations(self) -> bool:
        """An env.py that sets context.script.version_locations itself (say, one folder per database dialect):
        Alembic reads the revisions only after env.py ran, so run it once with nothing to do, as `alembic
        current` would, and take the folders it set. Returns whether they changed."""
        try:
            source = self.env_py.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        if "version_locations" not in source:
            return False
        before = [str(folder) for folder in self.script.version_locations or ()]
        with self._running():
            self._run_env_or_fail(self._environment(lambda _revision, _context: [])[0], f"Running {self.env_py.name}")
        after = [str(folder) for folder in self.script.version_locations or ()]
        if after == before:
            return False
        self.script = self._script_directory(after)
        return True

    def load_revisions(self) -> dict[Path, str]:
        """Read every migration file, so that syntax and import errors surface before anything runs."""
        with self._running(env_py=False):
            try:
                heads = self.script.get_heads()
                files = self.revision_files()
            except CheckError:
                raise
            except (KeyError, RevisionError) as exc:
                raise ProjectLoadError(
                    f"Alembic cannot load the revision graph: {type(exc).__name__}: {exc}",
                    fix="Make each down_revision and depends_on name a revision that exists, with no cycle "
                    "(the graph stage, on by default, says which file).",
                    file=self.version_folders()[0],
                ) from None
            except Exception as exc:
                signals.raise_if_received()
                raise self._file_error(exc, "Reading the migration files") from None
        del heads  # read for its errors: an empty history is a project that has not started yet
        return files

    def upgrade(self, destination: str | tuple[str, ...] = "heads") -> MigrationFailure | None:
        """`alembic upgrade heads` (or up to the given revisions). A migration that raises is a failure; anything
        else cannot run (exit 2)."""
        revision_files = self.revision_files()
        with self._running() as log:
            def upgrade(revision: Any, _context: Any) -> list[Any]:
                return list(self.script._upgrade_revs(destination, revision))  # what `alembic upgrade` runs

            environment, state = self._environment(upgrade, destination_rev=destination)
            try:
                with environment:
                    self._run_env()
                return None
            except CheckError:
                raise  # ours, such as Interrupted from a signal handler: not the migration's fault
            except Exception as exc:  # the project's own code: anything can come out of it
                signals.raise_if_received()
                failure = self._migration_failure(exc, revision_files, log.getvalue()) if state.configured else None
                if failure is None:
                    raise self._file_error(exc, f"Running {self.env_py.name}") from None
                return failure
            except SystemExit as exc:
                raise ProjectLoadError(
                    f"{self.env_py.name} called sys.exit({exc.code}).",
                    fix="Make env.py raise an exception instead of exiting, so its reason can be shown.",
                    file=self.env_py,
                ) from None

    def _migration_failure(
        self, exc: BaseException, revision_files: dict[Path, str], log: str
    ) -> MigrationFailure | None:
        """A failure inside a migration's own code: the deepest frame in a revision file names the line."""
        in_revision = _lines_in(exc, set(revision_files))
        statement = getattr(exc, "statement", None)
        if in_revision:
            path, line = in_revision[-1]
            return MigrationFailure(revision_files[path], path, line, database_error_message(exc), statement, log)
        if isinstance(exc, sa_exc.DBAPIError):
            # Raised outside a migration's own code (a deferred constraint at commit, say): take the revision
            # from Alembic's "Running upgrade" log lines where env.py's logging shows them.
            running = re.findall(r"Running upgrade [\w, ()]* -> (\w+)", log)
            revision = running[-1] if running else None
            path = next((p for p, r in revision_files.items() if r == revision), None)
            return MigrationFailure(revision, path, None, database_error_message(exc), statement, log)
        return None

    def ordered_revisions(self) -> list[str]:
        """Every revision, each after all of its parents (walk_revisions goes from the heads down)."""
        return [script.revision for script in reversed(list(self.script.walk_revisions()))]

    def run_steps(self, steps: list[Step], observe: Observer,
                  events: Sequence[tuple[str, Callable[..., None]]] = ()) -> StepsRun:
        """Run the planned steps in one pass of the project's env.py (so its engine, driver and settings apply),
        calling observe(step index, migration context, StepResult) after each, and
        observe(BEFORE_FIRST_STEP, context, None) once env.py and Alembic have set up (say, a schema for the
        version table, and the version table) and no step has run yet.

        Undo groups are tried and taken back (see Step); a failure in one is recorded and the run goes on. Any
        other failure ends the run. `events`: SQLAlchemy connection events (name, listener) to attach to env.py's
        connection for the run, such as a statement capture's.
        """
        if not steps:
            return StepsRun([], None, 0, ())
        revision_files = {revision: path for path, revision in self.revision_files().items()}
        # a connection env.py may use again, and our listeners on it
        listening: list[tuple[Any, str, Callable[..., None]]] = []

        def attribute(exc: Exception, index: int) -> StepFailure | None:
            """The failure of step index, or None when the error is not the migration's (env.py, the project)."""
            path = revision_files.get(steps[index].revision)
            lines = _lines_in(exc, {path} if path else set())
            if not lines and not isinstance(exc, sa_exc.DBAPIError):
                return None
            return StepFailure(index, path, lines[-1][1] if lines else None, database_error_message(exc))

        def plan(_revision: Any, context: Any) -> list[Any]:
            observe(BEFORE_FIRST_STEP, context, None)
            if context.connection is not None:
                listener = _note_enum_values(state)
                sa.event.listen(context.connection, "before_cursor_execute", listener)
                listening.append((context.connection, "before_cursor_execute", listener))
                for name, callback in events:
                    sa.event.listen(context.connection, name, callback)
                    listening.append((context.connection, name, callback))
            state.heads = tuple(context.get_current_heads())
            revisions = self.script.revision_map
            planned = []
            for index, step in enumerate(steps):
                alembic_step = _Step(revisions, self.script.get_revision(step.revision), step.upgrade)
                alembic_step.migration_fn = _guarded(alembic_step.migration_fn, index, step, context, state,
                                                     attribute)
                planned.append(alembic_step)
            return planned

        with self._running(), _bound_version_writes():
            environment, state = self._environment(plan, observe)
            state.steps = steps
            state.last_of_group = {step.undo_group: index for index, step in enumerate(steps)
                                   if step.undo_group is not None}
            try:
                with environment:
                    self._run_env()
                return StepsRun(list(state.failures.values()), None, state.completed, tuple(state.skipped))
            except CheckError:
                raise
            except Exception as exc:
                signals.raise_if_received()
                index = state.completed
                failure = attribute(exc, index) if state.configured and index < len(steps) else None
                if failure is None:
                    # not raised by a migration: env.py or the project failed to load or connect
                    raise self._file_error(exc, f"Running {self.env_py.name}") from None
                return StepsRun(list(state.failures.values()), failure, state.completed, tuple(state.skipped))
            finally:
                for connection, name, listener in listening:
                    with contextlib.suppress(Exception):
                        sa.event.remove(connection, name, listener)

    def known(self, revision: str) -> bool:
        """Whether the revision is in the repository's graph."""
        try:
            return self.script.get_revision(revision) is not None
        except Exception:  # RevisionError, or a partial identifier that matches several
            return False

    def pending(self, current: tuple[str, ...]) -> list[PendingRevision]:
        """The revisions `alembic upgrade heads` would apply to a database at these revisions, in order."""
        steps = self.script._upgrade_revs("heads", current)
        found = []
        for step in steps:
            script = self.script.get_revision(step.revision.revision)
            found.append(PendingRevision(script.revision, (script.doc or "").strip(),
                                         Path(script.path).resolve() if script.path else None))
        return found

    def comparison_options(self) -> ComparisonOptions:
        """The options env.py gives context.configure() (target_metadata, include_object, compare_type, the
        version table...), taken from one run of env.py on the scratch database: the audit compares live
        databases with the models through them, without running env.py there."""
        captured: dict[str, Any] = {}

        def collect(_revision: Any, context: Any) -> list[Any]:
            captured["opts"] = dict(context.opts)
            return []

        self._collect(collect, captured, "opts", "Reading the comparison options", "its options could not be read")
        opts = captured["opts"]
        if opts.get("target_metadata") is None:
            raise UsageError(
                "env.py passes no target_metadata to context.configure(), so there are no models to compare with.",
                fix="Pass target_metadata=Base.metadata (your models' MetaData) to context.configure() in env.py.",
                file=self.env_py,
            )
        # what belongs to one run, not to a comparison
        for key in ("fn", "destination_rev", "starting_rev", "tag", "on_version_apply", "as_sql"):
            opts.pop(key, None)
        return ComparisonOptions(opts, opts.get("version_table") or "alembic_version",
                                 opts.get("version_table_schema"))

    def compare_on(self, connection: Any, options: ComparisonOptions,
                   excluded_schemas: tuple[str, ...]) -> Comparison:
        """Autogenerate's comparison of the models with the database behind connection (SQLAlchemy, sync), with
        env.py's options but without env.py: Alembic only reads the catalogs through it. Nothing is redirected or
        changed process-wide, so that the audit can call it from its worker threads (one at a time)."""
        context = MigrationContext.configure(connection=connection, opts=dict(options.opts))
        return _comparison(context, options.opts["target_metadata"], excluded_schemas, lambda: "")

    def roots(self) -> set[str]:
        """The revisions that start the history (down_revision None)."""
        return {script.revision for script in self.script.walk_revisions() if not script.down_revision}

    def compare(self, excluded_schemas: tuple[str, ...]) -> Comparison:
        """Alembic's autogenerate comparison (what `alembic check` runs), through the project's env.py.

        The project's process_revision_directives is not called: it may empty the directives when nothing
        changed, which crashes `alembic check` on some versions, and we only need the comparison itself.
        """
        captured: dict[str, Any] = {}

        def collect(_revision: Any, context: Any) -> list[Any]:
            metadata = context.opts.get("target_metadata")
            if metadata is None:
                raise UsageError(
                    "env.py passes no target_metadata to context.configure(), so there are no models to "
                    "compare with.",
                    fix="Pass target_metadata=Base.metadata (your models' MetaData) to context.configure() in "
                    "env.py.",
                    file=self.env_py,
                )
            captured["comparison"] = _comparison(context, metadata, excluded_schemas, lambda: "")
            return []

        comparison: Comparison = self._collect(collect, captured, "comparison", "Comparing the models",
                                               "nothing was compared")
        comparison.log = self._last_output
        return comparison

    def _collect(self, collect: Callable[[Any, Any], list[Any]], captured: dict[str, Any], key: str, what: str,
                 otherwise: str) -> Any:
        """One run of env.py whose only step is collect(), which puts what it found in captured[key]."""
        with self._running() as log:
            self._run_env_or_fail(self._environment(collect)[0], f"{what} ({self.env_py.name})")
        self._last_output = log.getvalue()
        if key not in captured:
            raise ProjectLoadError(
                f"{self.env_py.name} never called context.run_migrations(), so {otherwise}.",
                fix="Make env.py's online mode call context.run_migrations() inside context.begin_transaction().",
                file=self.env_py,
            )
        return captured[key]


def _comparison(context: Any, metadata: Any, excluded_schemas: tuple[str, ...],
                log: Callable[[], str]) -> Comparison:
    """Run autogenerate in a migration context and keep what the stages read."""
    script = autogenerate.produce_migrations(context, metadata)
    upgrade_ops = script.upgrade_ops
    upgrade_ops.ops = [op for op in upgrade_ops.ops if getattr(op, "schema", None) not in excluded_schemas]
    changed = not upgrade_ops.is_empty()
    return Comparison(
        diffs=_flatten(upgrade_ops.as_diffs()),
        upgrade_code=_render(upgrade_ops, context) if changed else None,
        downgrade_code=_render(upgrade_ops.reverse(), context) if changed else None,
        ops=upgrade_ops,
        log=log(),
        metadata=list(metadata) if isinstance(metadata, (list, tuple)) else [metadata],
    )


class _Step(RevisionStep):
    """Alembic's step, without its walk through the whole history on every downgrade.

    To decide how the version table changes, a downgrade step removes from the revisions it goes to those that
    are ancestors of the others. With one revision to go to and no other head there is nothing to remove, but
    Alembic still collects every ancestor: a cost in proportion to the history's depth on each step, so
    quadratic over a long history (a quarter of the round trip's time at 800 revisions). Everything else is
    Alembic's own (Alembic 1.9 to 1.20 have this method and these semantics).
    """

    def _unmerge_to_revisions(self, heads: Any) -> tuple[str, ...]:
        to_revisions = tuple(self.to_revisions)
        if len(to_revisions) == 1 and set(heads) <= {self.revision.revision}:
            return to_revisions
        return tuple(super()._unmerge_to_revisions(heads))


class _BoundVersionWrites(HeadMaintainer):
    """Alembic's record of the heads, its one UPDATE per step sent as one statement with bound parameters.
    Alembic builds and compiles a new statement for each step, the revision ids being literals in its SQL: 1.1 ms
    a step, against 0.3 ms for the write itself (a stairway of 800 revisions: 3.5 s of 17). The same row is
    written, with the same check of the row count; inserts and deletes (branches) stay Alembic's."""

    def _update_version(self, from_: str, to_: str) -> None:
        assert to_ not in self.heads
        self.heads.remove(from_)
        self.heads.add(to_)
        table = self.context._version
        statement = getattr(self.context, "_migration_check_version_update", None)
        if statement is None:  # built once per run: SQLAlchemy's compiled cache does the rest
            statement = table.update().values(version_num=sa.bindparam("new")).where(
                table.c.version_num == sa.bindparam("old"))
            self.context._migration_check_version_update = statement
        result = self.context.connection.execute(statement, {"new": to_, "old": from_})
        if self.context.dialect.supports_sane_rowcount and result.rowcount != 1:
            raise CommandError(f"Online migration expected to match one row when updating '{from_}' to '{to_}' in "
                               f"'{self.context.version_table}'; {result.rowcount} found")


@contextlib.contextmanager
def _bound_version_writes() -> Iterator[None]:
    """Our runs' version-table updates through _BoundVersionWrites: Alembic's run_migrations() makes its
    HeadMaintainer from the module's name at call time. Left alone where Alembic's differs (a version without
    _update_version)."""
    if not hasattr(HeadMaintainer, "_update_version") or alembic_migration.HeadMaintainer is not HeadMaintainer:
        yield
        return
    alembic_migration.HeadMaintainer = _BoundVersionWrites  # type: ignore[misc]
    try:
        yield
    finally:
        alembic_migration.HeadMaintainer = HeadMaintainer  # type: ignore[misc]


@dataclass(frozen=True)
class Step:
    """One migration run in one direction, as the round trip plans it."""

    revision: str
    upgrade: bool
    # Steps of one undo group are tried, then taken back: they run inside one savepoint, which is rolled back
    # once the last of them has been observed, or as soon as one fails (the failure is recorded, the group's
    # other steps are skipped, and the run goes on). A commit in between (transaction_per_migration, an
    # autocommit block) ends the savepoint: then what ran stays, and a failure after it ends the run.
    undo_group: int | None = None


@dataclass(frozen=True)
class StepFailure:
    index: int  # which step of the plan raised
    file: Path | None
    line: int | None
    error: str


@dataclass(frozen=True)
class StepsRun:
    recovered: list[StepFailure]  # failures in undo groups, taken back; the run went on after each
    stopped: StepFailure | None  # the failure that ended the run, if one did
    completed: int  # steps that ran to their end (a recovered failure counts, a stopping one does not)
    skipped: tuple[int, ...]  # steps not run, since an earlier step of their undo group had failed

    @property
    def ran(self) -> int:
        """Steps whose migration code ran, including the one that stopped the run."""
        return self.completed - len(self.skipped) + (self.stopped is not None)


@dataclass(frozen=True)
class StepResult:
    failure: StepFailure | None  # the step failed and was taken back with its undo group
    taken_back: bool  # after this step the database is again where the step's undo group began


Observer = Callable[[int, Any, Optional[StepResult]], None]  # Optional: evaluated at import, on Python 3.9 too


BEFORE_FIRST_STEP = -1  # the index run_steps() observes before the first step


@dataclass
class _RunState:
    configured: bool = False  # env.py got through configure(): what fails after that is a migration's fault
    completed: int = 0  # steps done
    failures: dict[int, StepFailure] = field(default_factory=dict)  # recovered failures, by step index
    skipped: list[int] = field(default_factory=list)
    failed_groups: set[int] = field(default_factory=set)
    savepoints: dict[int, Any] = field(default_factory=dict)  # each undo group's, once its first step began
    heads: tuple[str, ...] = ()  # the version table's heads, as Alembic sees them, after the last step
    steps: list[Step] = field(default_factory=list)
    last_of_group: dict[int, int] = field(default_factory=dict)
    enum_value_added: bool = False  # the step running sent ALTER TYPE ... ADD VALUE


def _guarded(
    migration_fn: Callable[..., None],
    index: int,
    step: Step,
    context: Any,
    state: _RunState,
    attribute: Callable[[Exception, int], StepFailure | None],
) -> Callable[..., None]:
    """The step's migration function, run as its undo group says: inside the group's savepoint, or not at all
    when an earlier step of the group failed."""
    group = step.undo_group
    if group is None:
        return migration_fn

    def run(**kwargs: Any) -> None:
        if group in state.failed_groups:
            state.skipped.append(index)
            return
        savepoint = state.savepoints.get(group)
        if savepoint is None:
            savepoint = state.savepoints[group] = context.connection.begin_nested()
        elif not savepoint.is_active:
            # a commit in between (transaction_per_migration, an autocommit block) ended the savepoint: what
            # the group did can no longer be taken back, so a failure here ends the run
            migration_fn(**kwargs)
            return
        try:
            migration_fn(**kwargs)
        except Exception as exc:
            signals.raise_if_received()
            failure = attribute(exc, index)
            if failure is None or not savepoint.is_active:
                raise
            try:
                _take_back(savepoint, context.connection)
                # the rollback also took back the group's earlier version moves, which Alembic still counts on
                _write_version_table(context, state.heads)
            except Exception:
                raise exc from None
            state.failures[index] = failure
            state.failed_groups.add(group)

    return run


def _take_back(savepoint: Any, connection: Any) -> None:
    """Roll back to the savepoint, and release it. PostgreSQL keeps a savepoint after ROLLBACK TO, and SQLAlchemy
    does not release it: the next group's savepoint would nest inside, and a stairway of 800 revisions would end
    800 subtransactions deep, each statement slower than the one before (4x the time at 800 revisions)."""
    savepoint.rollback()
    name = getattr(savepoint, "_savepoint", None)  # SQLAlchemy 1.4 and 2.x name it so
    if name:
        connection.exec_driver_sql(f"RELEASE SAVEPOINT {name}")


def _write_version_table(context: Any, heads: tuple[str, ...]) -> None:
    """Make the version table hold these heads (Alembic's own record of where the run is)."""
    table = sa.table(context.version_table, sa.column("version_num"), schema=context.version_table_schema)
    context.connection.execute(table.delete())
    if heads:
        context.connection.execute(table.insert(), [{"version_num": head} for head in heads])


def _after_each_step(projects_callback: Callable[..., None] | None, observe: Observer,
                     state: _RunState) -> Callable[..., None]:
    """An on_version_apply callback: the project's own first, then ours; last, the end of an undo group."""

    def after_step(**info: Any) -> None:
        if projects_callback is not None:
            projects_callback(**info)
        # SQLAlchemy notes in the DDL runner (Alembic's impl, alive for the whole run) which enum types it
        # created, and skips them the next time; separate `alembic` commands start afresh, so we do too.
        memo = getattr(info["ctx"].impl, "memo", None)
        if isinstance(memo, dict):
            memo.clear()
        index = state.completed
        state.completed += 1
        state.heads = tuple(info["heads"])
        group = state.steps[index].undo_group
        failure = state.failures.get(index)
        ends_group = group is not None and state.last_of_group[group] == index
        # no later step of the group needs its savepoint: drop it, so that a long stairway keeps none around
        savepoint = (state.savepoints.pop(group, None) if ends_group else state.savepoints.get(group)) \
            if group is not None else None
        take_back = failure is None and ends_group and savepoint is not None and savepoint.is_active
        if index not in state.skipped:
            observe(index, info["ctx"], StepResult(failure, taken_back=failure is not None or take_back))
        if take_back:
            # the group was tried; what follows starts from where it began, as if it had never run (the version
            # table too: the group's moves end where they started)
            _take_back(savepoint, info["ctx"].connection)
        following = state.steps[index + 1] if index + 1 < len(state.steps) else None
        if state.enum_value_added and following is not None and following.undo_group not in (None, group):
            _commit_so_far(info["ctx"])
        state.enum_value_added = False

    return after_step


_ADDS_ENUM_VALUE = re.compile(r"\bALTER\s+TYPE\b.*\bADD\s+VALUE\b", re.IGNORECASE | re.DOTALL)


def _note_enum_values(state: _RunState) -> Callable[..., None]:
    """A before_cursor_execute listener that notes a value added to an enum type."""

    def note(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not state.enum_value_added and _ADDS_ENUM_VALUE.search(statement):
            state.enum_value_added = True

    return note


def _commit_so_far(context: Any) -> None:
    """Commit what ran and go on in a new transaction, as Alembic's autocommit_block() does.

    A value added to an enum type cannot be used in the transaction that added it (PostgreSQL 15 refuses even a
    comparison with it in a WHERE clause), while a real downgrade runs after its upgrade was committed. Without
    this, the stairway would report downgrades that work. Only Alembic's own transaction can be committed so; an
    external one (env.py began it) or one per migration (which commits anyway) is left alone."""
    transaction = getattr(context, "_transaction", None)
    if transaction is None or not transaction.is_active or getattr(context, "_transaction_per_migration", False):
        return
    transaction.commit()
    context._transaction = context.connection.begin()


def _render(ops: Any, context: Any) -> str:
    """Render operations as Alembic's autogenerate would, with the project's rendering options."""
    options = {
        "sqlalchemy_module_prefix": context.opts.get("sqlalchemy_module_prefix", "sa."),
        "alembic_module_prefix": context.opts.get("alembic_module_prefix", "op."),
        "render_as_batch": context.opts.get("render_as_batch", False),
        "render_item": context.opts.get("render_item"),
        "user_module_prefix": context.opts.get("user_module_prefix"),
    }
    try:
        return autogenerate.render_python_code(ops, **options)
    except TypeError:  # Alembic before 1.11 takes no user_module_prefix
        options.pop("user_module_prefix")
        return autogenerate.render_python_code(ops, **options)


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    """as_diffs() groups the modify_* changes of one column in a list; give one tuple per change."""
    flat: list[tuple[Any, ...]] = []
    for diff in diffs:
        if isinstance(diff, list):
            flat.extend(tuple(item) for item in diff)
        else:
            flat.append(tuple(diff))
    return flat
