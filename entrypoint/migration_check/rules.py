"""The rule registry. Each rule carries its own documentation; docs/rules.md is generated from it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migration_check.findings import AUTOGENERATE_COMMAND, Finding, Severity
from migration_check.locate import Location
from migration_check.paths import relative_to_root


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    stage: str  # the stage that looks for it: an allowlist entry is "unused" only where that stage ran
    title: str
    fix: str  # one line, shown next to every finding of the rule
    what: str
    why: str
    bad: str  # an example that triggers the rule
    good: str  # what to write instead
    enabled: bool = True  # off by default: only reported where the configuration file gives it a severity
    language: str = "python"  # of the examples

    def at(self, message: str, location: Location | None, root: Path, **details: Any) -> Finding:
        """A finding of this rule at a place in the project (None: no place to point at)."""
        return Finding(
            rule=self.id,
            severity=self.severity,
            message=message,
            file=relative_to_root(location.file, root) if location else None,
            line=location.line if location else None,
            details=details,
        )

    def markdown(self) -> str:
        return "\n".join(
            [
                f"## `{self.id}`",
                "",
                f"**Severity:** {self.severity.label} · **Fix:** {self.fix}",
                "",
                f"**What it checks.** {self.what}",
                "",
                f"**Why it matters.** {self.why}",
                "",
                "**Fails:**",
                "",
                f"```{self.language}",
                self.bad.strip("\n"),
                "```",
                "",
                "**Passes:**",
                "",
                f"```{self.language}",
                self.good.strip("\n"),
                "```",
                "",
            ]
        )


RULES: dict[str, Rule] = {}


def register(rule: Rule) -> Rule:
    if rule.id in RULES:
        raise ValueError(f"rule {rule.id} registered twice")
    RULES[rule.id] = rule
    return rule


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def dedent(text: str) -> str:
    """A rule's example as written in its triple-quoted string, for rules defined beside their stage too."""
    return textwrap.dedent(text).strip("\n")


UPGRADE_FAILED = register(
    Rule(
        id="upgrade-failed",
        severity=Severity.ERROR,
        stage="apply",
        title="A migration fails when applied from scratch",
        fix="Fix the failing operation so that `alembic upgrade head` works on an empty database.",
        what=(
            "Creates an empty database and runs `alembic upgrade heads` through the project's own env.py. "
            "When a migration raises, the finding names the revision, the file and line of the failing "
            "operation, and the database's error message."
        ),
        why=(
            "A history that does not apply from scratch breaks every new developer's set-up, every test "
            "database and every disaster recovery. It usually means a migration was edited after it ran, "
            "or depends on something created by hand."
        ),
        bad=dedent(
            '''
            def upgrade():
                # "runs" does not exist yet: it is created by a later revision
                op.add_column("runs", sa.Column("agent_version_id", sa.Integer()))
            '''
        ),
        good=dedent(
            '''
            def upgrade():
                op.create_table(
                    "runs",
                    sa.Column("id", sa.Integer(), primary_key=True),
                    sa.Column("agent_version_id", sa.Integer()),
                )
            '''
        ),
    )
)

# What a Flask-Migrate project's reports name instead of AUTOGENERATE_COMMAND.
FLASK_AUTOGENERATE_COMMAND = 'flask db migrate -m "<what changes>"'

