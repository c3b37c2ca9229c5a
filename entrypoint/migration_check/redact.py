"""Secrets never reach an output: each one is registered once, in every spelling it can take in a URL or a
configuration file, and every writer (terminal, reports, the Action's annotations, summary, outputs and comment)
passes its text through `redact`."""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url

MASK = "***"
# Shorter values are left alone: masking "ab" would scramble every word that contains it, and such a password
# protects nothing anyway.
MIN_LENGTH = 4

_patterns: dict[str, re.Pattern[str]] = {}


def spellings(secret: str) -> set[str]:
    """The usual spellings of a secret, for the runner's mask: as written, percent-encoded as URLs write it
    (urllib's two styles and SQLAlchemy's, which keeps spaces and +), and with % doubled (as ConfigParser needs)."""
    found = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret), quote(secret, safe=" +")}
    found |= {form.replace("%", "%%") for form in list(found) if "%" in form}
    return {form for form in found if len(form) >= MIN_LENGTH}


def _hex(byte: int) -> str:
    return "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in f"{byte:02X}")


def _pattern(secret: str) -> re.Pattern[str]:
    """Every spelling at once: each character as itself, percent-encoded with either case of hex (the % once or
    doubled), or + for a space."""
    parts = []
    for char in secret:
        encoded = "".join(f"%%?{_hex(byte)}" for byte in char.encode("utf-8"))
        options = [re.escape(char), encoded] + ([r"\+"] if char == " " else []) + (["%%"] if char == "%" else [])
        parts.append("(?:" + "|".join(options) + ")")
    return re.compile("".join(parts))


def register(secret: str | None) -> set[str]:
    """Mask this value from now on; returns its spellings (the Action masks each in the runner's log too)."""
    if not secret or len(secret) < MIN_LENGTH:
        return set()
    if secret not in _patterns:
        _patterns[secret] = _pattern(secret)
    return spellings(secret)


def register_url(url: str | None) -> set[str]:
    """Mask a database URL's password."""
    if not url:
        return set()
    try:
        password = make_url(url).password
    except Exception:  # not a URL SQLAlchemy can read: mask it whole
        return register(url)
    return register(str(password)) if password else set()


SECRET_WORDS = ("PASSWORD", "PASSWD", "PWD", "SECRET", "TOKEN", "KEY", "CREDENTIAL")


def looks_secret(name: str) -> bool:
    """A setting whose value is masked: SECRET_KEY, POSTGRES_PASSWORD, API_TOKEN, ..."""
    return any(word in name.upper() for word in SECRET_WORDS)


def register_settings(database_url: str | None, env: tuple[tuple[str, str], ...]) -> set[str]:
    """The secrets of one run's configuration: the database URL's password, and secret-looking --env values (a
    value that is or holds a URL has its password masked too)."""
    forms = register_url(database_url)
    for name, value in env:
        if "://" in value:
            forms |= register_url(value)
        if looks_secret(name):
            forms |= register(value)
    return forms


def redact(text: str) -> str:
    if not _patterns or not text:
        return text
    for secret in sorted(_patterns, key=len, reverse=True):
        text = _patterns[secret].sub(MASK, text)
    return text


def forget_all() -> None:
    """For tests that run several checks in one process."""
    _patterns.clear()


class RedactingStream:
    """A text stream that masks the secrets in everything written to it: the process's stdout and stderr, so
    that nothing printed (progress, errors, env.py's own output under --verbose) shows one."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...: the inner stream's
        return getattr(self.inner, name)


def redact_standard_streams() -> None:
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)  # type: ignore[assignment]
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)  # type: ignore[assignment]
