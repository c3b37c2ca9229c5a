"""The rule registry. Each rule carries its own documentation; docs/rules.md is generated from it."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from migration_check.findings import Severity


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    title: str
    fix: str  # one line, shown next to every finding of the rule
    what: str
    why: str
    bad: str  # an example that triggers the rule
    good: str  # what to write instead

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