MODEL_DRIFT = register(
    Rule(
        id="model-drift",
        severity=Severity.ERROR,
        stage="compare",
        title="The models and the migrated database differ",
        fix=f"Add a migration for the change: `{AUTOGENERATE_COMMAND}`.",
        what=(
            "After applying every migration, runs Alembic's autogenerate comparison between the project's "
            "target_metadata and the database, with the project's own env.py settings (include_object, "
            "compare_type, include_schemas and so on). Each difference is one finding; the report carries "
            "the operations of the missing migration."
        ),
        why=(
            "A model change without a migration works in tests that call `create_all` and then fails in "
            "production, where only migrations run. It is what `alembic check` detects, but "
            "`alembic check` prints Python reprs and exits 255 for everything."
        ),
        bad=dedent(
            '''
            class Agent(Base):
                __tablename__ = "agents"
                id: Mapped[int] = mapped_column(primary_key=True)
                # added to the model, but no migration adds the column
                description: Mapped[str | None] = mapped_column(Text)
            '''
        ),
        good=dedent(
            '''
            # migrations/versions/0004_add_agent_description.py
            def upgrade():
                op.add_column("agents", sa.Column("description", sa.Text(), nullable=True))


            def downgrade():
                op.drop_column("agents", "description")
            '''
        ),
    )
)

MODEL_NOT_IMPORTED = register(
    Rule(
        id="model-not-imported",
        severity=Severity.WARNING,
        stage="compare",
        title="A model is invisible to autogenerate",
        fix="Import the module where the models are gathered (the models package's __init__.py, or env.py), and "
        "give every model the Base whose MetaData env.py passes as target_metadata.",
        what=(
            "After env.py loaded the models: a module in the models' folders that defines mapped classes "
            "(__tablename__, or SQLModel's table=True) but that nothing imported; or a loaded mapped class whose "
            "table belongs to another MetaData than env.py's target_metadata. Autogenerate compares neither."
        ),
        why=(
            "The comparison can only see the models it is given. A forgotten import makes every change to those "
            "models pass unnoticed, and makes their tables look like drift to be dropped."
        ),
        bad=dedent(
            '''
            # app/models/__init__.py imports users and agents, but not billing
            from app.models import agents, users  # app/models/billing.py defines class Invoice(Base)
            '''
        ),
        good=dedent(
            '''
            from app.models import agents, billing, users
            '''
        ),
    )
)


MULTIPLE_HEADS = register(
    Rule(
        id="multiple-heads",
        severity=Severity.ERROR,
        stage="graph",
        title="The revision graph has more than one head",
        fix="Merge the heads (`alembic merge -m \"merge heads\" <head> <head>`) or rebase one onto the other.",
        what="Reads every migration file statically and lists the revisions that no other revision revises.",
        why=(
            "Two pull requests that each add a migration on the same parent both pass on their own, and leave "
            "two heads once merged: `alembic upgrade head` then refuses to run, in every environment."
        ),
        bad=dedent(
            """
            # 0004_add_agent_tags.py
            down_revision = "0003"
            # 0004_add_run_cost.py, from another pull request
            down_revision = "0003"
            """
        ),
        good=dedent(
            """
            # 0004_add_agent_tags.py
            down_revision = "0003"
            # 0005_add_run_cost.py, rebased onto the other pull request
            down_revision = "0004"
            """
        ),
    )
)

BROKEN_REVISION_GRAPH = register(
    Rule(
        id="broken-revision-graph",
        severity=Severity.ERROR,
        stage="graph",
        title="The revision graph is broken",
        fix="Point down_revision and depends_on at revisions that exist, and give every migration its own id.",
        what=(
            "A down_revision or depends_on names a revision (or branch label) no file declares, two files "
            "declare the same revision id, a file declares no revision, or the revisions form a cycle."
        ),
        why="Alembic cannot build the history at all: every command fails, not only this migration.",
        bad=dedent(
            """
            revision = "0004"
            down_revision = "0003a"  # no migration has this id
            """
        ),
        good=dedent(
            """
            revision = "0004"
            down_revision = "0003"
            """
        ),
    )
)

NOT_ON_BASE_HEAD = register(
    Rule(
        id="not-on-base-head",
        severity=Severity.ERROR,
        stage="history",
        title="A new migration does not build on the base branch's head",
        fix="Set the new migration's down_revision to the base branch's head revision.",
        what=(
            "With --base-ref, every migration the change adds must revise the base ref's head (or another new "
            "migration). A merge migration that joins heads is fine."
        ),
        why=(
            "A migration whose parent is an older revision makes a second head as soon as the pull request is "
            "merged; the conflict shows up after the merge, on the main branch."
        ),
        bad=dedent(
            """
            # the base branch's head is 0005
            revision = "0006"
            down_revision = "0004"
            """
        ),
        good=dedent(
            """
            revision = "0006"
            down_revision = "0005"
            """
        ),
    )
)

