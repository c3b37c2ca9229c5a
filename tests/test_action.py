"""The action's entry point end to end, in a simulated runner, against the fake GitHub API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EXAMPLES
from fake_github import FakeGitHub
from runner import PULL_NUMBER, make_workspace, run_action

pytestmark = pytest.mark.usefixtures("no_leftovers")


@pytest.fixture
def github() -> FakeGitHub:
    with FakeGitHub() as fake:
        yield fake
    assert fake.violations == [], "every request must match the OpenAPI subset"


def test_drift_on_a_pull_request(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/drift"})
    assert run.status == 1, run.stdout + run.stderr
    assert run.outputs == {
        "status": "failed", "errors": "4", "warnings": "0", "drift": "true",
        "report": "migration-check-report.json", "sarif": "migration-check.sarif",
    }
    report = json.loads((workspace / "migration-check-report.json").read_text())
    assert {f["file"] for f in report["findings"]} == {"examples/drift/app/models.py"}
    assert (workspace / "migration-check.sarif").stat().st_mode & 0o044 == 0o044, "later steps can read it"

    annotations = run.annotations()
    assert len(annotations) == 4
    assert annotations[0].startswith("::error file=examples/drift/app/models.py,line=")
    assert "title=model-drift%3A The models and the migrated database differ::" in annotations[0]

    assert "## ❌ migration-check failed: 4 errors" in run.summary
    assert "### Suggested migration" in run.summary

    [comment] = github.all_comments()
    assert comment["body"].startswith("<!-- migration-check:sticky examples/drift:alembic.ini#alembic -->")
    assert "❌ migration-check failed" in comment["body"]
    assert "https://github.com/acme/agents-service/actions/runs/123456789" in comment["body"]
    head = "b" * 40  # the pull request's head commit: each place links to its line there
    assert f"(https://github.com/acme/agents-service/blob/{head}/examples/drift/app/models.py#L57)" in comment["body"]
    assert "::add-mask::ghs_faketoken1234567890" in run.stdout


def test_comment_is_updated_in_place_and_says_when_it_passes(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    inputs = {"working-directory": "examples/drift"}
    first = run_action(workspace, tmp_path / "files", github.url, inputs)
    [created] = github.all_comments()
    second = run_action(workspace, tmp_path / "files", github.url, inputs)
    assert first.status == second.status == 1
    [updated] = github.all_comments()
    assert updated["id"] == created["id"]
    assert ("POST", f"/repos/acme/agents-service/issues/{PULL_NUMBER}/comments") in github.requests
    assert not [r for r in github.requests if r[0] == "PATCH"], "the same findings: no edit for a new timing"

    # the next push fixes the models: the comment stays, and says so
    (workspace / "examples/drift/app/models.py").write_text((EXAMPLES / "clean/app/models.py").read_text())
    fixed = run_action(workspace, tmp_path / "files", github.url, inputs)
    assert fixed.status == 0, fixed.stdout + fixed.stderr
    assert fixed.outputs["status"] == "passed" and fixed.outputs["drift"] == "false"
    [passed] = github.all_comments()
    assert passed["id"] == created["id"]
    assert "✅ migration-check passed" in passed["body"]
    assert len([r for r in github.requests if r[0] == "PATCH"]) == 1
    posts = [r for r in github.requests if r[0] == "POST"]
    assert len(posts) == 1, "never a second comment"


def test_a_passing_check_does_not_start_a_conversation(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/clean"})
    assert run.status == 0
    assert list(github.all_comments()) == []
    assert "✅ migration-check passed" in run.summary


def test_comment_new_replaces_the_old_one(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    inputs = {"working-directory": "examples/drift", "comment": "new"}
    run_action(workspace, tmp_path / "files", github.url, inputs)
    [first] = github.all_comments()
    run_action(workspace, tmp_path / "files", github.url, inputs)
    [second] = github.all_comments()
    assert second["id"] != first["id"]


def test_fork_pull_request_read_only_token(github: FakeGitHub, tmp_path: Path) -> None:
    github.read_only = True
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/drift"}, fork=True)
    assert run.status == 1, "the findings fail the step; the missing comment does not"
    warnings = [a for a in run.annotations() if a.startswith("::warning")]
    assert len(warnings) == 1
    assert "a pull request from a fork" in warnings[0] and "403" in warnings[0]
    assert len(run.annotations()) == 5
    assert "❌ migration-check failed" in run.summary
    assert run.outputs["status"] == "failed"


def test_retries_on_502_and_429(github: FakeGitHub, tmp_path: Path) -> None:
    github.fail_next("GET", "/comments", 429, retry_after="1")
    github.fail_next("POST", "/comments", 502)
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/drift"})
    assert run.status == 1, run.stdout + run.stderr
    assert "GitHub answered 429" in run.stdout and "GitHub answered 502" in run.stdout
    assert len(list(github.all_comments())) == 1
    assert github.scripted == []


def test_no_comment_outside_pull_requests(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/drift"},
                     event_name="push")
    assert run.status == 1
    assert github.requests == []
    assert "push is not a pull request" in run.stdout


def test_bad_input_is_an_error_annotation_and_exit_2(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url, {"fail-on": "sometimes"})
    assert run.status == 2
    assert run.annotations()[0].startswith("::error title=migration-check could not run")
    assert "fail-on" in run.annotations()[0]
    assert run.outputs["status"] == "error"
    assert "could not run" in run.summary


def test_install_auto_says_what_it_ran(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace / "examples/drift/requirements.txt").write_text("# the image already has what this needs\n")
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/drift", "install": "auto"})
    assert "::group::Installing the project's dependencies (found requirements.txt)" in run.stdout
    assert run.status == 1


def test_settings_and_url_env_inputs(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, ("clean", "settings-env"))
    run = run_action(workspace, tmp_path / "files", github.url, {
        "working-directory": "examples/settings-env",
        "url-env": "APP_DATABASE_URL",
        "env": "APP_SECRET_KEY: not-a-secret\nAPP_DEBUG: '1'\n",
    })
    assert run.status == 0, run.stdout + run.stderr
    assert "::add-mask::not-a-secret" in run.stdout


def test_config_file_input_allows_and_counts(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    (workspace / "examples/drift/ci").mkdir()
    (workspace / "examples/drift/ci/migration-check.yml").write_text(
        "allow:\n"
        "  - rule: model-drift\n"
        "    match: {table: agents, column: description}\n"
        "    reason: added by the data team's job\n")
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/drift", "config-file": "ci/migration-check.yml"})
    assert run.status == 1, run.stdout + run.stderr
    assert run.outputs["errors"] == "3"
    assert "3 errors, 0 warnings, 0 notices, 1 allowed" in run.summary
    report = json.loads((workspace / "migration-check-report.json").read_text())
    assert report["settings_file"] == "examples/drift/ci/migration-check.yml"
    assert report["allowed"][0]["allowed_by"] == "allowlist examples/drift/ci/migration-check.yml:2"

    (workspace / "examples/drift/ci/migration-check.yml").write_text("rules:\n  model-drift: loud\n")
    bad = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/drift", "config-file": "ci/migration-check.yml"})
    assert bad.status == 2
    [annotation] = bad.annotations()
    assert annotation.startswith("::error file=examples/drift/ci/migration-check.yml,line=2")
    assert "cannot be `loud`" in annotation


def test_inputs_match_action_yml() -> None:
    import yaml

    from migration_check.github.inputs import DEFAULTS

    action = yaml.safe_load((EXAMPLES.parent / "action.yml").read_text())
    declared = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    declared["github-token"] = ""  # the runner fills ${{ github.token }} in
    assert declared == DEFAULTS
    assert set(action["outputs"]) == {"status", "errors", "warnings", "drift", "report", "sarif"}


def test_truncation_keeps_the_comment_under_githubs_limit() -> None:
    from migration_check.findings import Finding, Report, Severity
    from migration_check.github.comment import COMMENT_LIMIT, comment_body

    findings = [Finding("model-drift", Severity.ERROR, f"Column t{i}.c is in the models, but no migration adds it.",
                        "app/models.py", i, details={"op": "add_column"}) for i in range(3000)]
    report = Report(project=".", findings=findings, suggested_migration="op.add_column('t', sa.Column('c'))\n" * 99)
    body = comment_body(report, Severity.ERROR, "key", "https://github.com/o/r/actions/runs/1")
    assert len(body) <= COMMENT_LIMIT
    assert body.startswith("<!-- migration-check:sticky key -->\n## ❌ migration-check failed: 3000 errors")
    assert "the rest is in [the job summary](https://github.com/o/r/actions/runs/1)" in body
    short = comment_body(Report(project="."), Severity.ERROR, "key", None)
    assert "✂️" not in short


def test_annotations_are_escaped_and_capped() -> None:
    import io

    from migration_check.findings import Finding, Report, Severity
    from migration_check.github import annotations

    findings = [Finding("model-drift", Severity.ERROR, f"100% wrong, line {i}:\nsecond line", "a,b:c.py", i)
                for i in range(1, 15)]
    findings += [Finding("upgrade-failed", Severity.ERROR, "boom", "m.py", 3, details={"hint": "add the schema"})]
    stream = io.StringIO()
    count = annotations.emit(Report(project=".", findings=findings, config_file="alembic.ini"), stream)
    lines = stream.getvalue().splitlines()
    assert (count.shown, count.hidden) == (10, 5)
    assert lines[0].startswith("::error file=m.py,line=3,title=upgrade-failed%3A "), "upgrade failures first"
    assert lines[0].endswith("::boom%0AHint: add the schema%0AFix: Fix the failing operation so that `alembic "
                             "upgrade head` works on an empty database.")
    assert lines[1] == ("::error file=a%2Cb%3Ac.py,line=1,title=model-drift%3A The models and the migrated "
                        "database differ::100%25 wrong, line 1:%0Asecond line%0AFix: Add a migration for the change: "
                        "`alembic revision --autogenerate -m \"<what changes>\"`.")


def test_a_round_trip_annotation_carries_the_code_downgrade_lacks() -> None:
    import io

    from migration_check.findings import Finding, Report, Severity
    from migration_check.github import annotations

    finding = Finding("roundtrip-mismatch", Severity.ERROR, "left over: column public.agents.notes", "v.py", 9,
                      details={"suggested_downgrade": 'op.drop_column("agents", "notes")\nop.drop_table("tags")'})
    stream = io.StringIO()
    annotations.emit(Report(project=".", findings=[finding]), stream)
    assert stream.getvalue().rstrip().endswith(
        "%0Adowngrade() would need:%0Aop.drop_column(\"agents\", \"notes\")%0Aop.drop_table(\"tags\")")


def test_comment_file_for_the_fork_safe_recipe(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/drift", "comment": "off", "comment-file": "comment.md"})
    assert run.status == 1
    assert github.requests == []
    body = (workspace / "comment.md").read_text()
    assert body.startswith("<!-- migration-check:sticky examples/drift:alembic.ini#alembic -->")


def test_history_rules_against_the_pull_requests_base(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    migration = workspace / "examples/clean/migrations/versions/0002_create_agents_and_agent_versions.py"
    migration.write_text(migration.read_text().replace("length=200", "length=250", 1))
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/clean"})
    assert run.status == 1, run.stdout + run.stderr
    [annotation] = [a for a in run.annotations() if "modified-migration" in a]
    assert annotation.startswith("::error file=examples/clean/migrations/versions/0002_create_agents_and_agent_"
                                 "versions.py,line=")


def test_missing_base_commit_skips_history_with_a_warning(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "base-ref": ""}, base_sha="f" * 40)
    assert run.status == 0, run.stdout + run.stderr
    [warning] = [a for a in run.annotations() if a.startswith("::warning")]
    assert "title=History rules skipped" in warning and "fetch-depth: 0" in warning
    assert f"history: the pull request's base commit {'f' * 12} is not in the clone and could not be fetched" \
        in run.summary and "no --base-ref" not in run.summary


def test_code_scanning_shows_the_hint_and_the_suggested_downgrade() -> None:
    from migration_check.findings import Finding, Report, Severity
    from migration_check.reporters.sarif import as_sarif

    findings = [Finding("upgrade-failed", Severity.ERROR, "Applying revision 0001 failed", "a.py", 3,
                        details={"hint": "run with --preset supabase"}),
                Finding("downgrade-failed", Severity.ERROR, "Downgrading revision 0004 failed", "b.py", 9,
                        details={"suggested_downgrade": 'op.drop_column("agents", "owner_id")'})]
    [sarif_run] = as_sarif(Report(project=".", findings=findings))["runs"]
    texts = [result["message"]["text"] for result in sarif_run["results"]]
    assert texts == ["Applying revision 0001 failed\nHint: run with --preset supabase",
                     "Downgrading revision 0004 failed\na downgrade() that takes back what upgrade() did:\n"
                     'op.drop_column("agents", "owner_id")']


def test_files_in_the_workspace_belong_to_its_owner(github: FakeGitHub, tmp_path: Path) -> None:
    """The container runs as root; the report, the SARIF file and the folders made for them are the workspace
    owner's, so that the runner's later steps and its clean-up can remove them."""
    import os

    if os.geteuid() != 0:
        pytest.skip("needs root, as the Action's container runs")
    workspace = make_workspace(tmp_path)
    os.chown(workspace, 1001, 1001)
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "report-file": "out/reports/report.json",
                      "sarif-file": "out/migration-check.sarif"})
    assert run.status == 0, run.stdout + run.stderr
    for made in ("out", "out/reports", "out/reports/report.json", "out/migration-check.sarif"):
        assert (workspace / made).stat().st_uid == 1001, made


def test_an_install_that_fails_says_why_in_the_annotation_and_the_summary(github: FakeGitHub,
                                                                          tmp_path: Path) -> None:
    """The installer's own reason, not only its exit status, where a reviewer looks: the annotation and the job
    summary (the full log stays in its collapsed group)."""
    workspace = make_workspace(tmp_path)
    failing = ("python -c \"import sys; print('Collecting nosuchpkg==9'); "
               "print('ERROR: No matching distribution found for nosuchpkg==9'); sys.exit(1)\"")
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "install": failing})
    assert run.status == 2 and run.outputs["status"] == "error"
    cause = "The cause: ERROR: No matching distribution found for nosuchpkg==9"
    assert cause in run.annotations()[0] and cause in run.summary


def test_a_missing_checkout_is_said_in_the_actions_words(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    run = run_action(workspace, tmp_path / "files", github.url, {}, base_sha="f" * 40)
    assert run.status == 2 and run.outputs["status"] == "error"
    assert "the repository was not checked out" in run.annotations()[0]
    assert "actions/checkout" in run.annotations()[0] and "actions/checkout" in run.summary


def test_errors_name_inputs_not_flags(github: FakeGitHub, tmp_path: Path) -> None:
    """No alembic.ini where working-directory points: the fix speaks of working-directory and alembic-config."""
    workspace = make_workspace(tmp_path)
    (workspace / "examples/empty").mkdir()
    run = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/empty"})
    assert run.status == 2
    annotation = run.annotations()[0]
    assert "working-directory" in annotation and "alembic-config input" in annotation, annotation
    assert "--config" not in annotation and "PATH" not in annotation
    missing = run_action(workspace, tmp_path / "files", github.url, {"working-directory": "examples/nowhere"})
    assert missing.status == 2 and "working-directory 'examples/nowhere' is not a folder" in missing.annotations()[0]


@pytest.mark.parametrize(("pip_says", "cause", "package"), [
    ("Error: pg_config executable not found.\n\npg_config is required to build psycopg2 from source.",
     "needs PostgreSQL's client library and pg_config", "libpq-dev"),
    ("psycopg/psycopg.h:36:10: fatal error: libpq-fe.h: No such file or directory",
     "needs PostgreSQL's client library and pg_config", "libpq-dev"),
    ("src/module.c:1:10: fatal error: Python.h: No such file or directory",
     "needs the headers of the Python it builds for", "python3-dev"),
    ("error: command 'x86_64-linux-gnu-gcc' failed: No such file or directory",
     "the image has no C compiler", "build-essential"),
])
def test_a_source_build_that_lacks_a_system_package_names_the_apt_line(github: FakeGitHub, tmp_path: Path,
                                                                       pip_says: str, cause: str,
                                                                       package: str) -> None:
    workspace = make_workspace(tmp_path)
    script = workspace / "fake_pip.py"
    script.write_text(f"import sys\nprint('Building wheel for psycopg2 (pyproject.toml)')\nprint({pip_says!r})\n"
                      "print('ERROR: Failed building wheel for psycopg2')\nsys.exit(1)\n")
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "install": f"python {script}"})
    assert run.status == 2 and run.outputs["status"] == "error"
    assert "The cause: a package" in run.annotations()[0] and cause in run.annotations()[0]
    assert "apt-get install -y --no-install-recommends build-essential" in run.summary
    assert package in run.summary


@pytest.mark.parametrize(("version", "says"), [("3.8", "needs Python 3.9 or newer"),
                                                ("latest-ish", "takes a CPython version such as 3.12")])
def test_python_version_is_checked_before_anything_runs(github: FakeGitHub, tmp_path: Path, version: str,
                                                        says: str) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "python-version": version})
    assert run.status == 2 and run.outputs["status"] == "error"
    assert says in run.annotations()[0] and "python-version" in run.annotations()[0]


def test_the_pull_requests_new_migration_on_filled_tables(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    versions = workspace / "examples/clean/migrations/versions"
    (versions / "0004_index_runs_started_at.py").write_text(
        '"""index runs.started_at\n\nRevision ID: 0004\nRevises: 0003\n"""\nfrom alembic import op\n\n'
        'revision = "0004"\ndown_revision = "0003"\nbranch_labels = None\ndepends_on = None\n\n\n'
        'def upgrade():\n    op.create_index("ix_runs_started_at", "runs", ["started_at"])\n\n\n'
        'def downgrade():\n    op.drop_index("ix_runs_started_at", table_name="runs")\n')
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "data-volume": "500", "fail-on": "never"})
    assert run.status == 0, run.stdout + run.stderr
    [annotation] = [a for a in run.annotations() if "blocking-lock" in a]
    assert annotation.startswith("::warning file=examples/clean/migrations/versions/0004_index_runs_started_at.py,"
                                 "line=15")
    assert "The new migrations on tables of 500 rows" in run.summary
    assert "| `CREATE INDEX ix_runs_started_at ON runs (started_at)` | SHARE on public.runs | writes |" in run.summary
    [comment] = github.all_comments()
    assert "The new migrations on tables of 500 rows" in comment["body"]


def test_a_bad_data_volume_input_is_named(github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"working-directory": "examples/clean", "data-volume": "lots"})
    assert run.status == 2
    assert "the data-volume input 'lots' is not a number of rows" in run.stdout + run.stderr
