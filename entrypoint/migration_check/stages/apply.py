"""Stage: apply every migration from scratch (`alembic upgrade heads`) on the empty scratch database."""

from __future__ import annotations

import re
from pathlib import Path

from migration_check.alembic_runner import AlembicProject
from migration_check.findings import Finding
from migration_check.paths import relative_to_root
from migration_check.rules import UPGRADE_FAILED

# Failures that mean "something the migrations expect is created outside them", and how to provide it.
_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'schema "auth" does not exist|relation "auth\.|function auth\.'),
     "The migrations expect Supabase's auth schema: run with --preset supabase."),
    (re.compile(r'type "(?P<name>vector|citext|hstore|ltree|geometry|geography)" does not exist'),
     "The type comes from an extension: create it first, e.g. --setup-sql with CREATE EXTENSION IF NOT EXISTS ..."),
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
    (re.compile(r'schema "(?P<name>[^"]+)" does not exist'),
     "If the schema is created outside the migrations, create it with --setup-sql; otherwise add a migration "
     "that creates it."),
    (re.compile(r'role "(?P<name>[^"]+)" does not exist'),
     "If the role is created outside the migrations, create it with --setup-sql (CREATE ROLE ... NOLOGIN)."),
)


def hint_for(error: str) -> str | None:
    for pattern, hint in _HINTS:
        match = pattern.search(error)
        if match:
            return hint.format(**match.groupdict())
    return None


def upgrade_failure(revision: str | None, file: str | None, line: int | None, error: str,
                    statement: str | None = None) -> Finding:
    """The upgrade-failed finding, with the statement and a hint where the failure suggests one."""
    where = f"revision {revision}" if revision else "a migration"
    details: dict[str, object] = {"error": error}
    if statement:
        details["statement"] = statement.strip()
    hint = hint_for(error)
    if hint:
        details["hint"] = hint
    return Finding(UPGRADE_FAILED.id, UPGRADE_FAILED.severity, f"Applying {where} failed: {error.splitlines()[0]}",
                   file, line, revision, details)


def check_upgrade(project: AlembicProject, root: Path) -> list[Finding]:
    failure = project.upgrade()
    if failure is None:
        return []
    return [upgrade_failure(failure.revision, relative_to_root(failure.file, root), failure.line, failure.error,
                            failure.statement)]
