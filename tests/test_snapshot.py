"""The schema tracker on a real throwaway server: after every DDL statement, the state it keeps by reading only
what was touched equals a fresh read of the whole schema. Renames, enum types, views, sequences, triggers,
functions, extensions, schemas, role switches and drops with CASCADE are where a partial read could go stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from migration_check import snapshot
from migration_check.database import ScratchDatabase, find_server_binaries, throwaway_database

pytestmark = pytest.mark.usefixtures("no_leftovers")

STEPS = [
    "CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE, created timestamptz DEFAULT now())",
    "CREATE TABLE teams (id int PRIMARY KEY, owner_id int REFERENCES users (id), parent_id int)",
    "ALTER TABLE teams ADD CONSTRAINT fk_parent FOREIGN KEY (parent_id) REFERENCES teams (id)",
    "CREATE INDEX ix_teams_owner ON teams (owner_id)",
    "CREATE TYPE mood AS ENUM ('happy', 'sad')",
    "ALTER TABLE users ADD COLUMN mood mood NOT NULL DEFAULT 'happy'",
    "ALTER TYPE mood ADD VALUE 'tired'",
    "ALTER TYPE mood RENAME TO feeling",
    "ALTER TABLE users RENAME TO people",
    "ALTER TABLE people RENAME COLUMN email TO address",
    "ALTER SEQUENCE users_id_seq RENAME TO people_id_seq",
    "CREATE VIEW team_owners AS SELECT t.id, p.address FROM teams t JOIN people p ON p.id = t.owner_id",
    "ALTER TABLE people ALTER COLUMN address SET NOT NULL",
    "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    "CREATE TRIGGER people_touch BEFORE UPDATE ON people FOR EACH ROW EXECUTE FUNCTION touch()",
    "ALTER FUNCTION touch() RENAME TO touch_row",
    "DROP INDEX ix_teams_owner",
    "ALTER TABLE teams DROP CONSTRAINT fk_parent",
    "CREATE EXTENSION citext",
    "DROP VIEW team_owners",
    "ALTER TABLE people ALTER COLUMN address TYPE citext",
    "CREATE SCHEMA billing",
    "CREATE TABLE billing.invoices (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
    "team_id int REFERENCES teams (id) ON DELETE CASCADE, CHECK (id > 0))",
    "CREATE DOMAIN positive AS int CHECK (VALUE > 0)",
    "ALTER TABLE billing.invoices ADD COLUMN cents positive",
    "CREATE ROLE tracker_app; GRANT ALL ON SCHEMA billing TO tracker_app; "
    "SET ROLE tracker_app; CREATE TABLE billing.notes (id int); RESET ROLE",
    "ALTER SCHEMA billing RENAME TO accounts",
    "DROP TABLE people CASCADE",
    "DROP TYPE feeling",
    "DROP SCHEMA accounts CASCADE",
    "DROP EXTENSION citext CASCADE",
    "DROP TABLE teams",
]


@pytest.fixture
def database() -> Iterator[ScratchDatabase]:
    with throwaway_database(find_server_binaries(None)) as scratch:
        yield scratch
        with scratch.connect() as connection:
            if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = 'tracker_app'").fetchone():
                connection.execute("DROP OWNED BY tracker_app; DROP ROLE tracker_app")


def test_the_tracked_state_equals_a_full_read_after_every_step(database: ScratchDatabase) -> None:
    query = snapshot.SchemaQuery(())
    tracker = snapshot.SchemaTracker(query)
    with database.connect() as connection:
        tracker.start(connection, can_trace=True)
        reread: list[int] = []
        for statement in STEPS:
            connection.execute(statement)
            groups = tracker.refresh(connection)
            reread.append(len(groups))
            tracked = tracker.view(tracker.state, tracker.state)
            assert tracked == snapshot.take(connection, query), statement
            assert tracked.difference(snapshot.take(connection, query)) == []
        tracker.stop(connection)
        assert connection.execute("SELECT count(*) FROM pg_event_trigger").fetchone() == (0,)
    # it read only parts: adding an index to teams does not read people again
    assert reread[STEPS.index("CREATE INDEX ix_teams_owner ON teams (owner_id)")] == 1


def test_a_step_that_only_writes_data_reads_nothing(database: ScratchDatabase) -> None:
    tracker = snapshot.SchemaTracker(snapshot.SchemaQuery(()))
    with database.connect() as connection:
        connection.execute("CREATE TABLE a (id int)")
        tracker.start(connection, can_trace=True)
        connection.execute("INSERT INTO a VALUES (1)")
        assert tracker.refresh(connection) == frozenset()
        tracker.stop(connection)


def test_without_event_triggers_every_refresh_reads_everything(database: ScratchDatabase) -> None:
    query = snapshot.SchemaQuery(())
    tracker = snapshot.SchemaTracker(query)
    with database.connect() as connection:
        connection.execute("CREATE TABLE a (id int)")
        tracker.start(connection, can_trace=False)
        connection.execute("CREATE TABLE b (id int)")
        tracker.refresh(connection)
        assert tracker.view(tracker.state, tracker.state) == snapshot.take(connection, query)
        assert {name for _kind, name, _definition in tracker.view(tracker.state, tracker.state).objects} >= {
            "public.a", "public.b"}


def test_left_out_schemas_are_not_read(database: ScratchDatabase) -> None:
    query = snapshot.SchemaQuery(("auth",))
    with database.connect() as connection:
        connection.execute("CREATE SCHEMA auth; CREATE TABLE auth.users (id int); CREATE TABLE kept (id int)")
        names = {name for _kind, name, _definition in snapshot.take(connection, query).objects}
    assert "public.kept" in names and not any(name.startswith("auth") for name in names)



def test_a_message_names_a_whole_table_once_and_leaves_out_what_its_columns_say() -> None:
    """The finding's message folds a table's members into its line; its details keep every object."""
    missing = [("column", "public.runs.id", "integer NOT NULL"), ("column", "public.runs.error", "text NULL"),
               ("constraint", "public.runs.runs_id_not_null", "NOT NULL id"),
               ("index", "public.ix_runs_error", "CREATE INDEX ix_runs_error ON public.runs USING btree (error)"),
               ("primary key", "public.runs.pk_runs", "PRIMARY KEY (id)"), ("table", "public.runs", ""),
               ("column", "public.users.nickname", "text NULL"),
               ("constraint", "public.users.users_nickname_not_null", "NOT NULL nickname")]
    left_over = [("column", "public.live.id", "integer NULL"), ("view", "public.live", " SELECT id FROM runs;")]
    changes = snapshot.Changes(left_over, missing, [])
    assert changes.summary() == [
        "left over: view public.live",
        "missing: table public.runs (2 columns, 1 index, 1 primary key)",
        "missing: column public.users.nickname (text NULL)",
    ]
    assert len(changes.lines()) == len(left_over) + len(missing)


def test_long_names_are_read_whole(database: ScratchDatabase) -> None:
    """Names of 63 bytes (PostgreSQL's longest) in a long table's name: schema.table.constraint is far past 63
    bytes, and two constraints that share a long prefix stay two."""
    table = "agent_configuration_history_entries_with_a_long_name"
    first = "ck_" + "x" * 59 + "a"
    second = "ck_" + "x" * 59 + "b"
    assert len(first.encode()) == len(second.encode()) == 63
    with database.connect() as connection:
        connection.execute(f"CREATE TABLE {table} (id int, CONSTRAINT {first} CHECK (id > 0), "
                           f"CONSTRAINT {second} CHECK (id < 10))")
        names = {name for kind, name, _definition in snapshot.take(connection, snapshot.SchemaQuery(())).objects
                 if kind == "check constraint"}
    assert names == {f"public.{table}.{first}", f"public.{table}.{second}"}
