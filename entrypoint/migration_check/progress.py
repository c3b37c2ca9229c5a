"""Progress lines on stderr, one per step, with the step's wall time."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TextIO

from migration_check.findings import Finding, Severity, StepTiming


def counted(count: int, noun: str) -> str:
    """"1 finding", "3 findings"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


Ticker = Callable[[int, int, str], None]

LIVE_EVERY = 0.1  # seconds between updates of the line on a terminal
LOGGED_EVERY = 15.0  # seconds between progress lines in a log (CI), where a line cannot be updated in place


@dataclass
class StepNote:
    """Lets a running step add a short note to its progress line, such as the server version."""

    text: str = ""
    failed: bool = False  # the step ran, but what it checked failed
    ticker: Ticker | None = None

    def advance(self, done: int, total: int, unit: str) -> None:
        """Report how far a long step has come ("120/800 steps"); shown live, or now and then in a log."""
        if self.ticker is not None:
            self.ticker(done, total, unit)

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
        live = self.enabled and self.stream.isatty()
        started = time.perf_counter()
        note = StepNote(ticker=self._ticker(label, live, started) if self.enabled else None)
        if live:
            print(f"  {self._paint('…', '2')} {label}", end="\r", file=self.stream, flush=True)
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

    def _ticker(self, label: str, live: bool, started: float) -> Ticker:
        shown = started - LIVE_EVERY if live else started

        def tick(done: int, total: int, unit: str) -> None:
            nonlocal shown
            now = time.perf_counter()
            if now - shown < (LIVE_EVERY if live else LOGGED_EVERY):
                return
            shown = now
            where = f"{done}/{total} {unit}"
            if live:
                print(f"  {self._paint('…', '2')} {label} · {where}\033[K", end="\r", file=self.stream, flush=True)
            else:
                print(f"  … {label} · {where} ({now - started:.0f} s so far)", file=self.stream, flush=True)

        return tick
