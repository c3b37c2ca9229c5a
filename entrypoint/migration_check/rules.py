"""The rule registry. Each rule carries its own documentation; docs/rules.md is generated from it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from migration_check.findings import Severity


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
                "```python",
                self.bad.strip("\n"),
                "```",
                "",
                "**Passes:**",
                "",
                "```python",
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


def _dedent(text: str) -> str:
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
        bad=_dedent(
            '''
            def upgrade():
                # "runs" does not exist yet: it is created by a later revision
                op.add_column("runs", sa.Column("agent_version_id", sa.Integer()))
            '''
        ),
        good=_dedent(
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

MODEL_DRIFT = register(
    Rule(
        id="model-drift",
        severity=Severity.ERROR,
        stage="compare",
        title="The models and the migrated database differ",
        fix="Add a migration for the change: `alembic revision --autogenerate -m \"<what changes>\"`.",
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
        bad=_dedent(
            '''
            class Agent(Base):
                __tablename__ = "agents"
                id: Mapped[int] = mapped_column(primary_key=True)
                # added to the model, but no migration adds the column
                description: Mapped[str | None] = mapped_column(Text)
            '''
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            # 0004_add_agent_tags.py
            down_revision = "0003"
            # 0004_add_run_cost.py, from another pull request
            down_revision = "0003"
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            revision = "0004"
            down_revision = "0003a"  # no migration has this id
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            # the base branch's head is 0005
            revision = "0006"
            down_revision = "0004"
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            # 0003 is on main and has run; this pull request edits it
            op.add_column("runs", sa.Column("cost_cents", sa.Integer()))
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            $ git rm migrations/versions/0004_add_agent_tags.py
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            '''
            """update

            Revision ID: 3f2a9c1b7d4e
            """
            '''
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            def upgrade():
                pass
            """
        ),
        good=_dedent(
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
        bad=_dedent(
            """
            0006_add_agent_tags.py
            0007_add_index_to_agent_tags.py
            0008_fix_agent_tags_nullable.py
            """
        ),
        good=_dedent(
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
        title="A constraint is dropped (or created) without a name",
        fix="Name the constraint, and give the models' MetaData a naming_convention so autogenerate names them all.",
        what=(
            "`op.drop_constraint(None, ...)`, which cannot run; or `op.create_foreign_key(None, ...)` (and the "
            "other create_* operations) in a project with no naming_convention, which leaves a constraint that "
            "a later migration cannot name."
        ),
        why=(
            "Autogenerate writes `drop_constraint(None, ...)` in the downgrade of every unnamed constraint. It "
            "fails when the downgrade runs; in the projects we tried it broke the downgrade in 5 of 9."
        ),
        bad=_dedent(
            """
            def downgrade():
                op.drop_constraint(None, "agents", type_="foreignkey")
            """
        ),
        good=_dedent(
            """
            metadata = MetaData(naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s"})

            def downgrade():
                op.drop_constraint("fk_agents_organization_id", "agents", type_="foreignkey")
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
        bad=_dedent(
            """
            def upgrade():
                op.add_column("agents", sa.Column("description", sa.Text()))

            def downgrade():
                pass
            """
        ),
        good=_dedent(
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
            "the finding names the revision, the file and line of the failing operation and the database's error."
        ),
        why=(
            "A downgrade that fails is found when a deployment must be rolled back: the worst moment. In the "
            "projects we tried, downgrading to base failed in 7 of 9."
        ),
        bad=_dedent(
            """
            def downgrade():
                op.drop_constraint(None, "agents", type_="foreignkey")  # the name is needed
                op.drop_column("agents", "owner_id")
            """
        ),
        good=_dedent(
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
            "and schemas."
        ),
        why=(
            "A downgrade that \"works\" but leaves an enum type or an index behind breaks the next upgrade, or "
            "leaves production different from every fresh database."
        ),
        bad=_dedent(
            """
            def upgrade():
                op.create_table("runs", sa.Column("status", sa.Enum("queued", "done", name="run_status")))

            def downgrade():
                op.drop_table("runs")  # the run_status type stays behind
            """
        ),
        good=_dedent(
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
            "the first upgrade built."
        ),
        why=(
            "Rolling back and forward again is what a retried deployment does; if the second upgrade fails on "
            "an object the downgrade left, the retry fails."
        ),
        bad=_dedent(
            """
            def upgrade():
                op.execute("CREATE SEQUENCE run_numbers")

            def downgrade():
                pass  # the sequence stays: CREATE SEQUENCE fails the second time
            """
        ),
        good=_dedent(
            """
            def downgrade():
                op.execute("DROP SEQUENCE run_numbers")
            """
        ),
    )
)

IRREVERSIBLE_MIGRATION = register(
    Rule(
        id="irreversible-migration",
        severity=Severity.NOTICE,
        stage="roundtrip",
        title="A migration is marked irreversible, and its round trip is skipped",
        fix="Nothing to do if it truly cannot be undone; otherwise write downgrade() and remove the marker.",
        what=(
            "A migration file with the comment `# migration-check: irreversible` is applied but not downgraded; "
            "the round trip below it, and the downgrade to base, are skipped."
        ),
        why="So that the report says which part of the history cannot be rolled back, instead of hiding it.",
        bad=_dedent(
            """
            # migration-check: irreversible - the backfill overwrote the old values
            def downgrade():
                raise NotImplementedError
            """
        ),
        good=_dedent(
            """
            def downgrade():
                op.drop_column("agents", "description")
            """
        ),
    )
)


def rules_markdown() -> str:
    """The whole of docs/rules.md."""
    header = _dedent(
        """
        # Rules

        Every finding names one of these rules. Ids are stable: use them in `--fail-on` decisions, allowlists
        and suppressions. This page is generated from the rule registry
        (`entrypoint/migration_check/rules.py`) by `migration-check rules --markdown > docs/rules.md`.

        | rule | severity | what |
        |---|---|---|
        """
    )
    rows = [f"| [`{r.id}`](#{r.id}) | {r.severity.label} | {r.title} |" for r in RULES.values()]
    return "\n".join([header, *rows, "", *(r.markdown() for r in RULES.values())])
