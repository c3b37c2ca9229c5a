"""Secrets never reach an output: each one is registered once, in every spelling it can take in a URL or a
configuration file, and every writer (terminal, reports, the Action's annotations, summary, outputs and comment)
passes its text through `redact`."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url

MASK = "***"
# Shorter values are left alone: masking "ab" would scramble every word that contains it, and such a password
# protects nothing anyway.
MIN_LENGTH = 4

_forms: set[str] = set()


def spellings(secret: str) -> set[str]:
    """The secret as written, percent-encoded (as in a URL: both quote styles, upper- and lower-case hex), and
    with % doubled (as ConfigParser writes it)."""
    found = {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}
    found |= {form.lower() for form in found if "%" in form and form != secret}
    found |= {form.replace("%", "%%") for form in list(found) if "%" in form}
    return {form for form in found if len(form) >= MIN_LENGTH}


def register(secret: str | None) -> set[str]:
    """Mask this value from now on; returns its spellings (the Action masks each in the runner's log too)."""
    if not secret or len(secret) < MIN_LENGTH:
        return set()
    forms = spellings(secret)
    _forms.update(forms)
    return forms


def register_url(url: str | None) -> set[str]:
    """Mask a database URL's password."""
    if not url:
        return set()
    try:
        password = make_url(url).password
    except Exception:  # not a URL SQLAlchemy can read: mask it whole
        return register(url)
    return register(str(password)) if password else set()


def redact(text: str) -> str:
    if not _forms or not text:
        return text
    for form in sorted(_forms, key=len, reverse=True):  # longest first: an encoded form contains the raw one
        if form in text:
            text = text.replace(form, MASK)
    return text


def forget_all() -> None:
    """For tests that run several checks in one process."""
    _forms.clear()
