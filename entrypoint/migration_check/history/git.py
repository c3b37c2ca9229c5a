"""Reads files at a git ref without checking anything out: the user's work tree is never touched."""

from __future__ import annotations

import subprocess
from pathlib import Path

from migration_check.errors import UsageError


def _git(repository: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(repository), *args], capture_output=True, text=True)


def resolve_commit(repository: Path, ref: str) -> str:
    done = _git(repository, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if done.returncode != 0:
        inside = _git(repository, "rev-parse", "--is-inside-work-tree")
        if inside.returncode != 0:
            raise UsageError(
                f"--base-ref {ref} needs a git repository, and {repository} is not in one.",
                fix="Run the check inside the repository's clone, or leave --base-ref out.",
            )
        shallow = _git(repository, "rev-parse", "--is-shallow-repository").stdout.strip() == "true"
        raise UsageError(
            f"The base ref {ref} is not in this {'shallow ' if shallow else ''}clone.",
            fix=f"Fetch it first: git -C {repository} fetch --no-tags --depth=1 origin {ref} "
            "(with actions/checkout, or set fetch-depth: 0).",
        )
    return done.stdout.strip()


def files_at(repository: Path, commit: str, folder: Path, recursive: bool) -> dict[Path, str]:
    """The .py files of `folder` at `commit`, as {path in the work tree: text at that commit}."""
    relative = folder.relative_to(repository).as_posix()
    listing = _git(repository, "ls-tree", "-r", "--name-only", commit, "--", relative)
    found: dict[Path, str] = {}
    for name in listing.stdout.splitlines():
        path = repository / name
        if not name.endswith(".py") or path.name == "__init__.py":
            continue
        if not recursive and path.parent != folder:
            continue
        shown = _git(repository, "show", f"{commit}:{name}")
        if shown.returncode == 0:
            found[path] = shown.stdout
    return found
