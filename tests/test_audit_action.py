"""The Action's mode: audit and mode: merge-reports in the simulated runner, against the fake GitHub API: the
outputs, the job summary, and the one issue kept up to date (created, left alone, edited, closed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_audit import live_database

from fake_github import FakeGitHub
from migration_check.database import ThrowawayServer
from runner import make_workspace, run_action

pytestmark = pytest.mark.usefixtures("no_leftovers")

MARKER = "<!-- migration-check:audit examples/clean:alembic.ini#alembic -->"


@pytest.fixture
def github() -> FakeGitHub:
    with FakeGitHub() as fake:
        yield fake
    assert fake.violations == [], "every request must match the OpenAPI subset"


def _audit(workspace: Path, files: Path, github: FakeGitHub, url: str, **inputs: str):
    return run_action(workspace, files, github.url, {"mode": "audit", "working-directory": "examples/clean",
                                                     "database-url": f"production={url}",
                                                     "issue-labels": "schema-drift\nops", **inputs},
                      event_name="schedule")


def _requests(github: FakeGitHub, method: str, path_end: str) -> int:
    return sum(1 for m, path in github.requests if m == method and path.endswith(path_end))


def test_the_issue_lifecycle(server: ThrowawayServer, github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    project = workspace / "examples/clean"
    url = live_database(server, project, "0002", "CREATE INDEX ix_agents_name ON agents (name)",
                        "ALTER TABLE users ALTER COLUMN email DROP NOT NULL")
    name = url.rsplit("/", 1)[1]
    files = tmp_path / "files"

    drift = _audit(workspace, files, github, url)
    assert drift.status == 1, drift.stdout + drift.stderr
    assert drift.outputs["status"] == "failed" and drift.outputs["drift"] == "true"
    assert drift.outputs["errors"] == "2" and drift.outputs["warnings"] == "1"
    [issue] = github.issues.values()
    assert issue["title"] == "Schema drift in the live databases"
    assert [label["name"] for label in issue["labels"]] == ["schema-drift", "ops"]
    assert issue["body"].startswith(MARKER)
    assert "| production | ❌ drift | 0002 | 1 | 3 |" in issue["body"]
    assert "`0003` create runs and api_keys" in issue["body"]
    assert "ix_agents_name" in issue["body"] and "issue: created #101" in drift.stdout
    assert "| production | ❌ drift | 0002 | 1 | 3 |" in drift.summary
    assert any(a.startswith("::error file=examples/clean/alembic.ini,title=live-schema-diverged")
               for a in drift.annotations())
    report = json.loads((workspace / "migration-check-report.json").read_text())
    assert report["kind"] == "audit" and report["databases"][0]["tables"]
    secret = url.split("//", 1)[1].split("@")[0].split(":")[1]
    assert f"::add-mask::{secret}" in drift.stdout
    shown = "\n".join(line for line in drift.stdout.splitlines() if not line.startswith("::add-mask::"))
    for text in (shown, drift.summary, issue["body"],
                 json.dumps(report), (workspace / "migration-check.sarif").read_text()):
        assert secret not in text and url not in text

    same = _audit(workspace, files, github, url)
    assert same.status == 1 and "issue: unchanged #101" in same.stdout
    assert _requests(github, "PATCH", "/issues/101") == 0, "nothing changed: no edit, no notification"

    with server.connect(name) as connection:  # someone takes one hotfix back by hand
        connection.execute("DROP INDEX ix_agents_name")
    changed = _audit(workspace, files, github, url)
    assert "issue: commented #101" in changed.stdout
    assert _requests(github, "PATCH", "/issues/101") == 1 and len(github.issues) == 1
    assert "ix_agents_name" not in issue["body"]
    [comment] = github.comments[101]
    assert comment["body"].startswith("The findings changed: 2 now, 3 findings before")

    with server.connect(name) as connection:  # the release deploys 0003, and the last hotfix is undone
        connection.execute("ALTER TABLE users ALTER COLUMN email SET NOT NULL")
    import subprocess
    import sys

    from test_audit import _UPGRADE  # the project's own migrations bring it to head
    subprocess.run([sys.executable, "-c", _UPGRADE, server.url(name, "psycopg"), "head"], cwd=project, check=True,
                   capture_output=True)
    clean = _audit(workspace, files, github, url)
    assert clean.status == 0, clean.stdout + clean.stderr
    assert clean.outputs["status"] == "passed" and clean.outputs["drift"] == "false"
    assert issue["state"] == "closed" and issue["state_reason"] == "completed"
    assert github.comments[101][-1]["body"].startswith("✅ The audit is clean again")
    again = _audit(workspace, files, github, url)
    assert "issue: none" in again.stdout and len(github.issues) == 1, "no issue while clean"


def test_without_issues_write_it_says_so_and_keeps_the_summary(server: ThrowawayServer, github: FakeGitHub,
                                                               tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    url = live_database(server, workspace / "examples/clean", "0002")
    github.read_only = True
    run = _audit(workspace, tmp_path / "files", github, url)
    assert run.status == 0, run.stdout + run.stderr  # behind head: a warning, below fail-on
    [warning] = [a for a in run.annotations() if "title=No audit issue" in a]
    assert "permissions: issues: write" in warning.replace("%3A", ":")
    assert "| production | ⚠️ behind head | 0002 | 1 | 1 |" in run.summary
    assert run.outputs["status"] == "passed"


def test_one_database_unreachable(server: ThrowawayServer, github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    url = live_database(server, workspace / "examples/clean", "head")
    run = run_action(workspace, tmp_path / "files", github.url,
                     {"mode": "audit", "working-directory": "examples/clean",
                      "database-url": f"production={url}\nreplica=postgresql://audit:pw@127.0.0.1:9/app"},
                     event_name="schedule")
    assert run.status == 2
    assert run.outputs["status"] == "error"
    [error] = [a for a in run.annotations() if a.startswith("::error title=migration-check could not audit replica")]
    assert "cannot connect" in error
    assert "| replica | ⛔ could not be audited | — | 0 | 0 |" in run.summary
    assert "| production | ✅ clean | 0003 | 0 | 0 |" in run.summary


def test_a_matrix_of_shards_and_the_merge(server: ThrowawayServer, github: FakeGitHub, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    project = workspace / "examples/clean"
    urls = {f"tenant-{n}": live_database(server, project, revision)
            for n, revision in enumerate(("head", "head", "0001"), start=1)}
    lines = "\n".join(f"{name}={url}" for name, url in urls.items())
    for index in (1, 2):
        run = run_action(workspace, tmp_path / "files", github.url,
                         {"mode": "audit", "working-directory": "examples/clean", "database-url": lines,
                          "shard": f"{index}/2", "report-file": f"reports/shard-{index}/report.json"},
                         event_name="schedule")
        assert run.status == 0, run.stdout + run.stderr
        assert "issue: left to the job that merges" in run.stdout
    assert github.issues == {}
    merged = run_action(workspace, tmp_path / "files", github.url,
                        {"mode": "merge-reports", "reports": "reports/*/report.json"}, event_name="schedule")
    assert merged.status == 0, merged.stdout + merged.stderr
    [issue] = github.issues.values()
    assert "| tenant-3 | ⚠️ behind head | 0001 | 2 | 1 |" in issue["body"]
    assert "shards 1/2, 2/2" in issue["body"]
    assert json.loads((workspace / "migration-check-report.json").read_text())["summary"]["databases"] == 3
    nothing = run_action(workspace, tmp_path / "files", github.url,
                         {"mode": "merge-reports", "reports": "nowhere/*.json"}, event_name="schedule")
    assert nothing.status == 2 and "matches no file in the workspace" in nothing.stdout


def _step_of(workflow: str, job: str) -> dict[str, object]:
    import yaml

    from conftest import EXAMPLES

    data = yaml.safe_load((EXAMPLES / "workflows" / workflow).read_text())
    return next(step for step in data["jobs"][job]["steps"] if str(step.get("uses", "")).startswith("org/"))


def _filled(value: object, values: dict[str, str]) -> str:
    """An expression of the workflow, ${{ secrets.X }} or ${{ matrix.shard }}, replaced as the runner would."""
    import re

    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m[1]], str(value))


def _backend_workspace(tmp_path: Path) -> Path:
    """A repository whose project lives in backend/, as the examples say."""
    import shutil
    import subprocess

    from conftest import EXAMPLES

    workspace = tmp_path / "workspace"
    shutil.copytree(EXAMPLES / "clean", workspace / "backend", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q", str(workspace)], check=True)
    return workspace


def test_the_scheduled_audit_example_works_as_written(server: ThrowawayServer, github: FakeGitHub,
                                                      tmp_path: Path) -> None:
    workspace = _backend_workspace(tmp_path)
    secrets = {"secrets.PRODUCTION_READONLY_DATABASE_URL": live_database(server, workspace / "backend", "0002"),
               "secrets.STAGING_READONLY_DATABASE_URL": live_database(server, workspace / "backend", "head")}
    step = _step_of("scheduled-audit.yml", "audit")
    inputs = {name: _filled(value, secrets) for name, value in dict(step["with"]).items()}  # type: ignore[call-overload]
    run = run_action(workspace, tmp_path / "files", github.url, inputs, event_name="schedule")
    assert run.status == 0, run.stdout + run.stderr
    assert "| production | ⚠️ behind head | 0002 | 1 | 1 |" in run.summary
    assert "| staging | ✅ clean | 0003 | 0 | 0 |" in run.summary
    [issue] = github.issues.values()
    assert [label["name"] for label in issue["labels"]] == ["schema-drift"]


def test_the_fleet_audit_example_works_as_written(server: ThrowawayServer, github: FakeGitHub,
                                                  tmp_path: Path) -> None:
    import shutil

    workspace = _backend_workspace(tmp_path)
    tenants = {"ACME": "head", "GLOBEX": "0002", "INITECH": "head", "UMBRELLA": "head"}
    secrets = {f"secrets.TENANT_{name}_URL": live_database(server, workspace / "backend", revision)
               for name, revision in tenants.items()}
    (workspace / "backend/databases.yml").write_text("".join(
        f"- name: {name.lower()}\n  url-env: TENANT_{name}_URL\n" for name in tenants))
    step = _step_of("fleet-audit.yml", "audit")
    downloaded = workspace / "audit-reports"
    for shard in ("1", "2", "3", "4"):
        values = {**secrets, "matrix.shard": shard}
        inputs = {name: _filled(value, values) for name, value in dict(step["with"]).items()}  # type: ignore[call-overload]
        env = {name: _filled(value, values) for name, value in dict(step["env"]).items()}  # type: ignore[call-overload]
        run = run_action(workspace, tmp_path / "files", github.url, inputs, event_name="schedule", extra_env=env)
        assert run.status == 0, run.stdout + run.stderr
        # upload-artifact, then download-artifact into audit-reports/<artifact name>/
        (downloaded / f"audit-shard-{shard}").mkdir(parents=True, exist_ok=True)
        shutil.move(workspace / inputs["report-file"], downloaded / f"audit-shard-{shard}" / f"shard-{shard}.json")
    merge = _step_of("fleet-audit.yml", "report")
    run = run_action(workspace, tmp_path / "files", github.url, dict(merge["with"]),  # type: ignore[call-overload]
                     event_name="schedule")
    assert run.status == 0, run.stdout + run.stderr
    assert "audit passed with findings: 4 databases (1 behind head, 3 clean)" in run.summary
    [issue] = github.issues.values()
    assert "| globex | ⚠️ behind head | 0002 | 1 | 1 |" in issue["body"]
