"""The volume stage's rules: what each new migration was seen to do on tables filled with rows."""

from __future__ import annotations

from migration_check.findings import Severity
from migration_check.rules import Rule, dedent, register

BLOCKING_LOCK = register(Rule(
    id="blocking-lock",
    severity=Severity.WARNING,
    stage="volume",
    title="A migration holds a lock that blocks reads or writes while it works through a table's rows",
    fix=("Build the index `CONCURRENTLY` in `op.get_context().autocommit_block()`, add constraints `NOT VALID` "
         "then `VALIDATE CONSTRAINT`, and set `lock_timeout`: the finding's details give the safe version."),
    what=(
        "Applies each new migration on tables filled with rows (`--data-volume`) and reads, after every "
        "statement, the locks its transaction holds on the project's tables (pg_locks for its own backend) and "
        "how many of their rows it read or wrote (pg_stat_xact_user_tables). A statement that took a lock which "
        "blocks writes (SHARE and stronger) or reads (ACCESS EXCLUSIVE) on a table with rows, and then scanned "
        "or changed those rows, or ran longer than `lock-threshold-ms`, is reported with the lock, the table's "
        "rows and the measured time. A second connection confirms that a `SELECT` or an `INSERT` on the table "
        "would have waited. A rewrite of the whole table is `table-rewrite`'s finding instead. A lock taken by an "
        "earlier statement counts: a backfill `UPDATE` in the same transaction as its `ADD COLUMN` runs under "
        "that statement's ACCESS EXCLUSIVE, and is reported so."
    ),
    why=(
        "The lock is held until the migration's transaction commits, and every request that touches the table "
        "queues behind it: on a big table, an outage as long as the scan. Empty tables in CI make every "
        "migration look instant."
    ),
    bad=dedent(
        """
        def upgrade():
            # SHARE lock on events while the index is built: every INSERT waits
            op.create_index("ix_events_created_at", "events", ["created_at"])
        """
    ),
    good=dedent(
        """
        def upgrade():
            with op.get_context().autocommit_block():
                op.create_index("ix_events_created_at", "events", ["created_at"],
                                postgresql_concurrently=True)
        """
    ),
))

TABLE_REWRITE = register(Rule(
    id="table-rewrite",
    severity=Severity.WARNING,
    stage="volume",
    title="A migration rewrites a whole table under an exclusive lock",
    fix=("Add the column nullable (or with a constant default), backfill it in batches, then add NOT NULL through "
         "a validated CHECK constraint; change a type by a new column and a backfill."),
    what=(
        "After each statement of a new migration, on tables filled with rows, compares every table's and "
        "index's file number (pg_class.relfilenode) with its value before: PostgreSQL writes a new file when "
        "it rewrites a table (`ALTER COLUMN ... TYPE` that is not binary-compatible, a column added with a "
        "volatile default such as `gen_random_uuid()` or `clock_timestamp()`, `SET LOGGED`). The finding gives "
        "the measured time at this volume, and, with `--table-sizes`, an estimate at the real size."
    ),
    why=(
        "A rewrite copies every row and rebuilds every index while ACCESS EXCLUSIVE blocks reads and writes: "
        "minutes on a large table. A constant or stable default (`now()`) has been added without a rewrite "
        "since PostgreSQL 11, and is not reported."
    ),
    bad=dedent(
        """
        def upgrade():
            op.alter_column("events", "id", type_=sa.BigInteger(), existing_type=sa.Integer())
            op.add_column("events", sa.Column("token", sa.Uuid(), nullable=False,
                                              server_default=sa.text("gen_random_uuid()")))
        """
    ),
    good=dedent(
        """
        def upgrade():
            op.add_column("events", sa.Column("token", sa.Uuid(), nullable=True))
            # each statement in a transaction of its own: ADD COLUMN's ACCESS EXCLUSIVE ends here
            with op.get_context().autocommit_block():
                op.execute("UPDATE events SET token = gen_random_uuid() WHERE token IS NULL")  # in batches
                op.create_check_constraint("ck_events_token_not_null", "events", "token IS NOT NULL",
                                           postgresql_not_valid=True)
                op.execute("ALTER TABLE events VALIDATE CONSTRAINT ck_events_token_not_null")
                op.alter_column("events", "token", nullable=False)  # the validated constraint: no scan
        """
    ),
))

SLOW_MIGRATION = register(Rule(
    id="slow-migration",
    severity=Severity.WARNING,
    stage="volume",
    title="A migration takes longer than the threshold on tables filled with rows",
    fix=("Move data changes out of the schema migration (a batched backfill job), or raise `slow-migration-ms` "
         "in .migration-check.yml where the time is acceptable."),
    what=(
        "Times each new migration, as applied through the project's env.py on tables filled to the configured "
        "volume, and reports those that took longer than `data-volume.slow-migration-ms` (default 5000 ms)."
    ),
    why=(
        "Deploys usually wait for migrations; a migration that takes minutes on production's data holds the "
        "release, and often a lock, all that time."
    ),
    bad=dedent(
        """
        def upgrade():
            # one statement over every row, in the deploy's transaction
            op.execute("UPDATE events SET payload = payload || '{\\"v\\": 2}'")
        """
    ),
    good=dedent(
        """
        def upgrade():
            op.add_column("events", sa.Column("payload_version", sa.Integer(), nullable=True))
            # the backfill runs as a batched job after the deploy, not inside the migration
        """
    ),
))

CONCURRENTLY_IN_TRANSACTION = register(Rule(
    id="concurrently-in-transaction",
    severity=Severity.ERROR,
    stage="apply",
    title="CREATE or DROP INDEX CONCURRENTLY inside a transaction block",
    fix="Run the statement inside `with op.get_context().autocommit_block():`.",
    what=(
        "A migration that builds or drops an index `CONCURRENTLY` inside Alembic's transaction fails with "
        "\"cannot run inside a transaction block\". Reported in place of `upgrade-failed`, with the fix."
    ),
    why=(
        "The migration fails on every database, and `postgresql_concurrently=True` alone looks right in review."
    ),
    bad=dedent(
        """
        def upgrade():
            op.create_index("ix_events_user_id", "events", ["user_id"], postgresql_concurrently=True)
        """
    ),
    good=dedent(
        """
        def upgrade():
            with op.get_context().autocommit_block():
                op.create_index("ix_events_user_id", "events", ["user_id"], postgresql_concurrently=True)
        """
    ),
))

FAILS_ON_EXISTING_ROWS = register(Rule(
    id="not-null-on-existing-rows",
    severity=Severity.ERROR,
    stage="volume",
    title="A migration that works on empty tables fails once they have rows",
    fix=("Give existing rows a value first (a server_default, or a backfill before NOT NULL), and clean "
         "duplicates before a unique index: the finding shows the database's error."),
    what=(
        "Applies each new migration on tables filled with rows. A migration that passed on the empty database "
        "but fails here is reported with the statement and the database's error: NOT NULL added to a column "
        "without a default, a unique index over duplicate values, a cast that fails on existing values."
    ),
    why=(
        "CI's empty database accepts all of these; production's rows do not, and the deploy fails halfway."
    ),
    bad=dedent(
        """
        def upgrade():
            op.add_column("users", sa.Column("plan", sa.Text(), nullable=False))
        """
    ),
    good=dedent(
        """
        def upgrade():
            op.add_column("users", sa.Column("plan", sa.Text(), nullable=False, server_default="free"))
        """
    ),
))
