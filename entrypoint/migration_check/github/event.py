"""What the run is about, from the runner's environment and the event payload at GITHUB_EVENT_PATH."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PULL_REQUEST_EVENTS = ("pull_request", "pull_request_target")


@dataclass(frozen=True)
class RunContext:
    event_name: str
    repository: str  # owner/name
    api_url: str
    server_url: str
    run_id: str
    workspace: Path
    pull_number: int | None = None
    base_sha: str | None = None
    head_sha: str | None = None
    from_fork: bool = False
    sha: str | None = None  # the commit the workflow runs on (a pull request's merge commit)

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def source_url(self) -> str | None:
        """Where the checked files can be read on GitHub, at the commit that was checked."""
        sha = self.head_sha or self.sha
        if not (self.repository and sha):
            return None
        return f"{self.server_url}/{self.repository}/blob/{sha}"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> RunContext:
        environ = os.environ if environ is None else environ
        payload: dict[str, Any] = {}
        event_path = environ.get("GITHUB_EVENT_PATH")
        if event_path and Path(event_path).is_file():
            try:
                payload = json.loads(Path(event_path).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                payload = {}
        event_name = environ.get("GITHUB_EVENT_NAME", "")
        pull = payload.get("pull_request") if event_name in PULL_REQUEST_EVENTS else None
        number = base = head = None
        fork = False
        if isinstance(pull, dict):
            number = pull.get("number") or payload.get("number")
            base = (pull.get("base") or {}).get("sha")
            head = (pull.get("head") or {}).get("sha")
            head_repo = (pull.get("head") or {}).get("repo") or {}
            base_repo = (pull.get("base") or {}).get("repo") or {}
            fork = bool(head_repo.get("fork")) or (
                bool(head_repo.get("full_name")) and head_repo.get("full_name") != base_repo.get("full_name")
            )
        return cls(
            event_name=event_name,
            repository=environ.get("GITHUB_REPOSITORY", ""),
            api_url=environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/"),
            server_url=environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/"),
            run_id=environ.get("GITHUB_RUN_ID", ""),
            workspace=Path(environ.get("GITHUB_WORKSPACE") or Path.cwd()),
            pull_number=int(number) if number else None,
            base_sha=base,
            head_sha=head,
            from_fork=fork,
            sha=environ.get("GITHUB_SHA") or None,
        )
