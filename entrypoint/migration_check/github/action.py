"""The container's entry point: inputs → install → the same check as the CLI → the runner's outputs, the job
summary, annotations, SARIF, the JSON report and the sticky comment."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

from migration_check import redact, signals
from migration_check.audit.config import secret_forms
from migration_check.audit.report import table_sizes
from migration_check.config import (
    FAIL_ON,
    CheckConfig,
    DataVolume,
    check_output_path,
    check_setup_sql,
    locate_alembic,
    parse_data_volume,
    url_part_pairs,
    with_settings_file,
)
from migration_check.database import TMPDIR_ENV
from migration_check.errors import EXIT_CANNOT_RUN, EXIT_FINDINGS, EXIT_OK, CheckError, Interrupted, UsageError
from migration_check.findings import Report, Severity
from migration_check.github import annotations, install, python_env
from migration_check.github.api import GitHub, GitHubError
from migration_check.github.comment import comment_body, publish
from migration_check.github.event import RunContext
from migration_check.github.inputs import ActionInputs
from migration_check.github.terms import in_action_terms
from migration_check.github.workflow import append_summary, command, mask, set_outputs
from migration_check.history.git import resolve_commit
from migration_check.paths import relative_to_root
from migration_check.progress import Progress
from migration_check.reporters import json_report, markdown, sarif, text
from migration_check.rules import MODEL_DRIFT


def _mask_secrets(inputs: ActionInputs) -> None:
    """Before anything prints: the token, secret-looking settings, and each database URL (the audit takes
    several, one NAME=URL per line) whole, with its password and host."""
    forms = redact.register(inputs.github_token) | redact.register_settings(None, inputs.env)
    for line in inputs.database_url.splitlines():
        if line.strip():
            forms |= secret_forms(line.strip())
    mask(forms)


def _trust_workspace() -> None:
    """The workspace belongs to the runner's user (uid 1001), not to root: git refuses it unless told."""
    subprocess.run(["git", "config", "--global", "--add", "safe.directory", "*"], check=False,
                   capture_output=True)


def _config(inputs: ActionInputs, context: RunContext) -> CheckConfig:
    if not any(entry.name != ".git" for entry in context.workspace.iterdir()) if context.workspace.is_dir() else True:
        raise UsageError(
            f"The workspace {context.workspace} is empty: the repository was not checked out.",
            fix="Add `- uses: actions/checkout@v4` (with `fetch-depth: 0`, for the history rules) before this step.",
        )
    project_dir = inputs.project_dir(context.workspace)
    if not project_dir.is_dir():
        raise UsageError(
            f"working-directory {inputs.working_directory!r} is not a folder of the repository.",
            fix="Set working-directory to the folder that holds alembic.ini (or pyproject.toml with "
            "[tool.alembic]), relative to the repository's root.",
        )
    alembic_config = Path(inputs.alembic_config) if inputs.alembic_config else None
    if alembic_config is not None and not alembic_config.is_absolute():
        alembic_config = project_dir / alembic_config
    previous = Path.cwd()
    os.chdir(project_dir if project_dir.is_dir() else previous)  # setup-sql paths are relative to the project
    try:
        setup_sql = check_setup_sql(list(inputs.setup_sql))
    finally:
        os.chdir(previous)
    auditing = inputs.mode == "audit"
    base_ref = None if auditing else _base_ref(inputs, context)
    config = CheckConfig(
        alembic=locate_alembic(project_dir, alembic_config, inputs.alembic_name),
        database_url=None if auditing else inputs.database_url or None,
        url_env=inputs.url_env,
        env=(*url_part_pairs(inputs.url_parts), *inputs.env),
        setup_sql=setup_sql,
        preset=inputs.preset or None,
        fail_on=FAIL_ON[inputs.fail_on],
        base_ref=base_ref,
        no_base_because=None if base_ref or not context.base_sha else
        f"the pull request's base commit {context.base_sha[:12]} is not in the clone and could not be fetched "
        "(check out with fetch-depth: 0)",
        roundtrip=inputs.roundtrip,
        data_volume=DataVolume(
            rows=parse_data_volume(inputs.data_volume or None),
            real_sizes=table_sizes(_in_project(project_dir, inputs.table_sizes)) if inputs.table_sizes else (),
        ),
    )
    for name, value in (("report-file", inputs.report_file), ("sarif-file", inputs.sarif_file),
                        ("comment-file", inputs.comment_file)):
        if value:
            check_output_path(context.workspace / value, f"The {name} input")
    settings_file = Path(inputs.config_file) if inputs.config_file else None
    if settings_file is not None and not settings_file.is_absolute():
        settings_file = project_dir / settings_file
    return with_settings_file(config, settings_file)


