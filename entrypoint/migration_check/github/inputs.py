"""The Action's inputs. The runner passes each as INPUT_<NAME>, upper-cased with its dashes kept
(INPUT_WORKING-DIRECTORY), which a shell cannot read: so they are read here, from Python."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from migration_check.errors import UsageError

COMMENT_MODES = ("update", "new", "off")
MODES = ("check", "audit", "merge-reports")
ISSUE_MODES = ("update", "off")
ROUNDTRIP_MODES = ("auto", "changed", "full", "off")
FAIL_ON = ("error", "warning", "notice", "never")

# name: default. action.yml declares the same names and defaults; a test keeps the two in step.
DEFAULTS: dict[str, str] = {
    "working-directory": ".",
    "alembic-config": "",
    "alembic-name": "alembic",
    "install": "auto",
    "python-version": "",
    "database-url": "",
    "url-env": "",
    "url-parts": "",
    "env": "",
    "setup-sql": "",
    "preset": "",
    "base-ref": "",
    "roundtrip": "auto",
    "data-volume": "",
    "table-sizes": "",
    "fail-on": "error",
    "config-file": "",
    "comment": "update",
    "comment-file": "",
    "annotations": "true",
    "sarif-file": "migration-check.sarif",
    "report-file": "migration-check-report.json",
    "github-token": "",
    "mode": "check",
    "databases-file": "",
    "shard": "",
    "issue": "update",
    "issue-title": "",
    "issue-labels": "",
    "reports": "",
}


def _raw(environ: Mapping[str, str], name: str) -> str:
    return environ.get(f"INPUT_{name.upper()}", DEFAULTS[name]).strip() or DEFAULTS[name]


def _bad(name: str, value: str, expected: str) -> UsageError:
    return UsageError(
        f"The input `{name}` is {value!r}; it takes {expected}.",
        fix=f"Correct `{name}` under `with:` in the workflow that uses migration-check.",
    )


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = _raw(environ, name).lower()
    if value not in choices:
        raise _bad(name, value, "one of " + ", ".join(choices))
    return value


def _boolean(environ: Mapping[str, str], name: str) -> bool:
    value = _raw(environ, name).lower()
    if value not in ("true", "false"):
        raise _bad(name, value, "true or false")
    return value == "true"


def parse_pairs(name: str, text: str) -> tuple[tuple[str, str], ...]:
    """KEY=VALUE lines, or a YAML mapping."""
    if not text.strip():
        return ()
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if all("=" in line for line in lines):
        return tuple((key.strip(), value.strip()) for key, _, value in (line.partition("=") for line in lines))
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _bad(name, text, f"KEY=VALUE lines or a YAML mapping ({exc})") from None
    if not isinstance(loaded, dict):
        raise _bad(name, text, "KEY=VALUE lines or a YAML mapping")
    return tuple((str(key), "" if value is None else str(value)) for key, value in loaded.items())


def parse_list(name: str, text: str) -> tuple[str, ...]:
    """A YAML list, or names separated by new lines or commas."""
    if not text.strip():
        return ()
    if text.lstrip().startswith("["):
        loaded = yaml.safe_load(text)
        if not isinstance(loaded, list):
            raise _bad(name, text, "a list")
        return tuple(str(item) for item in loaded)
    items = [item.strip().removeprefix("- ").strip() for line in text.splitlines() for item in line.split(",")]
    return tuple(item for item in items if item)


@dataclass(frozen=True)
class ActionInputs:
    working_directory: str
    alembic_config: str
    alembic_name: str
    install: str
    python_version: str
    database_url: str
    url_env: tuple[str, ...]
    url_parts: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    setup_sql: tuple[str, ...]
    preset: str
    base_ref: str
    roundtrip: str
    fail_on: str
    config_file: str
    comment: str
    comment_file: str
    annotations: bool
    sarif_file: str
    report_file: str
    github_token: str
    mode: str
    databases_file: str = ""
    shard: str = ""
    issue: str = "update"
    issue_title: str = ""
    issue_labels: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()
    data_volume: str = ""
    table_sizes: str = ""

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ActionInputs:
        environ = os.environ if environ is None else environ
        return cls(
            working_directory=_raw(environ, "working-directory"),
            alembic_config=_raw(environ, "alembic-config"),
            alembic_name=_raw(environ, "alembic-name"),
            install=_raw(environ, "install"),
            python_version=_raw(environ, "python-version"),
            database_url=_raw(environ, "database-url"),
            url_env=parse_list("url-env", _raw(environ, "url-env")),
            url_parts=parse_list("url-parts", _raw(environ, "url-parts")),
            env=parse_pairs("env", _raw(environ, "env")),
            setup_sql=parse_list("setup-sql", _raw(environ, "setup-sql")),
            preset=_raw(environ, "preset"),
            base_ref=_raw(environ, "base-ref"),
            roundtrip=_choice(environ, "roundtrip", ROUNDTRIP_MODES),
            fail_on=_choice(environ, "fail-on", FAIL_ON),
            config_file=_raw(environ, "config-file"),
            comment=_choice(environ, "comment", COMMENT_MODES),
            comment_file=_raw(environ, "comment-file"),
            annotations=_boolean(environ, "annotations"),
            sarif_file=_raw(environ, "sarif-file"),
            report_file=_raw(environ, "report-file"),
            github_token=_raw(environ, "github-token"),
            mode=_choice(environ, "mode", MODES),
            databases_file=_raw(environ, "databases-file"),
            shard=_raw(environ, "shard"),
            issue=_choice(environ, "issue", ISSUE_MODES),
            issue_title=_raw(environ, "issue-title"),
            issue_labels=parse_list("issue-labels", _raw(environ, "issue-labels")),
            reports=parse_list("reports", _raw(environ, "reports")),
            data_volume=_raw(environ, "data-volume"),
            table_sizes=_raw(environ, "table-sizes"),
        )

    def project_dir(self, workspace: Path) -> Path:
        return (workspace / self.working_directory).resolve()
