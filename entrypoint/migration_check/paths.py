"""Paths in reports are relative to the repository root, in posix form, so GitHub can place them."""

from __future__ import annotations

import subprocess
from pathlib import Path


def repository_root(folder: Path) -> Path:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"], cwd=folder, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return folder
    return Path(out.stdout.strip()).resolve() if out.returncode == 0 and out.stdout.strip() else folder


def relative_to_root(path: Path | str | None, root: Path) -> str | None:
    if path is None:
        return None
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def is_inside(path: Path | str, root: Path) -> bool:
    """Whether the path is in root's tree (relative_to_root spells it from root), after resolving both."""
    return Path(path).resolve().is_relative_to(root.resolve())
