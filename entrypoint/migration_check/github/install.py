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


def _installer(python: str) -> str:
    """uv when it is there (the image has it), else the interpreter's pip."""
    if shutil.which("uv"):
        return f"uv pip install --python {shlex.quote(python)}"
    return f"{shlex.quote(python)} -m pip install"


def plan(install: str, project_dir: Path, workspace: Path, python: str = sys.executable) -> InstallPlan:
    """What installs the project's dependencies into `python`'s environment (the check's own by default)."""
    if install.lower() in OFF:
        return InstallPlan(None, "install is off")
    if install.lower() != "auto":
        return InstallPlan(install, "the install input")
    pip = _installer(python)
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


# Source builds that fail for want of a system package: what happened, and the line that adds the package.
_MISSING_BUILD_TOOL = (
    (re.compile(r"pg_config executable not found|pg_config: (command )?not found|libpq-fe\.h: No such file"),
     "a package builds from source and needs PostgreSQL's client library and pg_config (psycopg2 without "
     "wheels for this Python does)",
     "start `install` with `apt-get update && apt-get install -y --no-install-recommends build-essential "
     "libpq-dev && ...`, or depend on psycopg2-binary or psycopg[binary]"),
    (re.compile(r"Python\.h: No such file"),
     "a package builds a C extension and needs the headers of the Python it builds for",
     "start `install` with `apt-get update && apt-get install -y --no-install-recommends build-essential "
     "python3-dev && ...`, or choose a `python-version` for which the package has wheels"),
    (re.compile(r"command '[^']*\b(gcc|cc|g\+\+|c\+\+|clang)' failed|unable to execute '[^']*gcc'|"
                r"\b(gcc|cc|c\+\+): (command )?not found|No such file or directory: '[^']*(gcc|cc)'|"
                r"could not find a C compiler|no acceptable C compiler|linker `cc` not found"),
     "a package builds from source and the image has no C compiler",
     "start `install` with `apt-get update && apt-get install -y --no-install-recommends build-essential "
     "libpq-dev python3-dev && ...` (libpq-dev for psycopg2, python3-dev for the image's Python), or choose a "
     "`python-version` or pins for which the packages have wheels"),
)


def failure_cause(output: str) -> str | None:
    """The line of an installer's output that says why it failed, the last one that looks like it."""
    for line in reversed(output.splitlines()):
        if _CAUSE.match(line) and len(line.strip()) > 3:
            return line.strip().lstrip("×").strip()
    return None


def missing_build_tool(output: str) -> tuple[str, str] | None:
    """(what happened, the fix) when a source build failed for want of a compiler or a library's headers."""
    for pattern, cause, fix in _MISSING_BUILD_TOOL:
        if pattern.search(output):
            return cause, fix
    return None


def run(install_plan: InstallPlan, project_dir: Path, environ: dict[str, str] | None = None) -> bool:
    """Install; returns whether anything was run (then the process must start again to use what it installed).
    `environ` names the environment to install into: this process's by default."""
    if install_plan.command is None:
        print(f"migration-check: installing nothing ({install_plan.reason})", flush=True)
        return False
    command("group", f"Installing the project's dependencies ({install_plan.reason}): {install_plan.command}")
    if environ is None:
        environ = {**os.environ, "VIRTUAL_ENV": sys.prefix, "UV_PYTHON": sys.executable}
    done = subprocess.run(install_plan.command, shell=True, cwd=project_dir, env=environ,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(done.stdout, end="", flush=True)
    command("endgroup")
    if done.returncode != 0:
        cause, fix = missing_build_tool(done.stdout) or (
            failure_cause(done.stdout),
            "Fix the install, or set the `install` input to the command that installs the project's "
            "dependencies (or to `none`).")
        raise ProjectLoadError(
            f"Installing the project's dependencies failed (exit status {done.returncode}): {install_plan.command}"
            + (f". The cause: {cause}" if cause else ""),
            fix=fix,
            detail="\n".join(done.stdout.splitlines()[-15:]),
        )
    return True