MODIFIED_MIGRATION = register(
    Rule(
        id="modified-migration",
        severity=Severity.ERROR,
        stage="history",
        title="A migration from the base branch was changed",
        fix="Put the file back as it is on the base branch, and make the change in a new migration.",
        what=(
            "With --base-ref, compares each migration file that exists at the base ref with the working tree. A "
            "change to the code is an error; a change to comments or whitespace only is a warning."
        ),
        why=(
            "A migration that already ran in production does not run again: databases that applied the old "
            "version never get the change, and new databases differ from old ones. Fix forward."
        ),
        bad=dedent(
            """
            # 0003 is on main and has run; this pull request edits it
            op.add_column("runs", sa.Column("cost_cents", sa.Integer()))
            """
        ),
        good=dedent(
            """
            # 0006_add_run_cost.py, a new migration
            down_revision = "0005"
            def upgrade():
                op.add_column("runs", sa.Column("cost_cents", sa.Integer()))
            """
        ),
    )
)

DELETED_MIGRATION = register(
    Rule(
        id="deleted-migration",
        severity=Severity.ERROR,
        stage="history",
        title="A migration from the base branch was deleted",
        fix="Restore the file; to undo what it did, add a new migration.",
        what="With --base-ref, reports each migration file that exists at the base ref and not in the change.",
        why=(
            "Databases that applied it keep its revision in alembic_version, which then names a revision that "
            "no longer exists: every later `alembic upgrade` fails there."
        ),
        bad=dedent(
            """
            $ git rm migrations/versions/0004_add_agent_tags.py
            """
        ),
        good=dedent(
            """
            # 0006_drop_agent_tags.py
            def upgrade():
                op.drop_table("agent_tags")
            """
        ),
    )
)

VAGUE_MESSAGE = register(
    Rule(
        id="vague-message",
        severity=Severity.WARNING,
        stage="graph",
        title="The migration's message says nothing",
        fix="Say what changes: `alembic revision -m \"add agents.description\"` (rename the file and docstring).",
        what=(
            "Reads the message from the docstring's first line (or the file name): empty, \"auto\", "
            "\"autogenerated\", \"update\", \"changes\", \"migration\", \"wip\", \"fix\", \"test\", a "
            "revision id and the like are vague."
        ),
        why=(
            "The message is all a reviewer or an on-call engineer sees in `alembic history`; \"update\" "
            "makes them open every file to find the one that changed a table."
        ),
        bad=dedent(
            '''
            """update

            Revision ID: 3f2a9c1b7d4e
            """
            '''
        ),
        good=dedent(
            '''
            """add agents.description

            Revision ID: 3f2a9c1b7d4e
            """
            '''
        ),
    )
)

EMPTY_MIGRATION = register(
    Rule(
        id="empty-migration",
        severity=Severity.WARNING,
        stage="graph",
        title="A migration does nothing",
        fix="Delete the migration, or fill upgrade() in; a merge migration may stay empty.",
        what="upgrade() is empty or only `pass`, and the migration is not a merge of heads.",
        why=(
            "Usually an autogenerate run that found nothing, committed by accident. It adds a step to every "
            "deployment and a question to every review."
        ),
        bad=dedent(
            """
            def upgrade():
                pass
            """
        ),
        good=dedent(
            """
            def upgrade():
                op.add_column("agents", sa.Column("description", sa.Text()))
            """
        ),
    )
)

