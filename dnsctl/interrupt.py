"""Ctrl-C and SIGTERM, delivered at safe points only.

An exception raised by a signal in the middle of a paramiko call can leave the
transport's internal locks held, and the clean-up that must follow (removing
staged files, rolling back, restoring a primary) then hangs. So the handler only
records the request; `checkpoint()` raises KeyboardInterrupt between remote
commands and in waiting loops, where every lock is free.
"""

from __future__ import annotations

import signal
import threading

_requested = threading.Event()


def request(*_: object) -> None:
    """Signal handler: stop at the next checkpoint."""
    _requested.set()


def install() -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request)


def checkpoint() -> None:
    """Raise KeyboardInterrupt once if a stop was requested; clean-up after it runs normally."""
    if _requested.is_set():
        _requested.clear()
        raise KeyboardInterrupt
