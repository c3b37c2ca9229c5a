"""A small GitHub REST client: the few calls the Action makes, with retries that respect rate limits."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import requests

API_VERSION = "2022-11-28"
MAX_ATTEMPTS = 5
MAX_WAIT_SECONDS = 60.0
# The first back-off step when the server gives no hint; tests shorten it.
BACKOFF_ENV = "MIGRATION_CHECK_API_BACKOFF"


class GitHubError(Exception):
    def __init__(self, status: int, message: str, url: str) -> None:
        super().__init__(f"GitHub answered {status} for {url}: {message}")
        self.status = status
        self.message = message


def _wait_seconds(response: requests.Response, attempt: int, base: float) -> float:
    """How long to wait before trying again: Retry-After, else the rate-limit reset, else exponential."""
    retry_after = response.headers.get("retry-after")
    if retry_after is not None:
        try:
            return min(float(retry_after), MAX_WAIT_SECONDS)
        except ValueError:
            pass
    if response.headers.get("x-ratelimit-remaining") == "0" and response.headers.get("x-ratelimit-reset"):
        try:
            return min(max(float(response.headers["x-ratelimit-reset"]) - time.time(), 0.0) + 1, MAX_WAIT_SECONDS)
        except ValueError:
            pass
    return min(base * 2**attempt, MAX_WAIT_SECONDS)


def _retryable(response: requests.Response) -> bool:
    if response.status_code >= 500 or response.status_code == 429:
        return True
    # a secondary rate limit comes as 403 with a retry-after or an exhausted quota
    return response.status_code == 403 and (
        "retry-after" in response.headers or response.headers.get("x-ratelimit-remaining") == "0"
    )


class GitHub:
    def __init__(
        self,
        token: str,
        repository: str,
        api_url: str = "https://api.github.com",
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = print,
    ) -> None:
        self.owner, _, self.repo = repository.partition("/")
        self.api_url = api_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "migration-check",
        })
        self.sleep = sleep
        self.log = log
        self.backoff = float(os.environ.get(BACKOFF_ENV, "1"))

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.api_url}{path}"
        for attempt in range(MAX_ATTEMPTS):
            try:
                response = self.session.request(method, url, timeout=30, **kwargs)
            except requests.ConnectionError as exc:
                if attempt + 1 == MAX_ATTEMPTS:
                    raise GitHubError(0, str(exc), url) from None
                self.sleep(min(self.backoff * 2**attempt, MAX_WAIT_SECONDS))
                continue
            if _retryable(response) and attempt + 1 < MAX_ATTEMPTS:
                wait = _wait_seconds(response, attempt, self.backoff)
                self.log(f"GitHub answered {response.status_code} to {method} {path}; trying again in {wait:.0f} s")
                self.sleep(wait)
                continue
            if response.status_code >= 400:
                try:
                    message = response.json().get("message", response.text)
                except ValueError:
                    message = response.text
                raise GitHubError(response.status_code, message, url)
            return response.json() if response.content else None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _repo_path(self, rest: str) -> str:
        return f"/repos/{self.owner}/{self.repo}{rest}"

    def issue_comments(self, number: int) -> Iterator[dict[str, Any]]:
        page = 1
        while True:
            batch = self.request("GET", self._repo_path(f"/issues/{number}/comments"),
                                 params={"per_page": 100, "page": page})
            yield from batch
            if len(batch) < 100:
                return
            page += 1

    def create_comment(self, number: int, body: str) -> dict[str, Any]:
        return self.request("POST", self._repo_path(f"/issues/{number}/comments"), json={"body": body})

    def update_comment(self, comment_id: int, body: str) -> dict[str, Any]:
        return self.request("PATCH", self._repo_path(f"/issues/comments/{comment_id}"), json={"body": body})

    def delete_comment(self, comment_id: int) -> None:
        self.request("DELETE", self._repo_path(f"/issues/comments/{comment_id}"))

    def open_issues(self) -> Iterator[dict[str, Any]]:
        """The repository's open issues, pull requests left out."""
        page = 1
        while True:
            batch = self.request("GET", self._repo_path("/issues"),
                                 params={"state": "open", "per_page": 100, "page": page})
            yield from (issue for issue in batch if "pull_request" not in issue)
            if len(batch) < 100:
                return
            page += 1

    def create_issue(self, title: str, body: str, labels: list[str]) -> dict[str, Any]:
        payload: dict[str, Any] = {"title": title, "body": body}
        if labels:
            payload["labels"] = labels
        return self.request("POST", self._repo_path("/issues"), json=payload)

    def update_issue(self, number: int, **fields: Any) -> dict[str, Any]:
        return self.request("PATCH", self._repo_path(f"/issues/{number}"), json=fields)