SPLIT_MIGRATIONS = register(
    Rule(
        id="split-migrations",
        severity=Severity.WARNING,
        stage="history",
        title="The change adds more than one migration",
        fix="Squash the new migrations into one, unless they must run separately (say, a data backfill).",
        what="With --base-ref, counts the migrations the change adds (merge migrations aside).",
        why=(
            "Related changes spread over several migrations deploy in several steps, each of which can fail "
            "and leave the schema half done; one migration applies in one transaction."
        ),
        bad=dedent(
            """
            0006_add_agent_tags.py
            0007_add_index_to_agent_tags.py
            0008_fix_agent_tags_nullable.py
            """
        ),
        good=dedent(
            """
            0006_add_agent_tags.py   # the table, its index and its constraints together
            """
        ),
    )
)

DROP_UNNAMED_CONSTRAINT = register(
    Rule(
        id="drop-unnamed-constraint",
        severity=Severity.ERROR,
        stage="graph",
        title="A constraint is dropped without a name",
        fix="Name the constraint, and give the models' MetaData a naming_convention so autogenerate names them all.",
        what=(
            "`op.drop_constraint(None, ...)`, which cannot run. When the downgrade that holds it fails in the "
            "round trip, this finding stands for both (the database's error is in its details)."
        ),
        why=(
            "Autogenerate writes `drop_constraint(None, ...)` in the downgrade of every unnamed constraint. It "
            "fails when the downgrade runs; in the projects we tried it broke the downgrade in 5 of 9."
        ),
        bad=dedent(
            """
            def downgrade():
                op.drop_constraint(None, "agents", type_="foreignkey")
            """
        ),
        good=dedent(
            """
            metadata = MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s"})

            def downgrade():
                op.drop_constraint("fk_agents_organization_id", "agents", type_="foreignkey")
            """
        ),
    )
)

CREATE_UNNAMED_CONSTRAINT = register(
    Rule(
        id="create-unnamed-constraint",
        severity=Severity.WARNING,
        stage="graph",
        title="A constraint is created without a name, and no naming convention names it",
        fix="Name the constraint, or give the models' MetaData a naming_convention so that op.f() names apply.",
        what=(
            "`op.create_foreign_key(None, ...)` and the other create_* operations for constraints, in a project "
            "whose models have no naming_convention. The migration runs; the constraint gets a name PostgreSQL "
            "makes up, which a later migration has to guess."
        ),
        why="A later `drop_constraint` must spell the made-up name, or it is written as None and fails.",
        bad=dedent(
            """
            def upgrade():
                op.create_foreign_key(None, "agents", "users", ["created_by_id"], ["id"])
            """
        ),
        good=dedent(
            """
            def upgrade():
                op.create_foreign_key("fk_agents_created_by_id_users", "agents", "users", ["created_by_id"], ["id"])
            """
        ),
    )
)

MISSING_DOWNGRADE = register(
    Rule(
        id="missing-downgrade",
        severity=Severity.WARNING,
        stage="graph",
        title="A migration cannot be rolled back",
        fix="Write downgrade(), or mark the file `# migration-check: irreversible` with the reason.",
        what=(
            "downgrade() is missing, empty or only `pass` while upgrade() does something. A file that carries "
            "the comment `# migration-check: irreversible` is skipped: the explicit opt-out."
        ),
        why=(
            "Without a downgrade, a failed deployment cannot be rolled back and the history cannot be tested "
            "up and down."
        ),
        bad=dedent(
            """
            def upgrade():
                op.add_column("agents", sa.Column("description", sa.Text()))

            def downgrade():
                pass
            """
        ),
        good=dedent(
            """
            def downgrade():
                op.drop_column("agents", "description")

            # or, when it truly cannot be undone:
            # migration-check: irreversible - the backfill overwrote the old values
            """
        ),
    )
)


