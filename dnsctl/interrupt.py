"""Ctrl-C, SIGTERM and SIGHUP, delivered at safe points only, and never into a clean-up.

An exception raised by a signal in the middle of a paramiko call can leave the
transport's internal locks held, and the clean-up that must follow (removing
staged files, rolling back, restoring a primary) then hangs. So the handler only
records the request; `checkpoint()` raises KeyboardInterrupt between remote
commands and in waiting loops, where every lock is free.

A clean-up runs inside `shield()`: a request that arrives then (a second Ctrl-C,
a SIGTERM from a supervisor, the terminal closing) is remembered, and takes
effect at the first checkpoint after the clean-up has finished. Stopping half-way
through a rollback would leave exactly the half-made change it exists to undo.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

_requested = threading.Event()
_shields: list[str] = []  # what is being finished, innermost last
_shields_lock = threading.Lock()


def request(signum: int = signal.SIGINT, _frame: object = None) -> None:
    """Signal handler: stop at the next checkpoint outside a shield."""
    _requested.set()
    if signum == signal.SIGHUP:
        _leave_terminal()
    if _shields:
        _say(f"dnsctl: {signal.Signals(signum).name} received; {_shields[-1]} first, then stopping\n")


def install() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request)


def checkpoint() -> None:
    """Raise KeyboardInterrupt once if a stop was requested, unless a clean-up is running."""
    if _requested.is_set() and not _shields:
        _requested.clear()
        raise KeyboardInterrupt


@contextlib.contextmanager
def shield(finishing: str) -> Iterator[None]:
    """Run a clean-up that no signal may cut short; `finishing` says what, e.g. "finishing the rollback"."""
    with _shields_lock:
        _shields.append(finishing)
    try:
        yield
    finally:
        with _shields_lock:
            _shields.remove(finishing)


def _leave_terminal() -> None:
    """The terminal is gone: writing to it would fail, so what is left to print goes nowhere.

    Only streams that are a terminal are redirected; a pipe or a file still gets
    the rest of the report.
    """
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if stream.isatty():
                    # No flush: a handler may run while the stream's own lock is held.
                    os.dup2(devnull, stream.fileno())
        os.close(devnull)


def _say(text: str) -> None:
    # os.write: a signal handler must not re-enter a buffered stream's lock.
    with contextlib.suppress(OSError):
        os.write(2, text.encode())
