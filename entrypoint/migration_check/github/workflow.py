"""The runner's file and stdout protocols: workflow commands (annotations, masks, groups), GITHUB_OUTPUT and
GITHUB_STEP_SUMMARY."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from migration_check.redact import RedactingStream, redact

SUMMARY_LIMIT = 1024 * 1024  # GitHub rejects a step summary over 1 MiB


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str = "", stream: TextIO | None = None, **properties: str | int | None) -> None:
    """Print one workflow command, `::name key=value,...::message`, escaped as the runner requires."""
    target = stream or sys.stdout
    if name == "add-mask":  # the one command that must name the secret: past our own masking of stdout
        target = target.inner if isinstance(target, RedactingStream) else target
    else:
        message = redact(message)
        properties = {key: redact(str(value)) for key, value in properties.items() if value is not None}
    props = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties.items() if value is not None)
    print(f"::{name}{' ' + props if props else ''}::{escape_data(message)}", file=target, flush=True)


def mask(forms: set[str]) -> None:
    """Have the runner mask each spelling of a secret in the job's log, as we mask them in what we write."""
    for form in sorted(forms):
        command("add-mask", form)


def set_outputs(values: Mapping[str, str], path: str | None = None) -> None:
    """Append outputs to $GITHUB_OUTPUT, with a heredoc delimiter so any value is safe."""
    target = path or os.environ.get("GITHUB_OUTPUT")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        for key, value in values.items():
            delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
            handle.write(f"{key}<<{delimiter}\n{redact(value)}\n{delimiter}\n")


def append_summary(markdown: str, path: str | None = None) -> None:
    target = path or os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    data = redact(markdown).encode("utf-8")
    if len(data) > SUMMARY_LIMIT:
        note = "\n\n…the summary was cut at GitHub's 1 MiB limit; the full report is the JSON report file.\n"
        data = data[: SUMMARY_LIMIT - len(note.encode()) - 4].decode("utf-8", "ignore").encode() + note.encode()
    with Path(target).open("ab") as handle:
        handle.write(data)
