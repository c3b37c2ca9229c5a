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
from pathlib import Path

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


def test_image_checks_drift_like_the_runner_runs_it(image: str, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path)
    home, workflow, file_commands = (tmp_path / name for name in ("home", "workflow", "file_commands"))
    for folder in (home, workflow, file_commands):
        folder.mkdir()
    (workflow / "event.json").write_text(json.dumps(pull_request_payload(base_sha=head_commit(workspace))))
    # real projects need extensions: pgvector and the contrib ones come with the image
    (workspace / "examples/drift/extensions.sql").write_text(
        "CREATE EXTENSION vector;\nCREATE EXTENSION pg_trgm;\nCREATE EXTENSION citext;\n"
        "SELECT '[1,2,3]'::vector(3) <-> '[1,2,4]'::vector(3);\n")
    subprocess.run(["chown", "-R", "1001:1001", str(workspace)], check=True)  # the runner's user owns it

    with FakeGitHub() as github:
        environment = {
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": "/github/workflow/event.json",
            "GITHUB_REPOSITORY": "acme/agents-service",
            "GITHUB_API_URL": github.url,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_RUN_ID": "987654321",
            "GITHUB_WORKSPACE": "/github/workspace",
            "GITHUB_OUTPUT": "/github/file_commands/set_output_1",
            "GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_1",
            "INPUT_WORKING-DIRECTORY": "examples/drift",
            "INPUT_GITHUB-TOKEN": "ghs_containertoken0123456789",
            # apt works in the image: a project's install step may add system packages
            "INPUT_INSTALL": "apt-get update -qq && apt-get install -y -qq --no-install-recommends libpq-dev "
                             "&& echo \"apt installed: $(pg_config --version)\"",
            "INPUT_COMMENT": "update",
            "INPUT_SETUP-SQL": "extensions.sql",
        }
        command = ["docker", "run", "--rm", "--network", "host", "--workdir", "/github/workspace",
                   "-v", f"{workspace}:/github/workspace", "-v", f"{home}:/github/home",
                   "-v", f"{workflow}:/github/workflow", "-v", f"{file_commands}:/github/file_commands"]
        for key, value in environment.items():
            command += ["-e", f"{key}={value}"]
        started = time.monotonic()
        done = subprocess.run([*command, image], capture_output=True, text=True, timeout=600)
        wall = time.monotonic() - started
        print(f"container wall time: {wall:.1f} s\n{done.stdout}")
        assert github.violations == []

    assert done.returncode == 1, done.stdout + done.stderr
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 4
    assert all(line.startswith("::error file=examples/drift/app/models.py,line=") for line in annotations)
    assert "PostgreSQL 17" in done.stdout
    assert "apt installed: PostgreSQL 17" in done.stdout, "libpq-dev's pg_config ran"
    assert "dpkg was interrupted" not in done.stdout + done.stderr
    assert "running setup SQL" in done.stdout  # CREATE EXTENSION vector worked

    [comment] = github.all_comments()
    assert comment["body"].startswith("<!-- migration-check:sticky examples/drift:alembic.ini#alembic -->")
    assert "❌ migration-check failed: 4 errors" in comment["body"]
    assert f"/issues/{PULL_NUMBER}/comments" in "".join(path for _, path in github.requests)

    outputs = read_outputs(file_commands / "set_output_1")
    assert outputs["status"] == "failed" and outputs["drift"] == "true" and outputs["errors"] == "4"
    summary = (file_commands / "step_summary_1").read_text()
    assert "### Suggested migration" in summary
    report = workspace / outputs["report"]
    assert json.loads(report.read_text())["summary"]["errors"] == 4
    assert report.stat().st_mode & 0o004, "the runner's user can read what the action wrote"
    assert report.stat().st_uid == 1001, "and owns it"
    assert (workspace / outputs["sarif"]).is_file()
