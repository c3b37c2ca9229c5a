"""Stage: apply every migration from scratch (`alembic upgrade heads`) on the empty scratch database."""

from __future__ import annotations

import re
from pathlib import Path

from migration_check.alembic_runner import AlembicProject
from migration_check.findings import Finding
from migration_check.paths import relative_to_root
from migration_check.rules import UPGRADE_FAILED
from migration_check.stages.volume.rules import CONCURRENTLY_IN_TRANSACTION

_CONCURRENTLY = re.compile(r"(CREATE|DROP|REINDEX) INDEX CONCURRENTLY cannot run inside a transaction block",
                           re.IGNORECASE)

# Failures that mean "something the migrations expect is created outside them", and how to provide it.
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'schema "auth" does not exist|relation "auth\.|function auth\.'),
     "The migrations expect Supabase's auth schema: run with --preset supabase."),
    (re.compile(r'type "(?:\w+\.)?(?P<name>vector|halfvec|sparsevec|citext|hstore|ltree|geometry|geography|'
                r'cube|earth)" does not exist'),
     "The type {name} comes from the {extension} extension, which the migrations expect to exist: create it first "
     "in a migration, or with --setup-sql holding CREATE EXTENSION IF NOT EXISTS {extension};"),
    (re.compile(r'extension "(?P<name>[^"]+)" is not available'),
     "This PostgreSQL build lacks the {name} extension. Run the check on a server that has it: --postgres-bin "
     "with binaries that ship it (Debian's postgresql packages and their extension packages, e.g. "
     "/usr/lib/postgresql/17/bin), or --database-url (in the Action, a service container with it, such as "
     "postgis/postgis)."),
    (re.compile(r'function (?P<name>crypt|gen_salt|pgp_\w+|encrypt|decrypt|encrypt_iv|decrypt_iv|armor|dearmor)'
                r'\(.*\) does not exist'),
     "{name}() comes from pgcrypto: create it first (CREATE EXTENSION pgcrypto). The throwaway server's "
     "embedded build has only migration-check's stand-in for pgcrypto (digest, hmac, gen_random_bytes, "
     "gen_random_uuid); for {name}() use a server with the real one: --postgres-bin /usr/lib/postgresql/17/bin "
     "(Debian's postgresql package) or --database-url."),
    (re.compile(r'function (?P<name>gen_random_uuid|uuid_generate_v4|similarity)\(.*\) does not exist'),
     "The function comes from an extension (pgcrypto, uuid-ossp, pg_trgm): create it with --setup-sql."),
    (re.compile(r'(?s)schema "(?P<name>[^"]+)" does not exist.*CREATE TABLE "?(?P=name)"?\."?\w*version\w*"? \('),
     "Alembic creates its version table in schema {name} (version_table_schema in env.py's configure()) before "
     "the first migration runs, so that schema must exist first: create it with --setup-sql (CREATE SCHEMA "
     "{name};), or in env.py before run_migrations() (connection.execute(text('CREATE SCHEMA IF NOT EXISTS "
     "{name}')), then commit)."),
    (re.compile(r'schema "(?P<name>[^"]+)" does not exist'),
     "If the schema is created outside the migrations, create it with --setup-sql; otherwise add a migration "
     "that creates it."),
    (re.compile(r'role "(?P<name>[^"]+)" does not exist'),
     "If the role is created outside the migrations, create it with --setup-sql (CREATE ROLE ... NOLOGIN)."),
)


_EXTENSION_OF_TYPE = {"vector": "vector", "halfvec": "vector", "sparsevec": "vector", "geometry": "postgis",
                      "geography": "postgis", "earth": "earthdistance"}
# A history whose first revision expects tables: they come from a bootstrap (create_all, then stamp).
_EXPECTS_TABLES = re.compile(r'relation "(?P<name>[^"]+)" does not exist')


def hint_for(error: str, first: bool = False) -> str | None:
    """first: the failing revision is the history's first, which runs on an empty database."""
    for pattern, hint in _HINTS:
        match = pattern.search(error)
        if match:
            fields = match.groupdict()
            if "name" in fields:
                fields["extension"] = _EXTENSION_OF_TYPE.get(fields["name"], fields["name"])
            return hint.format(**fields)
    expected = _EXPECTS_TABLES.search(error)
    if first and expected:
        return (f"The first migration expects {expected['name']} to exist, so the history cannot be replayed on an "
                "empty database: the project creates its first tables another way (a create_all bootstrap, then "
                "alembic stamp). Give that bootstrap's SQL with --setup-sql (pg_dump --schema-only of a fresh "
                "bootstrap, say), or add a migration that creates them.")
    return None


def upgrade_failure(revision: str | None, file: str | None, line: int | None, error: str,
                    statement: str | None = None, first: bool = False) -> Finding:
    """The upgrade-failed finding, with the statement and a hint where the failure suggests one."""
    where = f"revision {revision}" if revision else "a migration"
    details: dict[str, object] = {"error": error}
    if statement:
        details["statement"] = statement.strip()
    hint = hint_for(error, first)
    if hint:
        details["hint"] = hint
    if _CONCURRENTLY.search(error) or (statement and "CONCURRENTLY" in statement.upper()
                                       and "transaction block" in error):
        return Finding(CONCURRENTLY_IN_TRANSACTION.id, CONCURRENTLY_IN_TRANSACTION.severity,
                       f"Revision {revision or '?'} builds or drops an index CONCURRENTLY inside the migration's "
                       f"transaction, which PostgreSQL refuses: {error.splitlines()[0]}", file, line, revision,
                       details)
    return Finding(UPGRADE_FAILED.id, UPGRADE_FAILED.severity, f"Applying {where} failed: {error.splitlines()[0]}",
                   file, line, revision, details)


def check_upgrade(project: AlembicProject, root: Path) -> list[Finding]:
    failure = project.upgrade()
    if failure is None:
        return []
    first = failure.revision is not None and failure.revision in project.roots()
    return [upgrade_failure(failure.revision, relative_to_root(failure.file, root), failure.line, failure.error,
                            failure.statement, first)]