def _in_project(project_dir: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else project_dir / path


def _base_ref(inputs: ActionInputs, context: RunContext) -> str | None:
    """The base-ref input, else the pull request's base commit. actions/checkout fetches one commit by default,
    so a missing base is fetched; when that fails, an explicit base-ref is an error and the event's base only
    skips the history rules, with a warning that says how to get them."""
    ref = inputs.base_ref or context.base_sha
    if not ref:
        return None
    try:
        resolve_commit(context.workspace, ref)
        return ref
    except UsageError:
        subprocess.run(["git", "-C", str(context.workspace), "fetch", "--no-tags", "--depth=1", "origin", ref],
                       capture_output=True, check=False)
    try:
        resolve_commit(context.workspace, ref)
        return ref
    except UsageError:
        if inputs.base_ref:
            raise
    command("warning", f"The pull request's base commit {ref[:12]} is not in the clone and could not be "
            "fetched, so edited, deleted and misplaced migrations were not looked for. Check out with "
            "`fetch-depth: 0` (actions/checkout) to get these rules.", title="History rules skipped")
    return None


def write_in_workspace(path: Path, content: str, workspace: Path) -> None:
    """Write a file into the workspace as its owner's: the container runs as root, and the runner's later steps
    (and its clean-up of the workspace) run as the workspace's owner."""
    made = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact.redact(content), encoding="utf-8")
    path.chmod(0o644)
    owner = workspace.stat()
    if os.geteuid() == 0 and (owner.st_uid, owner.st_gid) != (0, 0):
        for created in (path, *made):
            os.chown(created, owner.st_uid, owner.st_gid)


def _sticky_key(inputs: ActionInputs) -> str:
    folder = inputs.working_directory.strip("/") or "."
    return f"{folder}:{inputs.alembic_config or 'alembic.ini'}#{inputs.alembic_name}"


def _comment(inputs: ActionInputs, context: RunContext, report: Report, config: CheckConfig) -> str:
    key = _sticky_key(inputs)
    body = redact.redact(comment_body(report, config.fail_on, key, context.run_url, context.source_url))
    if inputs.comment_file:  # for a later workflow with a write token to post (the fork-safe recipe)
        write_in_workspace(context.workspace / inputs.comment_file, body, context.workspace)
    if inputs.comment == "off":
        return "comment: off"
    if context.pull_number is None:
        return f"comment: none, {context.event_name or 'this event'} is not a pull request"
    if not inputs.github_token:
        return "comment: none, no github-token"
    github = GitHub(inputs.github_token, context.repository, context.api_url)
    try:
        outcome = publish(github, context.pull_number, body, key, inputs.comment, passed=not report.findings)
    except GitHubError as exc:
        if exc.status in (403, 404):
            why = "a pull request from a fork" if context.from_fork else "a token without write access"
            command("warning", f"migration-check could not comment on the pull request ({why}: GitHub answered "
                    f"{exc.status}). The annotations and the job summary are complete. For pull requests from "
                    "forks, see the two-stage workflow in examples/workflows/fork-safe-check.yml.",
                    title="No pull-request comment")
            return f"comment: not written, GitHub answered {exc.status}"
        raise
    return f"comment: {outcome.action}"


def _report_outputs(inputs: ActionInputs, context: RunContext, report: Report, config: CheckConfig) -> int:
    workspace = context.workspace
    report_path = workspace / inputs.report_file
    sarif_path = workspace / inputs.sarif_file
    write_in_workspace(report_path, json_report.render(report), workspace)
    write_in_workspace(sarif_path, sarif.render(report), workspace)
    summary = markdown.render(report, config.fail_on, context.source_url)
    if inputs.annotations:
        count = annotations.emit(report)
        if count.hidden:
            summary += (f"\n> {count.hidden} more finding{'s' if count.hidden != 1 else ''} than GitHub shows as "
                        f"annotations ({annotations.PER_LEVEL} per level): all of them are listed above.\n")
    comment_note = _comment(inputs, context, report, config)
    append_summary(summary)
    failed = report.fails(config.fail_on)
    set_outputs({
        "status": "failed" if failed else "passed",
        "errors": str(report.count(Severity.ERROR)),
        "warnings": str(report.count(Severity.WARNING)),
        "drift": "true" if any(f.rule == MODEL_DRIFT.id for f in report.findings) else "false",
        "report": relative_to_root(report_path, workspace.resolve()) or str(report_path),
        "sarif": relative_to_root(sarif_path, workspace.resolve()) or str(sarif_path),
    })
    print(text.render(report, config.fail_on, color=True), end="")
    print(comment_note, flush=True)
    return EXIT_FINDINGS if failed else EXIT_OK


