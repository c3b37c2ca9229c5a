"""The graph and history rules on real git repositories, read statically (no database)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from conftest import check
from history_projects import GOOD, STATIC, add, change, git, migration, repository


def findings(run, rule: str) -> list[dict]:  # type: ignore[no-untyped-def]
    assert run.report is not None, run.stderr
    return [f for f in run.report["findings"] if f["rule"] == rule]


def test_a_good_change_has_no_findings(tmp_path: Path) -> None:
    project, flags = change(tmp_path, GOOD)
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 0, run.stdout + run.stderr
    assert run.report is not None and run.report["findings"] == []
    assert set(run.report["timings"]) == {"configuration", "graph", "history"}, "no database was started"


def test_two_heads_name_the_heads_files_and_the_merge_command(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_add_tags.py", migration("0004a", "0003", "add agent tags")),
                            ("0004_add_cost.py", migration("0004b", "0003", "add run cost")))
    run = check(project, *flags, tmp_path=tmp_path)
    heads = findings(run, "multiple-heads")
    assert len(heads) == 2
    assert "alembic merge -m \"merge heads\" 0004b 0004a" in heads[0]["message"] or \
        "alembic merge -m \"merge heads\" 0004a 0004b" in heads[0]["message"]
    source = (project / "migrations/versions/0004_add_tags.py").read_text().splitlines()
    tags = next(f for f in heads if f["revision"] == "0004a")
    assert source[tags["line"] - 1].startswith("down_revision = "), "points at the down_revision line"
    assert run.status == 1


def test_a_merge_migration_joins_the_heads(tmp_path: Path) -> None:
    project, flags = change(
        tmp_path, ("0004_add_tags.py", migration("0004a", "0003", "add agent tags")),
        ("0004_add_cost.py", migration("0004b", "0003", "add run cost")),
        ("0005_merge.py", migration("0005", ("0004a", "0004b"), "merge agent tags and run cost", "pass", "pass")))
    run = check(project, *flags, tmp_path=tmp_path)
    rules = run.rules()
    assert "multiple-heads" not in rules and "empty-migration" not in rules and "missing-downgrade" not in rules
    assert "broken-revision-graph" not in rules and "not-on-base-head" not in rules
    assert rules == ["split-migrations"], "two new migrations besides the merge"


def test_branch_labels_and_depends_on(tmp_path: Path) -> None:
    project, flags = change(
        tmp_path,
        ("0100_reporting_root.py", migration("0100", None, "create the reporting branch's first table",
                                             'op.create_table("reports", sa.Column("id", sa.Integer()))',
                                             'op.drop_table("reports")', extra="branch_labels = ('reporting',)")),
        ("0101_report_agents.py", migration("0101", "0100", "link reports to agents",
                                            extra="depends_on = ('0003',)")))
    run = check(project, "--only", "graph", tmp_path=tmp_path)
    assert "broken-revision-graph" not in run.rules()
    assert run.rules().count("multiple-heads") == 2, "a labelled branch is a second head until merged"
    add(project, "0101_report_agents.py", migration("0101", "0100", "link reports to agents",
                                                    extra="depends_on = ('nonexistent',)"))
    [broken] = findings(check(project, "--only", "graph", tmp_path=tmp_path), "broken-revision-graph")
    assert "depends_on names nonexistent" in broken["message"]
    del flags


def test_unknown_parent_duplicate_id_and_cycle(tmp_path: Path) -> None:
    project, _ = change(tmp_path, ("0004_x.py", migration("0004", "0003x", "add agents.description")))
    [unknown] = findings(check(project, "--only", "graph", tmp_path=tmp_path), "broken-revision-graph")
    assert "0003x, which no migration declares" in unknown["message"]
    add(project, "0004_x.py", migration("0003", "0002", "add agents.description"))
    assert any("declared twice" in f["message"] for f in findings(check(project, "--only", "graph",
                                                                        tmp_path=tmp_path), "broken-revision-graph"))
    add(project, "0004_x.py", migration("0004", "0005", "add agents.description"))
    add(project, "0005_y.py", migration("0005", "0004", "add runs.cost"))
    cyc = findings(check(project, "--only", "graph", tmp_path=tmp_path), "broken-revision-graph")
    assert any("cycle" in f["message"] for f in cyc)


def test_tuple_down_revision_is_read(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", migration("0004", ("0003",), "add agents.description")))
    assert check(project, *flags, tmp_path=tmp_path).rules() == []


def test_not_on_base_head_says_which_revision(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", migration("0004", "0002", "add agents.description")))
    run = check(project, *flags, tmp_path=tmp_path)
    [finding] = findings(run, "not-on-base-head")
    assert "Set down_revision = '0003'" in finding["message"]
    assert "multiple-heads" in run.rules()


def test_modified_migration_error_and_cosmetic_warning(tmp_path: Path) -> None:
    project, base = repository(tmp_path)
    second = project / "migrations/versions/0002_create_agents_and_agent_versions.py"
    original = second.read_text()
    second.write_text(original.replace('sa.String(length=200), nullable=False),\n        sa.Column("created_by_id"',
                                       'sa.String(length=250), nullable=False),\n        sa.Column("created_by_id"'))
    run = check(project, *STATIC, "--base-ref", base, tmp_path=tmp_path)
    [finding] = findings(run, "modified-migration")
    assert finding["severity"] == "error" and finding["revision"] == "0002"
    assert "length=250" in second.read_text().splitlines()[finding["line"] - 1]
    second.write_text(original.replace("def upgrade() -> None:", "# reviewed in 2026\ndef upgrade() -> None:"))
    (tmp_path / "report.json").unlink()
    [cosmetic] = findings(check(project, *STATIC, "--base-ref", base, tmp_path=tmp_path), "modified-migration")
    assert cosmetic["severity"] == "warning" and "comments or whitespace only" in cosmetic["message"]


def test_deleted_and_renamed_migrations(tmp_path: Path) -> None:
    project, base = repository(tmp_path)
    third = project / "migrations/versions/0003_create_runs_and_api_keys.py"
    third.unlink()
    [deleted] = findings(check(project, *STATIC, "--base-ref", base, tmp_path=tmp_path), "deleted-migration")
    assert "was deleted" in deleted["message"]
    (tmp_path / "report.json").unlink()
    git(tmp_path, "checkout", "-q", "--", ".")
    third.rename(third.with_name("0003_runs.py"))
    [renamed] = findings(check(project, *STATIC, "--base-ref", base, tmp_path=tmp_path), "deleted-migration")
    assert "renamed to" in renamed["message"] and renamed["file"].endswith("0003_runs.py")


def test_message_rules(tmp_path: Path) -> None:
    project, flags = change(
        tmp_path, ("0004_update.py", migration("0004", "0003", "update")))
    [vague] = findings(check(project, *flags, tmp_path=tmp_path), "vague-message")
    assert vague["line"] == 1 and "'update'" in vague["message"]


def test_empty_and_missing_downgrade_and_the_opt_out(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", migration("0004", "0003", "add agents.description",
                                                             downgrade="pass")))
    assert "missing-downgrade" in check(project, *flags, tmp_path=tmp_path).rules()
    add(project, "0004_a.py", migration("0004", "0003", "add agents.description", downgrade="pass",
                                        extra="# migration-check: irreversible - the column is backfilled"))
    (tmp_path / "report.json").unlink()
    assert "missing-downgrade" not in check(project, *flags, tmp_path=tmp_path).rules()
    add(project, "0004_a.py", migration("0004", "0003", "add agents.description", upgrade="pass"))
    (tmp_path / "report.json").unlink()
    assert "empty-migration" in check(project, *flags, tmp_path=tmp_path).rules()


def test_drop_unnamed_constraint_points_at_the_operation(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "add the agents owner foreign key",
        'op.create_foreign_key("fk_agents_owner", "agents", "users", ["created_by_id"], ["id"])',
        'op.drop_constraint(None, "agents", type_="foreignkey")')))
    run = check(project, *flags, tmp_path=tmp_path)
    [finding] = findings(run, "drop-unnamed-constraint")
    text = (project / "migrations/versions/0004_a.py").read_text().splitlines()
    assert "op.drop_constraint(None" in text[finding["line"] - 1]
    assert "naming_convention" in finding["message"]


def test_create_without_name_only_matters_without_a_naming_convention(tmp_path: Path) -> None:
    unnamed = migration("0004", "0003", "add the agents owner foreign key",
                        'op.create_foreign_key(None, "agents", "users", ["created_by_id"], ["id"])',
                        'op.drop_constraint("fk_agents_created_by_id_users", "agents", type_="foreignkey")')
    project, flags = change(tmp_path, ("0004_a.py", unnamed))
    assert "create-unnamed-constraint" not in check(project, *flags, tmp_path=tmp_path).rules()
    models = project / "app/models.py"
    models.write_text(models.read_text().replace("MetaData(naming_convention=NAMING_CONVENTION)", "MetaData()")
                      .replace("NAMING_CONVENTION", "NAMES"))
    (tmp_path / "report.json").unlink()
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.rules() == ["create-unnamed-constraint"], "it runs: a warning, not the error of a drop"
    assert findings(run, "create-unnamed-constraint")[0]["severity"] == "warning"


def test_syntax_error_is_a_clear_error(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", "revision = '0004'\ndef upgrade(:\n    pass\n"))
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 2
    assert "0004_a.py:2:" in run.stderr and "SyntaxError" in run.stderr and "fix:" in run.stderr


def test_two_migration_trees(tmp_path: Path) -> None:
    project, flags = change(tmp_path, GOOD)
    (project / "tenants").mkdir()
    (project / "tenants" / "versions").mkdir()
    (project / "tenants" / "env.py").write_text((project / "migrations/env.py").read_text())
    (project / "tenants" / "versions" / "t1_create_tenants.py").write_text(
        migration("t1", None, "create tenants", 'op.create_table("tenants", sa.Column("id", sa.Integer()))',
                  'op.drop_table("tenants")'))
    ini = project / "alembic.ini"
    ini.write_text(ini.read_text() + "\n[tenants]\nscript_location = %(here)s/tenants\n"
                   "sqlalchemy.url = postgresql://x@localhost/x\n")
    main = check(project, *flags, tmp_path=tmp_path)
    assert main.rules() == []
    (tmp_path / "report.json").unlink()
    tenants = check(project, *flags, "--name", "tenants", tmp_path=tmp_path)
    assert tenants.rules() == [], "the second tree is new in the change, with its own root"


def test_cheap_rules_run_in_well_under_a_second(tmp_path: Path) -> None:
    project, flags = change(tmp_path, GOOD)
    started = time.perf_counter()
    run = check(project, *flags, tmp_path=tmp_path)
    assert run.status == 0
    steps = run.report["timings"]  # type: ignore[index]
    assert steps["graph"] + steps["history"] < 0.5, steps
    del started


def test_shallow_clone_with_and_without_the_base_commit(tmp_path: Path) -> None:
    origin_project, base = repository(tmp_path / "origin")
    add(origin_project, *GOOD)
    git(tmp_path / "origin", "add", "-A")
    git(tmp_path / "origin", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "change")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--depth=1", f"file://{tmp_path / 'origin'}", str(clone)], check=True)
    missing = check(clone / "clean", *STATIC, "--base-ref", base, tmp_path=tmp_path)
    assert missing.status == 2
    assert f"fetch --no-tags --depth=1 origin {base}" in missing.stderr
    git(clone, "fetch", "-q", "--no-tags", "--depth=1", "origin", base)
    run = check(clone / "clean", *STATIC, "--base-ref", base, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["findings"] == []
    assert git(clone, "status", "--porcelain") == "", "the work tree is never touched"


def test_static_rules_need_neither_an_importable_project_nor_a_database(tmp_path: Path) -> None:
    """settings-env cannot even import without its settings: the file rules still run."""
    from conftest import EXAMPLES

    run = check(EXAMPLES / "settings-env", "--only", "graph,history", tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None and run.report["server"] is None
    assert any("no --base-ref" in reason for reason in run.report["skipped"])


def test_an_unknown_parent_is_a_finding_and_the_database_stages_wait(tmp_path: Path) -> None:
    """A full check of a history Alembic cannot load: exit 1 with broken-revision-graph (not a traceback about
    --env), no second head made up by the cut link, and the stages that need the graph say why they did not run."""
    project, _base = repository(tmp_path)
    add(project, "0004_x.py", migration("0004", "0003x", "add agents.description"))
    run = check(project, tmp_path=tmp_path)
    assert run.status == 1, run.stderr
    assert run.rules() == ["broken-revision-graph"]
    assert run.report is not None and set(run.report["timings"]) == {"configuration", "graph"}, "no database"
    assert ("apply, roundtrip, compare, naming: skipped, since Alembic cannot load the revision graph: a "
            "down_revision names no migration (broken-revision-graph)") in run.report["skipped"]
    # with the graph stage left out, Alembic's own error is said as what it is
    only = check(project, "--only", "roundtrip", tmp_path=tmp_path)
    assert only.status == 2 and "Alembic cannot load the revision graph: KeyError: '0003x'" in only.stderr
    assert "--env" not in only.stderr


def test_drop_constraint_none_in_a_downgrade_is_one_finding(tmp_path: Path) -> None:
    """The static rule and the round trip's failing downgrade blame the same line: one finding, the one that says
    what to write, with the database's error in its details."""
    project, _base = repository(tmp_path)
    add(project, "0004_a.py", migration(
        "0004", "0003", "add the agents owner foreign key",
        'op.create_foreign_key("fk_agents_owner", "agents", "users", ["created_by_id"], ["id"])',
        'op.drop_constraint(None, "agents", type_="foreignkey")'))
    run = check(project, "--fail-on", "never", tmp_path=tmp_path)
    assert [r for r in run.rules() if r not in ("model-drift", "naming-convention")] == ["drop-unnamed-constraint"]
    [finding] = findings(run, "drop-unnamed-constraint")
    assert finding["details"]["downgrade_error"]


def test_missing_downgrade_of_a_data_migration_says_data(tmp_path: Path) -> None:
    project, flags = change(tmp_path, ("0004_a.py", migration(
        "0004", "0003", "give every agent a default name",
        "op.execute(\"UPDATE agents SET name = 'unnamed' WHERE name = ''\")", "pass")))
    [finding] = findings(check(project, *flags, tmp_path=tmp_path), "missing-downgrade")
    assert finding["message"] == "Revision 0004 changes data but its downgrade() does nothing."
    add(project, "0004_a.py", migration("0004", "0003", "index agents by name",
                                        'op.execute("CREATE INDEX ix_agents_name ON agents (name)")', "pass"))
    (tmp_path / "report.json").unlink()
    [finding] = findings(check(project, *flags, tmp_path=tmp_path), "missing-downgrade")
    assert finding["message"] == "Revision 0004 changes the schema but its downgrade() does nothing."
