"""The audit's rules: a live database compared with the revision graph, the migrations and the models."""

from __future__ import annotations

from migration_check.findings import Severity
from migration_check.rules import Rule, dedent, register

LIVE_BEHIND_HEAD = register(Rule(
    id="live-behind-head",
    severity=Severity.WARNING,
    stage="audit",
    title="A live database is at an older revision than the repository's head",
    fix=("Deploy the pending migrations (`alembic upgrade head` in the "
         "release), or find why the deploy skipped them."),
    what=(
        "Reads the live database's version table and places its revision in the repository's revision graph. "
        "When revisions of the repository are not applied there, the finding lists them, by revision and "
        "message, in the order `alembic upgrade head` would apply them."
    ),
    why=(
        "Code that expects the new schema is often deployed without its migration (a failed release step, a "
        "manual rollback). A database that stays behind breaks the next deploy, or the code already running."
    ),
    bad=dedent(
        """
        -- production's version table, while the repository's head is 0004
        SELECT version_num FROM alembic_version;  -- 0003
        """
    ),
    good=dedent(
        """
        -- after the release ran `alembic upgrade head`
        SELECT version_num FROM alembic_version;  -- 0004
        """
    ),
    language="sql",
))

LIVE_UNKNOWN_REVISION = register(Rule(
    id="live-unknown-revision",
    severity=Severity.ERROR,
    stage="audit",
    title="A live database is at a revision the repository does not have",
    fix=("Restore the revision file that was run there (from the branch "
         "that deployed it), or merge it, then audit again."),
    what=(
        "The live database's version table names a revision that no migration file in the repository has: a "
        "migration run from a branch that was never merged, or a file deleted after it ran. The schema cannot "
        "be compared, since no migration of the repository builds it."
    ),
    why=(
        "The next `alembic upgrade` there fails with \"Can't locate revision\", and nobody can say what that "
        "revision did to the schema."
    ),
    bad=dedent(
        """
        -- run there from a feature branch, which was closed
        SELECT version_num FROM alembic_version;  -- 9f3c1a2b7d10
        """
    ),
    good=dedent(
        """
        -- every revision run there is in the repository's history
        SELECT version_num FROM alembic_version;  -- 0004
        """
    ),
    language="sql",
))

LIVE_NO_VERSION_TABLE = register(Rule(
    id="live-no-version-table",
    severity=Severity.ERROR,
    stage="audit",
    title="A live database has no Alembic version table",
    fix=("Check that the URL names the right database; if its schema was built "
         "without Alembic, `alembic stamp` the revision it matches."),
    what=(
        "The version table, under the name and schema env.py configures (alembic_version by default), does not "
        "exist in the live database. Where its schema matches the migrations at head, the finding says so and "
        "`alembic stamp head` is the fix."
    ),
    why=(
        "Either the audit reads the wrong database, or the schema was made another way (create_all, a restored "
        "dump without the table): the next `alembic upgrade head` would try to create everything again."
    ),
    bad=dedent(
        """
        -- the tables were made with Base.metadata.create_all()
        SELECT to_regclass('alembic_version');  -- NULL
        """
    ),
    good=dedent(
        """
        -- alembic stamp head, once, after checking that the schema matches
        SELECT version_num FROM alembic_version;  -- 0004
        """
    ),
    language="sql",
))

LIVE_SCHEMA_DIVERGED = register(Rule(
    id="live-schema-diverged",
    severity=Severity.ERROR,
    stage="audit",
    title="A live database's schema differs from what its migrations build",
    fix=("Make the change official in a new migration (the adopting code is given), or "
         "take it back on the live database (the reverting code is given)."),
    what=(
        "Builds the reference on a throwaway server: the migrations applied from scratch up to the live "
        "database's own revision. Then compares the two from the catalogs, object by object (tables, columns "
        "with their types, defaults and NOT NULL, constraints, indexes, triggers, views, types, functions, "
        "extensions). Each differing object is a finding with the Alembic code that adopts it in a migration "
        "and the code that reverts it. Extensions that the live database has and the migrations do not create "
        "(installed by the platform) are listed, not reported."
    ),
    why=(
        "A manual hotfix, or a migration that failed half-way, leaves a database that no migration describes: "
        "the next migration written against the repository's schema fails there, or silently does something "
        "else."
    ),
    bad=dedent(
        """
        # run by hand on production during an incident, and in no migration:
        #     CREATE INDEX ix_agents_name ON agents (name);
        """
    ),
    good=dedent(
        """
        # a migration, deployed, that makes the hotfix part of the history
        def upgrade() -> None:
            op.create_index("ix_agents_name", "agents", ["name"], if_not_exists=True)
        """
    ),
))

LIVE_MODEL_DRIFT = register(Rule(
    id="live-model-drift",
    severity=Severity.ERROR,
    stage="audit",
    title="A live database differs from the models, and no pending migration explains it",
    fix=("Write the migration that makes the models and the database agree "
         "(`alembic revision --autogenerate`), and deploy it."),
    what=(
        "Compares the models with the live database as autogenerate does, with env.py's own options "
        "(include_object, compare_type, the schemas), reading the live catalogs only. What the pending "
        "migrations would change, and what is already reported as a divergence from the migrations, is left "
        "out: what remains is a difference no migration of the repository makes go away."
    ),
    why=(
        "The code runs against the models: a column the models have and the database lacks fails at the first "
        "query that touches it, in production."
    ),
    bad=dedent(
        """
        # the models gained a column; no migration adds it, on any branch
        class Agent(Base):
            description: Mapped[str | None] = mapped_column(Text)
        """
    ),
    good=dedent(
        """
        # the migration that adds it, deployed
        def upgrade() -> None:
            op.add_column("agents", sa.Column("description", sa.Text(), nullable=True))
        """
    ),
))

AUDIT_RULES = (LIVE_BEHIND_HEAD, LIVE_UNKNOWN_REVISION, LIVE_NO_VERSION_TABLE, LIVE_SCHEMA_DIVERGED, LIVE_MODEL_DRIFT)
