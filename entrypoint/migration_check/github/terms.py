"""Messages written for the command line, said in the Action's words: its inputs, not the flags."""

from __future__ import annotations

import re

# The command line's words for what the Action calls inputs.
_IN_ACTION_TERMS = (
    (re.compile(r"--env ([A-Za-z_]\w*=\S+)"), r"\1 in the env input"),
    (re.compile(r"--env KEY=VALUE|--env NAME=value|--env\b"), "the env input (KEY=VALUE lines)"),
    (re.compile(r"--url-env NAME|--url-env\b"), "the url-env input"),
    (re.compile(r"--url-parts\b"), "the url-parts input"),
    (re.compile(r"--config-file\b"), "the config-file input"),
    (re.compile(r"--config\b"), "the alembic-config input"),
    (re.compile(r"--name\b"), "the alembic-name input"),
    (re.compile(r"--base-ref\b"), "the base-ref input"),
    (re.compile(r"--setup-sql\b"), "the setup-sql input"),
    (re.compile(r"--preset (\w+)"), r"preset: \1"),
    (re.compile(r"--preset\b"), "the preset input"),
    (re.compile(r"--database-url\b"), "the database-url input"),
    (re.compile(r"--roundtrip\b"), "the roundtrip input"),
    (re.compile(r"--data-volume\b"), "the data-volume input"),
    (re.compile(r"--table-sizes\b"), "the table-sizes input"),
    (re.compile(r"--fail-on\b"), "the fail-on input"),
    (re.compile(r"\bPATH\b"), "working-directory"),  # the command line's project folder argument
)


def in_action_terms(text: str) -> str:
    """A message written for the command line, said in the Action's words (inputs, not flags)."""
    for pattern, words in _IN_ACTION_TERMS:
        text = pattern.sub(words, text)
    return text
