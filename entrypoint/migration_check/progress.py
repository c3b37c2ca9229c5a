"""Progress lines on stderr, one per step, with the step's wall time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from migration_check.findings import Finding, Severity, StepTiming


def counted(count: int, noun: str) -> str:
    """"1 finding", "3 findings"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


@dataclass
class StepNote:
    """Lets a running step add a short note to its progress line, such as the server version."""

    text: str = ""
    failed: bool = False  # the step ran, but what it checked failed

    def findings(self, found: list[Finding], prefix: str = "") -> None:
        """Note how many findings a step made, and fail its line when any is an error."""
        self.failed = any(finding.severity >= Severity.ERROR for finding in found)
        self.text = prefix + counted(len(found), "finding")


@dataclass
class Progress:
    stream: TextIO
    enabled: bool = True
    color: bool = False
    timings: list[StepTiming] = field(default_factory=list)

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def say(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream, flush=True)

    @contextmanager
    def step(self, key: str, label: str) -> Iterator[StepNote]:
        """Time one step; on a terminal show it while it runs, then print one line with its outcome."""
        note = StepNote()
        live = self.enabled and self.stream.isatty()
        if live:
            print(f"  {self._paint('…', '2')} {label}", end="\r", file=self.stream, flush=True)
        started = time.perf_counter()
        failed = True
        try:
            yield note
            failed = False
        finally:
            seconds = time.perf_counter() - started
            self.timings.append(StepTiming(key, seconds, note.text))
            if self.enabled:
                mark = self._paint("✗", "31") if failed or note.failed else self._paint("✓", "32")
                suffix = f" · {note.text}" if note.text else ""
                clear = "\033[K" if live else ""
                print(f"  {mark} {label} ({seconds:.2f} s){suffix}{clear}", file=self.stream, flush=True)
