"""A simulated GitHub Actions runner for the action's entry point: a workspace that is a git repository, an
event payload, the file commands (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) and INPUT_* variables."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from conftest import EXAMPLES

REPOSITORY = "acme/agents-service"
PULL_NUMBER = 42


def pull_request_payload(fork: bool = False, base_sha: str = "a" * 40) -> dict[str, object]:
    """The fields of a real pull_request event that the action reads, in their real places."""
    base_repo = {"id": 1, "name": "agents-service", "full_name": REPOSITORY, "fork": False,
                 "owner": {"login": "acme"}}
    head_repo = dict(base_repo, full_name="contributor/agents-service", fork=True) if fork else base_repo
    return {
        "action": "synchronize",
        "number": PULL_NUMBER,
        "pull_request": {
            "number": PULL_NUMBER,
            "state": "open",
            "title": "Add agent descriptions",
            "head": {"ref": "feature/descriptions", "sha": "b" * 40, "repo": head_repo},
            "base": {"ref": "main", "sha": base_sha, "repo": base_repo},
        },
        "repository": base_repo,
        "sender": {"login": "contributor"},
    }


@dataclass
class ActionRun:
    status: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    def annotations(self) -> list[str]:
        return [line for line in self.stdout.splitlines() if re.match(r"::(error|warning|notice)[ :]", line)]


def make_workspace(root: Path, examples: tuple[str, ...] = ("clean", "drift")) -> Path:
    workspace = root / "workspace"
    for name in examples:
        shutil.copytree(EXAMPLES / name, workspace / "examples" / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    # the base branch: the pull request's base commit, which the history rules compare with
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit",
                                                "-qm", "base"]):
        subprocess.run(["git", "-C", str(workspace), *args], check=True, capture_output=True)
    return workspace


def head_commit(workspace: Path) -> str:
    # safe.directory: a test that ran the image has given the workspace to the runner's uid
    return subprocess.run(["git", "-c", "safe.directory=*", "-C", str(workspace), "rev-parse", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()


def read_outputs(path: Path) -> dict[str, str]:
    outputs: dict[str, str] = {}
    lines = path.read_text().splitlines() if path.exists() else []
    index = 0
    while index < len(lines):
        key, _, delimiter = lines[index].partition("<<")
        value_lines = []
        index += 1
        while lines[index] != delimiter:
            value_lines.append(lines[index])
            index += 1
        outputs[key] = "\n".join(value_lines)
        index += 1
    return outputs


def runner_environment(workspace: Path, files: Path, api_url: str, inputs: dict[str, str],
                       event_name: str = "pull_request", fork: bool = False,
                       base_sha: str | None = None) -> dict[str, str]:
    files.mkdir(parents=True, exist_ok=True)
    event = files / "event.json"
    event.write_text(json.dumps(pull_request_payload(fork, base_sha or head_commit(workspace))
                                if event_name.startswith("pull_request") else
                                {"ref": "refs/heads/main", "repository": {"full_name": REPOSITORY}}))
    environ = {
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "GITHUB_EVENT_NAME": event_name,
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": api_url,
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "123456789",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(files / "output"),
        "GITHUB_STEP_SUMMARY": str(files / "summary.md"),
        "MIGRATION_CHECK_API_BACKOFF": "0.05",
        "INPUT_GITHUB-TOKEN": "ghs_faketoken1234567890",
        "INPUT_INSTALL": "none",
    }
    environ.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    return environ


def run_action(workspace: Path, files: Path, api_url: str, inputs: dict[str, str],
               extra_env: dict[str, str] | None = None, **kwargs: object) -> ActionRun:
    """extra_env: the step's own `env:`."""
    environ = {**runner_environment(workspace, files, api_url, inputs, **kwargs),  # type: ignore[arg-type]
               **(extra_env or {})}
    for stale in ("output", "summary.md"):
        (files / stale).unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "migration_check.github"], cwd=workspace, capture_output=True,
                          text=True, env={**os.environ, **environ}, timeout=300)
    summary_path = files / "summary.md"
    return ActionRun(done.returncode, done.stdout, done.stderr, read_outputs(files / "output"),
                     summary_path.read_text() if summary_path.exists() else "")
