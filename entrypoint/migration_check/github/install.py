"""Installs the project's dependencies into the environment the check runs in, before the check imports them."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from migration_check.errors import ProjectLoadError
from migration_check.github.workflow import command

OFF = ("none", "off", "false", "skip")


@dataclass(frozen=True)
class InstallPlan:
    command: str | None
    reason: str


def _installer() -> str:
    """uv when it is there (the image has it), else this interpreter's pip."""
    if shutil.which("uv"):
        return f"uv pip install --python {shlex.quote(sys.executable)}"
    return f"{shlex.quote(sys.executable)} -m pip install"


def plan(install: str, project_dir: Path, workspace: Path) -> InstallPlan:
    if install.lower() in OFF:
        return InstallPlan(None, "install is off")
    if install.lower() != "auto":
        return InstallPlan(install, "the install input")
    pip = _installer()
    for folder in dict.fromkeys((project_dir, workspace)):  # the project's folder first, then the repository's
        if (folder / "uv.lock").is_file() and shutil.which("uv"):
            requirements = "/tmp/migration-check-uv-requirements.txt"
            return InstallPlan(
                f"cd {shlex.quote(str(folder))} && uv export --frozen --no-hashes --format requirements-txt "
                f"--output-file {requirements} && {pip} -r {requirements}",
                f"found {folder.name}/uv.lock",
            )
        if (folder / "poetry.lock").is_file():
            return InstallPlan(f"cd {shlex.quote(str(folder))} && {pip} .", f"found {folder.name}/poetry.lock")
        requirements = sorted(folder.glob("requirements*.txt"), key=lambda p: (p.name != "requirements.txt", p.name))
        if requirements:
            return InstallPlan(f"{pip} -r {shlex.quote(str(requirements[0]))}", f"found {requirements[0].name}")
        if (folder / "pyproject.toml").is_file():
            return InstallPlan(f"{pip} -r {shlex.quote(str(folder / 'pyproject.toml'))}",
                               f"found {folder.name}/pyproject.toml")
    return InstallPlan(None, "no uv.lock, poetry.lock, requirements*.txt or pyproject.toml found")


# How installers say why they failed: pip's ERROR lines, uv's "×" and "error:", poetry's and the resolvers'.
_CAUSE = re.compile(r"^\s*(ERROR:|error:|×|Because |No solution|Could not|Cannot install|E: |fatal:)")


def failure_cause(output: str) -> str | None:
    """The line of an installer's output that says why it failed, the last one that looks like it."""
    for line in reversed(output.splitlines()):
        if _CAUSE.match(line) and len(line.strip()) > 3:
            return line.strip().lstrip("×").strip()
    return None


def run(install_plan: InstallPlan, project_dir: Path) -> bool:
    """Install; returns whether anything was run (then the process must start again to use what it installed)."""
    if install_plan.command is None:
        print(f"migration-check: installing nothing ({install_plan.reason})", flush=True)
        return False
    command("group", f"Installing the project's dependencies ({install_plan.reason}): {install_plan.command}")
    environ = {**os.environ, "VIRTUAL_ENV": sys.prefix, "UV_PYTHON": sys.executable}
    done = subprocess.run(install_plan.command, shell=True, cwd=project_dir, env=environ,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout, end="", flush=True)
    command("endgroup")
    if done.returncode != 0:
        cause = failure_cause(done.stdout)
        raise ProjectLoadError(
            f"Installing the project's dependencies failed (exit status {done.returncode}): {install_plan.command}"
            + (f". The cause: {cause}" if cause else ""),
            fix="Fix the install, or set the `install` input to the command that installs the project's "
            "dependencies (or to `none`).",
            detail="\n".join(done.stdout.splitlines()[-15:]),
        )
    return True