DOWNGRADE_FAILED = register(
    Rule(
        id="downgrade-failed",
        severity=Severity.ERROR,
        stage="roundtrip",
        title="A downgrade fails",
        fix="Make downgrade() undo exactly what upgrade() did, with the real names of what it drops.",
        what=(
            "The round trip applies each revision, downgrades it, and applies it again. When downgrade() raises, "
            "the finding names the revision, the file and line of the failing operation and the database's error, "
            "and gives a downgrade() that would work, written from what the upgrade did (with the real names of "
            "the constraints it created, where drop_constraint(None, ...) had none). The failure is rolled back "
            "and the round trip goes on with the next revision, so one run names every failing downgrade; the "
            "downgrade to base, which would stop at the topmost of them, is then skipped with that reason."
        ),
        why=(
            "A downgrade that fails is found when a deployment must be rolled back: the worst moment. In the "
            "projects we tried, downgrading to base failed in 7 of 9."
        ),
        bad=dedent(
            """
            def downgrade():
                op.drop_constraint(None, "agents", type_="foreignkey")  # the name is needed
                op.drop_column("agents", "owner_id")
            """
        ),
        good=dedent(
            """
            def downgrade():
                op.drop_constraint("fk_agents_owner_id_users", "agents", type_="foreignkey")
                op.drop_column("agents", "owner_id")
            """
        ),
    )
)

ROUNDTRIP_MISMATCH = register(
    Rule(
        id="roundtrip-mismatch",
        severity=Severity.ERROR,
        stage="roundtrip",
        title="A downgrade leaves the schema different",
        fix="Make downgrade() remove what upgrade() created and restore what it dropped.",
        what=(
            "After downgrading revision R, compares the schema, from the catalogs, with the schema before R was "
            "applied, and lists each object left over, missing or changed: tables, columns with type, "
            "nullability and default, indexes, constraints, enum types, sequences, functions, views, extensions "
            "and schemas. It also writes the code that downgrade() lacks: the drops, and the re-creations from "
            "PostgreSQL's own definitions, in an order that works, and an enum value taken back by converting the "
            "columns that use the type; what cannot be written exactly (a function's body) is a comment saying "
            "what to do. When applying R again then fails or differs because of what was left over, that is "
            "said here (`details.reupgrade`), as is a downgrade() of `pass`: one mistake, one finding."
        ),
        why=(
            "A downgrade that \"works\" but leaves an enum type or an index behind breaks the next upgrade, or "
            "leaves production different from every fresh database."
        ),
        bad=dedent(
            """
            def upgrade():
                op.create_table("runs", sa.Column("status", sa.Enum("queued", "done", name="run_status")))

            def downgrade():
                op.drop_table("runs")  # the run_status type stays behind
            """
        ),
        good=dedent(
            """
            def downgrade():
                op.drop_table("runs")
                sa.Enum(name="run_status").drop(op.get_bind())
            """
        ),
    )
)

UPGRADE_NOT_IDEMPOTENT = register(
    Rule(
        id="upgrade-not-idempotent",
        severity=Severity.ERROR,
        stage="roundtrip",
        title="Applying a revision again fails or builds something else",
        fix="Make downgrade() undo everything upgrade() did, so that upgrading again starts from the same place.",
        what=(
            "After a downgrade, the round trip applies the revision again, and compares the schema with the one "
            "the first upgrade built. Reported when the downgrade left the schema as it was, yet the second "
            "upgrade fails or builds something else: rows the downgrade left (a seeded row that collides), state "
            "outside the schema. Where the downgrade left schema objects behind, roundtrip-mismatch says it, with "
            "the re-upgrade's error in its details."
        ),
        why=(
            "Rolling back and forward again is what a retried deployment does; if the second upgrade fails on "
            "what the downgrade left, the retry fails."
        ),
        bad=dedent(
            """
            def upgrade():
                op.execute("INSERT INTO plans (id, name) VALUES (1, 'free')")

            def downgrade():
                pass  # the row stays: the INSERT fails the second time
            """
        ),
        good=dedent(
            """
            def downgrade():
                op.execute("DELETE FROM plans WHERE id = 1")
            """
        ),
    )
)

