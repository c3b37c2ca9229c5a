"""No password reaches an output: not the terminal, the JSON report, the annotations, the job summary or the
outputs, in none of its spellings (as typed, percent-encoded in a URL, %-doubled in an ini file)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from conftest import check, copy_example, edit
from fake_github import FakeGitHub
from migration_check.database import ThrowawayServer, find_server_binaries
from runner import make_workspace, run_action

pytestmark = pytest.mark.usefixtures("no_leftovers")

PASSWORD = "p@ss/w%rd:x!y z"  # every character that a URL must encode
SPELLINGS = {PASSWORD, quote(PASSWORD, safe=""), quote_plus(PASSWORD, safe=""), quote(PASSWORD, safe="").lower()}


@pytest.fixture(scope="module")
def server() -> Iterator[ThrowawayServer]:
    running = ThrowawayServer(find_server_binaries(None))
    running.start()
    try:
        with running.connect() as connection:
            connection.execute(f"CREATE ROLE app_owner LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        yield running
    finally:
        running.close()


def _url(server: ThrowawayServer) -> str:
    return f"postgresql://app_owner:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/postgres"


def _env_py_that_prints_its_url(project: Path) -> None:
    """A settings error as projects raise them: the whole URL in the message."""
    edit(project / "migrations/env.py", "def run_migrations_online() -> None:\n",
         "def run_migrations_online() -> None:\n    import os\n"
         "    raise RuntimeError('cannot use ' + os.environ['DATABASE_URL'] + ' (ini: ' + "
         "config.get_main_option('sqlalchemy.url') + ')')\n")


def _leaks(text: str) -> list[str]:
    return [form for form in SPELLINGS if form in text]


def test_the_terminal_and_the_report_never_show_the_password(server: ThrowawayServer, tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    _env_py_that_prints_its_url(project)
    run = check(project, "--database-url", _url(server), "--verbose", "--env", "APP_SECRET_KEY=hunter2-secret",
                tmp_path=tmp_path)
    assert run.status == 2, run.stdout + run.stderr
    assert re.search(r"cannot use postgresql\+\w+://app_owner:\*\*\*@127\.0\.0\.1", run.stderr), run.stderr
    assert _leaks(run.stdout + run.stderr) == []


def test_the_throwaway_servers_password_is_masked(tmp_path: Path) -> None:
    project = copy_example("clean", tmp_path)
    _env_py_that_prints_its_url(project)
    run = check(project, tmp_path=tmp_path)
    assert run.status == 2
    assert re.search(r"cannot use postgresql\+\w+://postgres:\*\*\*@127\.0\.0\.1:", run.stderr), run.stderr


def test_the_action_never_shows_the_password(server: ThrowawayServer, tmp_path: Path) -> None:
    workspace = make_workspace(tmp_path, ("clean",))
    _env_py_that_prints_its_url(workspace / "examples/clean")
    with FakeGitHub() as github:
        run = run_action(workspace, tmp_path / "files", github.url,
                         {"working-directory": "examples/clean", "database-url": _url(server)})
    assert run.status == 2, run.stdout + run.stderr
    assert run.outputs["status"] == "error"
    assert "app_owner:***@" in run.summary and "::error" in run.stdout
    every_output = run.stdout + run.stderr + run.summary + "".join(run.outputs.values())
    # the runner is told to mask each spelling, and none is printed anywhere else
    masked = {line.removeprefix("::add-mask::") for line in run.stdout.splitlines() if line.startswith("::add-mask::")}
    assert {quote(PASSWORD, safe="").replace("%", "%25"), PASSWORD.replace("%", "%25")} <= masked
    outside_masks = "\n".join(line for line in every_output.splitlines() if not line.startswith("::add-mask::"))
    assert _leaks(outside_masks) == []