def _cannot_run(error: CheckError) -> int:
    # annotations take a path relative to the repository, or they are not placed on the file
    workspace = Path(os.environ.get("GITHUB_WORKSPACE") or ".").resolve()
    file = (relative_to_root(Path(error.file), workspace) or str(error.file)) if error.file else None
    error.message, error.fix = in_action_terms(error.message), in_action_terms(error.fix)
    command("error", f"{error.message}\nFix: {error.fix}", file=file, line=error.line,
            title=f"migration-check could not run ({error.kind})")
    print(error.render(verbose=True), file=sys.stderr, flush=True)
    append_summary(f"## ⛔ migration-check could not run\n\n{error.message}\n\n**Fix:** {error.fix}\n")
    set_outputs({"status": "error", "errors": "0", "warnings": "0", "drift": "false", "report": "", "sarif": ""})
    return error.exit_status


RUNNER_HOME = Path("/github/home")
INSTALLED_ENV = "MIGRATION_CHECK_INSTALLED"  # set for the process that starts again after the install


class UnexpectedError(CheckError):
    kind = "unexpected error"



def _choose_scratch_folder() -> None:
    """The runner gives a Docker action a 64 MiB /dev/shm, too small for the server; the container's own
    file system is an overlay, slow for initdb's thousand small files. /github/home is a plain folder of the
    runner's disk, wiped after the job: the server's folder goes there (and is removed after the check)."""
    if RUNNER_HOME.is_dir() and os.access(RUNNER_HOME, os.W_OK):
        os.environ.setdefault(TMPDIR_ENV, str(RUNNER_HOME))


def _check_in_chosen_python(inputs: ActionInputs, context: RunContext, config: CheckConfig) -> int:
    """The `python-version` input: the project's dependencies go into a virtualenv of that Python, and the check
    runs there, in a child process; the virtualenv is removed afterwards."""
    chosen = python_env.prepare(inputs.python_version)
    try:
        environ = chosen.environ()
        install.run(install.plan(inputs.install, config.alembic.project_dir, context.workspace,
                                 str(chosen.python)), config.alembic.project_dir, environ)
        sys.stdout.flush()
        sys.stderr.flush()
        child = subprocess.Popen([str(chosen.python), "-m", "migration_check.github"],
                                 env={**environ, INSTALLED_ENV: "1"})
        # A signal to this process (the container's first) goes on to the check, which cleans up and reports.
        with signals.stop_work_on_interrupt(child.terminate):
            try:
                return child.wait()
            except Interrupted:
                return child.wait()
    finally:
        chosen.remove()


def main() -> int:
    signals.install()
    redact.redact_standard_streams()
    _choose_scratch_folder()
    try:
        inputs = ActionInputs.from_environment()
        _mask_secrets(inputs)
        context = RunContext.from_environment()
        _trust_workspace()
        if inputs.mode == "merge-reports":  # reads the shards' reports only: no project, no install
            from migration_check.github.audit_action import run_merge_mode

            return run_merge_mode(inputs, context)
        config = _config(inputs, context)
        if os.environ.get(INSTALLED_ENV) != "1":
            if inputs.python_version:
                return _check_in_chosen_python(inputs, context, config)
            if install.run(install.plan(inputs.install, config.alembic.project_dir, context.workspace),
                           config.alembic.project_dir):
                # What the project installed may replace packages this process has loaded (a SQLAlchemy 1.4
                # pin): start again, so that everything is imported from the environment as it is now.
                sys.stdout.flush()
                sys.stderr.flush()
                os.execve(sys.executable, [sys.executable, "-m", "migration_check.github"],
                          {**os.environ, INSTALLED_ENV: "1"})
        if inputs.mode == "audit":
            from migration_check.github.audit_action import run_audit_mode

            return run_audit_mode(inputs, context, config)
        from migration_check.pipeline import run_check

        report = run_check(config, Progress(sys.stdout, color=True))
        return _report_outputs(inputs, context, report, config)
    except CheckError as error:
        return _cannot_run(error)
    except GitHubError as error:
        command("error", str(error), title="migration-check: GitHub API")
        return EXIT_CANNOT_RUN
    except Exception as exc:  # whatever the project installed, the run ends with a verdict or this
        return _cannot_run(UnexpectedError(
            f"migration-check stopped on an unexpected error: {type(exc).__name__}: {exc}",
            fix="If the project's dependencies clash with migration-check's (SQLAlchemy, Alembic, a driver), pin "
            "versions both support; otherwise this is a bug in migration-check: the traceback is in the log.",
            traceback=traceback.format_exc()))