IRREVERSIBLE_MIGRATION = register(
    Rule(
        id="irreversible-migration",
        severity=Severity.NOTICE,
        stage="roundtrip",
        title="A migration cannot be undone, and its round trip is skipped",
        fix="Nothing to do if it truly cannot be undone; otherwise write downgrade() (and remove the marker).",
        what=(
            "A migration whose downgrade() only raises NotImplementedError, or whose file has the comment "
            "`# migration-check: irreversible`, is applied but not downgraded: its own round trip, and the "
            "downgrade to base, are skipped."
        ),
        why="So that the report says which part of the history cannot be rolled back, instead of hiding it.",
        bad=dedent(
            """
            # migration-check: irreversible - the backfill overwrote the old values
            def downgrade():
                raise NotImplementedError
            """
        ),
        good=dedent(
            """
            def downgrade():
                op.drop_column("agents", "description")
            """
        ),
    )
)

MISSING_NAMING_CONVENTION = register(
    Rule(
        id="missing-naming-convention",
        severity=Severity.WARNING,
        stage="naming",
        title="The models' MetaData has no naming convention",
        fix="Give your MetaData a naming_convention with ix, uq, ck, fk and pk keys (the report has one to paste).",
        what=(
            "Looks at the target_metadata that env.py passes to Alembic. When its naming_convention lacks any of "
            "the ix, uq, ck, fk or pk keys, constraints of that kind created without an explicit name get a "
            "name PostgreSQL makes up. The finding carries the standard convention as code to paste."
        ),
        why=(
            "PostgreSQL's own names (`users_email_key`, `items_owner_id_fkey`) are not known to Alembic, so "
            "autogenerate writes `op.drop_constraint(None, ...)` in downgrades, which fails. With a convention, "
            "every name is deterministic and every downgrade can name what it drops."
        ),
        bad=dedent(
            """
            class Base(DeclarativeBase):
                pass  # MetaData() without a naming_convention
            """
        ),
        good=dedent(
            """
            class Base(DeclarativeBase):
                metadata = MetaData(naming_convention={
                    "ix": "ix_%(column_0_label)s",
                    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
                    "ck": "ck_%(table_name)s_%(constraint_name)s",
                    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                    "pk": "pk_%(table_name)s",
                })
            """
        ),
    )
)

UNNAMED_CONSTRAINT = register(
    Rule(
        id="unnamed-constraint",
        severity=Severity.WARNING,
        stage="naming",
        title="A constraint or index in the models gets no deterministic name",
        fix="Name it explicitly (name=...) or add its kind (ix, uq, ck, fk, pk) to the MetaData's naming_convention.",
        what=(
            "For every constraint and index of every table in target_metadata: it has no explicit name, and "
            "the naming convention has no key for its kind, so the database will make a name up. One finding "
            "per MetaData, at the first such model line, with the count in the message and every one in the "
            "details. Primary keys are left out (PostgreSQL names them <table>_pkey, which a downgrade can "
            "spell) unless the settings file's `naming:` gives a `pk` pattern."
        ),
        why=(
            "A name the database made up differs between PostgreSQL versions and between a table created by "
            "create_all and one built by migrations; migrations that drop or alter the constraint have to "
            "guess it."
        ),
        bad=dedent(
            """
            class User(Base):
                __tablename__ = "users"
                __table_args__ = (CheckConstraint("length(email) > 3"),)  # no name, no "ck" convention
            """
        ),
        good=dedent(
            """
            class User(Base):
                __tablename__ = "users"
                __table_args__ = (CheckConstraint("length(email) > 3", name="ck_users_email_length"),)
            """
        ),
    )
)

