"""Ctrl-C, SIGTERM and SIGHUP end the run through the normal clean-up path.

The handler raises Interrupted where the program is. A database driver waiting on the server may swallow that
exception and raise its own clean-up error instead, so the signal is also recorded, and code that catches the
project's exceptions asks `raise_if_received()` before blaming the project.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator
from types import FrameType

from migration_check.errors import Interrupted

_received: list[str] = []
# What stops the database's work at once: a driver waiting for a long statement would otherwise wait for it to
# end (and roll back) before the exception can unwind.
_stoppers: list[Callable[[], None]] = []


@contextlib.contextmanager
def stop_work_on_interrupt(stop: Callable[[], None]) -> Iterator[None]:
    _stoppers.append(stop)
    try:
        yield
    finally:
        _stoppers.remove(stop)


def _interrupted(name: str) -> Interrupted:
    return Interrupted(f"Stopped by {name}; the throwaway server and its files were removed.",
                       fix="Run the check again.")


def _handler(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    first = not _received
    _received.append(name)
    if first:
        for stop in reversed(_stoppers):
            with contextlib.suppress(Exception):
                stop()
    raise _interrupted(name)


def install() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _handler)


def raise_if_received() -> None:
    if _received:
        raise _interrupted(_received[0])
