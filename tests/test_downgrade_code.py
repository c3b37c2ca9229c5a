"""The code a roundtrip-mismatch suggests for downgrade(): pasted in as it is, the round trip passes, on the
real server, for each kind of broken downgrade."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import check
from history_projects import add, migration, repository
from migration_check.downgrade_code import downgrade_code
from migration_check.snapshot import Changes, Snapshot

pytestmark = pytest.mark.usefixtures("no_leftovers")

ROUND_TRIP_ONLY = ("--only", "apply,roundtrip", "--roundtrip", "full", "--fail-on", "never")

CASES = {
    "a forgotten column": (
        'op.add_column("agents", sa.Column("notes", sa.Text()))\n'
        '    op.add_column("agents", sa.Column("rank", sa.Integer(), server_default="0", nullable=False))',
        'op.drop_column("agents", "rank")'),
    "the wrong table dropped": (
        'op.create_table("agent_tags", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.drop_table("runs")'),
    "an enum type left behind": (
        'op.create_table("agent_states", sa.Column("id", sa.Integer(), primary_key=True),\n'
        '                    sa.Column("state", sa.Enum("draft", "live", name="agent_status")))',
        'op.drop_table("agent_states")'),
    "nothing undone": (
        'op.create_table("agent_states", sa.Column("id", sa.Integer(), primary_key=True),\n'
        '                    sa.Column("agent_id", sa.Integer(), sa.ForeignKey("agents.id", name="fk_states_agent")),\n'
        '                    sa.UniqueConstraint("agent_id", name="uq_agent_states_agent_id"))\n'
        '    op.create_index("ix_agent_states_agent_id", "agent_states", ["agent_id"])\n'
        '    op.create_index("ix_agents_name_lower", "agents", [sa.text("lower(name)")])\n'
        '    op.execute("CREATE VIEW live_agents AS SELECT id, name FROM agents")\n'
        '    op.drop_column("api_keys", "revoked_at")',
        "pass"),
    "an enum value added": (
        "op.execute(\"ALTER TYPE user_role ADD VALUE 'guest'\")\n"
        '    op.alter_column("users", "role", server_default="member")',
        "pass"),
    "changes not taken back": (
        'op.drop_index("ix_runs_status", table_name="runs")\n'
        '    op.create_index("ix_runs_status", "runs", ["status", "started_at"])\n'
        '    op.alter_column("runs", "error", nullable=False, server_default="none")\n'
        '    op.alter_column("users", "display_name", type_=sa.String(300))',
        "pass"),
}


def _with_downgrade(path: Path, code: str) -> None:
    """Appends the lines to downgrade(), the last function of the file."""
    path.write_text(path.read_text().rstrip() + "\n" + "".join(f"    {line}\n" for line in code.splitlines()))


@pytest.mark.parametrize("case", CASES)
def test_the_suggested_code_makes_the_round_trip_pass(tmp_path: Path, case: str) -> None:
    upgrade, downgrade = CASES[case]
    project, _base = repository(tmp_path)
    path = add(project, "0004_case.py", migration("0004", "0003", "change agents", upgrade, downgrade))
    run = check(project, *ROUND_TRIP_ONLY, tmp_path=tmp_path)
    [mismatch] = [f for f in run.report["findings"] if f["rule"] == "roundtrip-mismatch"]
    code = mismatch["details"]["suggested_downgrade"]
    assert "downgrade() would need:" in run.stdout
    _with_downgrade(path, code)
    fixed = check(project, *ROUND_TRIP_ONLY, tmp_path=tmp_path)
    assert fixed.rules() == [], f"{code}\n{fixed.stdout}"


def test_what_cannot_be_written_becomes_a_comment_that_says_what_to_do() -> None:
    changes = Changes([], [], [(("function", "public.touch()", "1f0e"), ("function", "public.touch()", "9a7c"))])
    assert downgrade_code(changes) == ["# restore function public.touch() as it was before this revision"]


def test_an_enum_value_is_taken_back_by_converting_each_column_that_uses_the_type() -> None:
    changes = Changes([], [], [(("enum type", "billing.state", "draft, live"),
                                ("enum type", "billing.state", "draft, live, archived"))])
    schema = Snapshot(frozenset({("column", "billing.invoices.state", "billing.state NOT NULL DEFAULT 'draft'::"
                                                                      "billing.state"),
                                 ("column", "billing.invoices.id", "integer NOT NULL")}))
    assert downgrade_code(changes, schema) == [
        "# rows holding archived must be changed first: the conversion below fails on them",
        'op.execute("ALTER TYPE billing.state RENAME TO state_old")',
        'sa.Enum("draft", "live", name="state", schema="billing").create(op.get_bind())',
        'op.execute("ALTER TABLE billing.invoices ALTER COLUMN state DROP DEFAULT")',
        'op.execute("ALTER TABLE billing.invoices ALTER COLUMN state TYPE billing.state USING state::text::'
        'billing.state")',
        'op.execute("ALTER TABLE billing.invoices ALTER COLUMN state SET DEFAULT \'draft\'::billing.state")',
        'op.execute("DROP TYPE billing.state_old")',
    ]


def test_members_of_a_left_over_table_go_with_it() -> None:
    left_over = [("table", "public.tags", ""), ("column", "public.tags.id", "integer NOT NULL"),
                 ("primary key", "public.tags.pk_tags", "PRIMARY KEY (id)"),
                 ("index", "public.pk_tags", "CREATE UNIQUE INDEX pk_tags ON public.tags USING btree (id)"),
                 ("constraint", "public.tags.tags_id_not_null", "NOT NULL id"),
                 ("index", "public.ix_tags_name", "CREATE INDEX ix_tags_name ON public.tags USING btree (name)"),
                 ("sequence", "public.tags_id_seq", ""),
                 ("column", "public.tags.name", "text NULL DEFAULT nextval('tags_id_seq'::regclass)"),
                 ("column", "audit.events.tag", "text NULL")]
    assert downgrade_code(Changes(left_over, [], [])) == [
        'op.drop_column("events", "tag", schema="audit")',
        'op.drop_table("tags")',
    ]


def test_a_definition_is_written_on_one_line_with_its_literals_as_they_are() -> None:
    missing = [("check constraint", "public.tags.ck_tags_name", "CHECK ((name <> '  '::text))"),
               ("view", "public.live", " SELECT id,\n    name\n   FROM tags;")]
    assert downgrade_code(Changes([], missing, [])) == [
        'op.execute("ALTER TABLE public.tags ADD CONSTRAINT ck_tags_name CHECK ((name <> \'  \'::text))")',
        'op.execute("CREATE VIEW public.live AS SELECT id, name FROM tags")',
    ]


def test_a_failed_downgrade_gets_one_that_works(tmp_path: Path) -> None:
    """drop_constraint(None, ...), what breaks most downgrades: the finding carries a downgrade() written from
    what the upgrade did, with the constraints' real names, and as the whole body it passes."""
    upgrade = ('op.add_column("agents", sa.Column("owner_id", sa.Integer(), nullable=True))\n'
               '    op.create_foreign_key(None, "agents", "users", ["owner_id"], ["id"])\n'
               '    op.create_unique_constraint(None, "agents", ["owner_id", "name"])')
    downgrade = ('op.drop_constraint(None, "agents", type_="unique")\n'
                 '    op.drop_constraint(None, "agents", type_="foreignkey")\n'
                 '    op.drop_column("agents", "owner_id")')
    project, _base = repository(tmp_path)
    path = add(project, "0004_owner.py", migration("0004", "0003", "add agent owners", upgrade, downgrade))
    run = check(project, *ROUND_TRIP_ONLY, tmp_path=tmp_path)
    [failed] = [f for f in run.report["findings"] if f["rule"] == "downgrade-failed"]
    code = failed["details"]["suggested_downgrade"]
    assert 'op.drop_constraint("fk_agents_owner_id_users", "agents", type_="foreignkey")' in code
    assert "a downgrade() that takes back what upgrade() did:" in run.stdout
    path.write_text(migration("0004", "0003", "add agent owners", upgrade, code.replace("\n", "\n    ")))
    fixed = check(project, *ROUND_TRIP_ONLY, tmp_path=tmp_path)
    assert fixed.rules() == [], f"{code}\n{fixed.stdout}"