NAMING_CONVENTION = register(
    Rule(
        id="naming-convention",
        severity=Severity.WARNING,
        stage="naming",
        title="A name in the migrated database does not follow the naming convention",
        fix="Rename it in a new migration (ALTER ... RENAME) to the name the convention gives.",
        what=(
            "After the migrations ran, reads every constraint and index of the tables in the models and renders "
            "the name the project's naming_convention (or the `naming:` patterns of .migration-check.yml) gives "
            "it, cut to 63 bytes as PostgreSQL does. A name that differs is reported with the expected one. "
            "Check constraints are compared only where the pattern does not depend on their own name."
        ),
        why=(
            "Names that follow one pattern can be written by hand in a downgrade, predicted in a code review and "
            "found with a search. A stray name (often one PostgreSQL made up, or the convention changed later) "
            "is what breaks the next `drop_constraint`."
        ),
        bad=dedent(
            """
            def upgrade():
                # the convention says uq_users_email
                op.create_unique_constraint("users_email_key", "users", ["email"])
            """
        ),
        good=dedent(
            """
            def upgrade():
                op.create_unique_constraint(op.f("uq_users_email"), "users", ["email"])
            """
        ),
    )
)

IDENTIFIER_TOO_LONG = register(
    Rule(
        id="identifier-too-long",
        severity=Severity.ERROR,
        stage="naming",
        title="A name is longer than PostgreSQL's 63 bytes",
        fix="Shorten the name to 63 bytes or fewer (bytes, not characters: é is two).",
        what=(
            "Checks the names of tables, columns, constraints, indexes, sequences and types in the models, and "
            "the names migration files pass to Alembic's operations (`op.create_table`, `op.create_index`, ...), "
            "in UTF-8 bytes. Also reports two names that become the same when cut to 63 bytes."
        ),
        why=(
            "PostgreSQL silently cuts longer names to 63 bytes. The models keep the long name, so autogenerate "
            "sees a difference on every run; two long names with the same start clash."
        ),
        bad=dedent(
            """
            Index("ix_agent_versions_organization_id_agent_id_version_created_at_desc", ...)  # 67 bytes
            """
        ),
        good=dedent(
            """
            Index("ix_agent_versions_org_agent_version_created", ...)
            """
        ),
    )
)

FK_CYCLE_WITHOUT_USE_ALTER = register(
    Rule(
        id="fk-cycle-without-use-alter",
        severity=Severity.ERROR,
        stage="naming",
        title="Foreign keys form a cycle and none of them uses use_alter=True",
        fix="Give one foreign key in the cycle use_alter=True and an explicit name.",
        what=(
            "Builds the graph of foreign keys between the tables in the models and looks for cycles. A cycle is "
            "fine when at least one of its foreign keys has `use_alter=True` and a name. A table that refers "
            "only to itself is fine: PostgreSQL creates and drops it in one statement."
        ),
        why=(
            "Without use_alter, neither table can be created first: `metadata.create_all` warns and "
            "`drop_all` fails, and autogenerate writes a migration whose tables cannot be created in order."
        ),
        bad=dedent(
            """
            class Team(Base):
                lead_id = mapped_column(ForeignKey("users.id"))

            class User(Base):
                team_id = mapped_column(ForeignKey("teams.id"))
            """
        ),
        good=dedent(
            """
            class Team(Base):
                lead_id = mapped_column(ForeignKey("users.id", use_alter=True, name="fk_teams_lead_id_users"))

            class User(Base):
                team_id = mapped_column(ForeignKey("teams.id"))
            """
        ),
    )
)

FK_WITHOUT_INDEX = register(
    Rule(
        id="fk-without-index",
        severity=Severity.NOTICE,
        stage="naming",
        title="A foreign key's columns have no index",
        fix="Index the foreign key's columns: mapped_column(ForeignKey(...), index=True).",
        what=(
            "Off by default: turn it on with `rules: {fk-without-index: notice}` in .migration-check.yml. In the "
            "migrated database, reports each foreign key whose columns are not the leading columns of any "
            "index of its table."
        ),
        why=(
            "PostgreSQL indexes primary keys and unique constraints, not foreign keys. Deleting a referred row "
            "then scans the whole referring table, and joins on the key are slow."
        ),
        bad=dedent(
            """
            class Run(Base):
                agent_id = mapped_column(ForeignKey("agents.id"))
            """
        ),
        good=dedent(
            """
            class Run(Base):
                agent_id = mapped_column(ForeignKey("agents.id"), index=True)
            """
        ),
        enabled=False,
    )
)

