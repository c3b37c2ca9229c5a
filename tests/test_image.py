"""The real image, run the way the runner runs a Docker action: --workdir /github/workspace, the workspace,
home, workflow and file_commands mounts, INPUT_* and GITHUB_* variables, as root, with the workspace owned by
uid 1001. It checks the drift example against the fake GitHub API, reached over the host's network.

No registry is reachable: the base image that FROM names is made locally first (tests/docker/base_image.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from fake_github import FakeGitHub
from runner import PULL_NUMBER, head_commit, make_workspace, pull_request_payload, read_outputs

IMAGE = "migration-check:test"


def _engine_runs() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _engine_runs(), reason="no Docker engine runs on this machine")


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    import sys

    sys.path.insert(0, str(REPO / "tests" / "docker"))
    from base_image import ensure

    ensure()
    subprocess.run(["docker", "build", "--quiet", "--tag", IMAGE, str(REPO)], check=True, capture_output=True)
    yield IMAGE


@dataclass
class ContainerRun:
    status: int
    stdout: str
    stderr: str
    comments: list[dict[str, Any]]
    requests: list[tuple[str, str]]
    file_commands: Path
    issues: list[dict[str, Any]]


def run_container(image: str, tmp_path: Path, workspace: Path, inputs: dict[str, str],
                  event_name: str = "pull_request") -> ContainerRun:
    """Runs the image as the runner runs a Docker action, against the fake GitHub API."""
    home, workflow, file_commands = (tmp_path / name for name in ("home", "workflow", "file_commands"))
    for folder in (home, workflow, file_commands):
        folder.mkdir(parents=True)
    payload = pull_request_payload(base_sha=head_commit(workspace)) if event_name == "pull_request" else \
        {"schedule": "17 3 * * *", "repository": {"full_name": "acme/agents-service"}}
    (workflow / "event.json").write_text(json.dumps(payload))
    subprocess.run(["chown", "-R", "1001:1001", str(workspace)], check=True)  # the runner's user owns it
    with FakeGitHub() as github:
        environment = {
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": event_name,
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_REPOSITORY": "acme/agents-service",
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "987654321",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": "/github/file_commands/set_output_1",
            "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_1",
            "INPUT_GITHUB-TOKEN": "ghs_containertoken0123456789",
            **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
        }
        command = ["docker", "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
                   "-v", f"{workspace}:/github/workspace", "-v", f"{home}:/github/home",
                   "-v", f"{workflow}:/github/workflow", "-v", f"{file_commands}:/github/file_commands"]
        for key, value in environment.items():
            command += ["-e", f"{key}={value}"]
        started = time.monotonic()
        done = subprocess.run([*command, image], capture_output=True, text=True, timeout=900)
        print(f"container wall time: {time.monotonic() - started:.1f} s\n{done.stdout}\n{done.stderr}")
        assert github.violations == []
        return ContainerRun(done.returncode, done.stdout, done.stderr, list(github.all_comments()),
                            list(github.requests), file_commands, list(github.issues.values()))


def test_image_checks_drift_like_the_runner_runs_it(image: str, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    # real projects need extensions: pgvector and the contrib ones come with the image
    (workspace / "examples/drift/extensions.sql").write_text(
        "CREATE EXTENSION vector;\nCREATE EXTENSION pg_trgm;\nCREATE EXTENSION citext;\n"
        "SELECT '[1,2,3]'::vector(3) <-> '[1,2,4]'::vector(3);\n")
    done = run_container(image, tmp_path, workspace, {
        "working-directory": "examples/drift",
        # apt works in the image: a project's install step may add system packages
        "install": "apt-get update -qq && apt-get install -y -qq --no-install-recommends libpq-dev "
                   "&& echo \"apt installed: $(pg_config --version)\"",
        "comment": "update",
        "setup-sql": "extensions.sql",
    })
    file_commands = done.file_commands

    assert done.status == 1, done.stdout + done.stderr
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 4
    assert all(line.startswith("::error file=examples/drift/app/models.py,line=") for line in annotations)
    assert "PostgreSQL 17" in done.stdout
    assert "apt installed: PostgreSQL 17" in done.stdout, "libpq-dev's pg_config ran"
    assert "dpkg was interrupted" not in done.stdout + done.stderr
    assert "running setup SQL" in done.stdout  # CREATE EXTENSION vector worked

    [comment] = done.comments
    assert comment["body"].startswith("<!-- migration-check:sticky examples/drift:alembic.ini#alembic -->")
    assert "❌ migration-check failed: 4 errors" in comment["body"]
    assert f"/issues/{PULL_NUMBER}/comments" in "".join(path for _, path in done.requests)

    outputs = read_outputs(file_commands / "set_output_1")
    assert outputs["status"] == "failed" and outputs["drift"] == "true" and outputs["errors"] == "4"
    summary = (file_commands / "step_summary_1").read_text()
    assert "### Suggested migration" in summary
    report = workspace / outputs["report"]
    assert json.loads(report.read_text())["summary"]["errors"] == 4
    assert report.stat().st_mode & 0o004, "the runner's user can read what the action wrote"
    assert report.stat().st_uid == 1001, "and owns it"
    assert (workspace / outputs["sarif"]).is_file()


def _legacy_workspace(tmp_path: Path, requirements: str) -> Path:
    workspace = tmp_path / "workspace"
    shutil.copytree(REPO / "tests/projects/legacy-sqlalchemy14", workspace / "project",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (workspace / "project/requirements.txt").write_text(requirements)
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit",
                                                "-qm", "base"]):
        subprocess.run(["git", "-C", str(workspace), *args], check=True, capture_output=True)
    return workspace


def test_python_version_and_a_source_build_with_the_compiler_apt_installs(image: str, tmp_path: Path) -> None:
    """`python-version` makes a virtualenv of that Python with migration-check in it; `pip` and `python` in the
    install step are that virtualenv's, and the check runs there: here on SQLAlchemy 1.4 and a psycopg2 built
    from source with the compiler and headers the install step adds through apt."""
    workspace = _legacy_workspace(tmp_path, "sqlalchemy>=1.4,<1.5\nalembic>=1.9,<1.10\npsycopg2\n")
    done = run_container(image, tmp_path, workspace, {
        "working-directory": "project",
        "python-version": "3.13",
        "install": "apt-get update -qq && apt-get install -y -qq --no-install-recommends build-essential libpq-dev "
                   "python3-dev >/dev/null && pip install --no-binary psycopg2 -r requirements.txt && python -c "
                   "'import sqlalchemy, sys; print(\"installed into\", sys.prefix, \"SQLAlchemy\", "
                   "sqlalchemy.__version__)'",
        "comment": "off",
    })
    assert done.status == 0, done.stdout + done.stderr
    assert "the check runs on Python 3.13" in done.stdout
    assert "Created wheel for psycopg2" in done.stdout, "psycopg2 was compiled"
    assert "installed into /tmp/migration-check-python-" in done.stdout and "SQLAlchemy 1.4." in done.stdout
    assert "driver psycopg2" in done.stdout
    assert read_outputs(done.file_commands / "set_output_1")["status"] == "passed"


def test_a_python_that_cannot_be_had_and_a_source_build_without_its_tools_say_why(image: str,
                                                                                   tmp_path: Path) -> None:
    workspace = _legacy_workspace(tmp_path, "sqlalchemy>=1.4,<1.5\nalembic>=1.9,<1.10\npsycopg2\n")
    done = run_container(image, tmp_path / "unknown", workspace, {
        "working-directory": "project", "python-version": "3.99", "comment": "off"})
    assert done.status == 2, done.stdout + done.stderr
    assert read_outputs(done.file_commands / "set_output_1")["status"] == "error"
    summary = (done.file_commands / "step_summary_1").read_text()
    assert "Finding or downloading Python 3.99 failed" in summary
    assert "leave `python-version` out for the image's Python 3.13" in summary

    done = run_container(image, tmp_path / "no-compiler", workspace, {
        "working-directory": "project",
        "install": "uv pip install --no-binary psycopg2 -r requirements.txt", "comment": "off"})
    assert done.status == 2, done.stdout + done.stderr
    [annotation] = [line for line in done.stdout.splitlines() if line.startswith("::error")]
    assert "The cause: a package builds from source and the image has no C compiler" in annotation
    summary = (done.file_commands / "step_summary_1").read_text()
    assert "apt-get install -y --no-install-recommends build-essential libpq-dev python3-dev" in summary


def test_image_audits_a_live_database(image: str, server: Any, tmp_path: Path) -> None:
    """mode: audit in the real image: the live database is on a server of the host (the container shares its
    network), at an older revision with a hotfix; the issue is created through the fake API."""
    from test_audit import live_database

    workspace = make_workspace(tmp_path)
    url = live_database(server, workspace / "examples/clean", "0002", "CREATE INDEX ix_agents_name ON agents (name)")
    done = run_container(image, tmp_path, workspace, {"mode": "audit", "working-directory": "examples/clean",
                                                      "install": "none", "database-url": f"production={url}"},
                         event_name="schedule")
    assert done.status == 1, done.stdout + done.stderr
    outputs = read_outputs(done.file_commands / "set_output_1")
    assert outputs["status"] == "failed" and outputs["drift"] == "true"
    assert outputs["errors"] == "1" and outputs["warnings"] == "1"
    [issue] = done.issues
    assert "| production | ❌ drift | 0002 | 1 | 2 |" in issue["body"]
    assert "references on PostgreSQL 17" in done.stdout
    report = json.loads((workspace / outputs["report"]).read_text())
    assert [d["verdict"] for d in report["databases"]] == ["drift"]
    shown = "\n".join(line for line in done.stdout.splitlines() if not line.startswith("::add-mask::"))
    assert url not in shown + issue["body"] and "127.0.0.1" not in shown
