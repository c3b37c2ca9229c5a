"""Progress of a long step: updated in place on a terminal, a line now and then in a log (CI)."""

from __future__ import annotations

import io
import re

import pytest

from migration_check import progress
from migration_check.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_count_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "LIVE_EVERY", 0.0)
    stream = Terminal()
    with Progress(stream).step("roundtrip", "round trip") as note:
        for done in range(1, 4):
            note.advance(done, 3, "steps")
        note.text = "3 steps"
    shown = stream.getvalue()
    assert "round trip · 2/3 steps\033[K\r" in shown
    assert re.search(r"round trip \([\d.]+ s\) · 3 steps\x1b\[K\n$", shown), shown


def test_a_log_gets_a_line_only_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    stream = io.StringIO()
    with Progress(stream).step("roundtrip", "round trip") as note:
        note.advance(1, 3, "steps")  # not 15 s yet: nothing
        monkeypatch.setattr(progress, "LOGGED_EVERY", 0.0)
        note.advance(2, 3, "steps")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert re.match(r"  … round trip · 2/3 steps \(\d+ s so far\)$", lines[0]), lines
    assert "\r" not in stream.getvalue()


def test_quiet_shows_nothing() -> None:
    stream = Terminal()
    with Progress(stream, enabled=False).step("roundtrip", "round trip") as note:
        note.advance(1, 1, "steps")
    assert stream.getvalue() == ""