ALLOWLIST_EXPIRED = register(
    Rule(
        id="allowlist-expired",
        severity=Severity.WARNING,
        stage="config",
        title="An allowlist entry is past its expiry date",
        fix="Fix what the entry allowed, or review it again and move `expires` forward.",
        what=(
            "An entry under `allow:` in .migration-check.yml whose `expires` date has passed no longer applies: "
            "the findings it allowed are reported again, and so is the entry."
        ),
        why="An exception should be looked at again, not forgotten: the expiry date is when.",
        bad=dedent(
            """
            allow:
              - rule: model-drift
                match: {op: remove_index, name: ix_recipes_name_trgm}
                reason: trigram index created with raw SQL
                expires: 2025-01-31
            """
        ),
        good=dedent(
            """
            allow:
              - rule: model-drift
                match: {op: remove_index, name: ix_recipes_name_trgm}
                reason: trigram index created with raw SQL
                expires: 2027-06-30
            """
        ),
        language="yaml",
    )
)

ALLOWLIST_UNUSED = register(
    Rule(
        id="allowlist-unused",
        severity=Severity.NOTICE,
        stage="config",
        title="An allowlist entry matches nothing",
        fix="Remove the entry: what it allowed is gone.",
        what=(
            "An entry under `allow:` that matched no finding in this run, although the stage that looks for its "
            "rule ran. Entries of stages that did not run (`--only`, no database) are not reported."
        ),
        why="So that the list stays honest: an entry that allows nothing would silently allow the next problem.",
        bad=dedent(
            """
            allow:
              - rule: model-drift
                match: {table: recipes_old}  # the table was dropped last year
                reason: legacy table managed by the import job
            """
        ),
        good=dedent(
            """
            allow: []
            """
        ),
        language="yaml",
    )
)

BAD_SUPPRESSION = register(
    Rule(
        id="bad-suppression",
        severity=Severity.WARNING,
        stage="config",
        title="An inline suppression has no reason or names no known rule",
        fix="Write `# migration-check: ignore[rule-id] why it is fine` with a known rule id and a reason.",
        what=(
            "A migration file can silence findings of a rule for that migration with "
            "`# migration-check: ignore[rule-id] reason`. A suppression without a reason does not apply and is "
            "reported; so is one that names no known rule."
        ),
        why="A reviewer needs the reason to agree with the exception, and a misspelt rule id silences nothing.",
        bad=dedent(
            """
            # migration-check: ignore[drop-unnamed-constraint]
            """
        ),
        good=dedent(
            """
            # migration-check: ignore[drop-unnamed-constraint] the constraint was created in 2019 as items_owner_fkey
            """
        ),
    )
)


def rules_markdown() -> str:
    """The whole of docs/rules.md."""
    header = dedent(
        """
        # Rules

        Every finding names one of these rules. Ids are stable: use them in `--fail-on` decisions, allowlists
        and suppressions. This page is generated from the rule registry
        (`entrypoint/migration_check/rules.py`, and each stage's own rules beside its code, such as
        `entrypoint/migration_check/audit/rules.py`) by `migration-check rules --markdown > docs/rules.md`.

        | rule | severity | what |
        |---|---|---|
        """
    )
    rows = [f"| [`{r.id}`](#{r.id}) | {r.severity.label} | {r.title} |" for r in RULES.values()]
    return "\n".join([header, *rows, "", *(r.markdown() for r in RULES.values())])


# Rules that live beside their stage's code register themselves when imported: import them with the registry.
from migration_check.audit import rules as _audit_rules  # noqa: E402,F401  (registers the audit's rules)
from migration_check.stages.volume import rules as _volume_rules  # noqa: E402,F401  (registers the volume stage's rules)
