"""Step-by-step results: printed as they happen for people, one JSON document for scripts.

On a terminal, whatever takes a while (a step, a wait for a serial or a transfer)
also shows a live line on stderr: what is awaited and the time so far. It is
rewritten in place and erased when the wait ends, so it never ends up in a log.
"""

from __future__ import annotations

import itertools
import json
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from dnsctl import secrets

MARKS = {"ok": "OK", "fail": "FAIL", "skip": "--", "plan": ".."}

ERASE_LINE = "\r\x1b[K"


@dataclass
class Step:
    host: str
    action: str
    status: str  # ok | fail | skip | plan
    seconds: float = 0.0
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def step_line(mark: str, host: str, timing: str, action: str) -> str:
    return f"{mark:<4} {host:<12} {timing:>7}  {action}"


class LiveLine:
    """One line on a terminal, rewritten in place while something is awaited.

    Waits may overlap (hosts run in parallel): the line shows the longest one and
    how many more there are. A wait shorter than `delay` never shows, so quick
    steps do not flicker. Everything else written to the terminal goes through
    `paused()`, which takes the line away and puts it back below the new text.
    """

    def __init__(
        self,
        stream: TextIO,
        *,
        clock: Callable[[], float] = time.monotonic,
        delay: float = 0.5,
        interval: float = 0.2,
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.delay = delay
        self.interval = interval
        self._lock = threading.RLock()
        self._waits: dict[int, tuple[float, str, str]] = {}
        self._tokens = itertools.count()
        self._shown = False
        self._ticker: threading.Thread | None = None
        self._idle = threading.Event()  # the last wait ended: the ticker may go

    def start(self, host: str, action: str) -> int:
        with self._lock:
            token = next(self._tokens)
            self._waits[token] = (self.clock(), host, action)
            if self._ticker is None:
                self._ticker = threading.Thread(target=self._tick, name="dnsctl-live-line", daemon=True)
                self._ticker.start()
            return token

    def stop(self, token: int) -> None:
        with self._lock:
            self._waits.pop(token, None)
            if not self._waits:
                self._idle.set()
            self.draw()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Write something else to the terminal: the live line goes, then comes back below it."""
        with self._lock:
            if self._shown:
                self.stream.write(ERASE_LINE)
                self._shown = False
            try:
                yield
            finally:
                self.draw()

    def text(self) -> str:
        """The line as it should read now; empty when nothing has been awaited long enough."""
        now = self.clock()
        due = sorted(wait for wait in self._waits.values() if now - wait[0] >= self.delay)
        if not due:
            return ""
        started, host, action = due[0]
        more = f" (+{len(due) - 1} more)" if len(due) > 1 else ""
        line = step_line("..", host, f"{now - started:.1f}s", action + more)
        # A line that wraps cannot be taken back with a carriage return.
        return line[: shutil.get_terminal_size().columns - 1]

    def draw(self) -> None:
        with self._lock:
            line = self.text()
            if line or self._shown:
                self.stream.write(ERASE_LINE + line)
                self.stream.flush()
            self._shown = bool(line)

    def _tick(self) -> None:
        while True:
            self._idle.wait(self.interval)
            with self._lock:
                self._idle.clear()
                if not self._waits:
                    self._ticker = None
                    return
                self.draw()


class Report:
    """Collects steps; echoes them unless --json, where only the final document is printed."""

    def __init__(
        self,
        command: str | None,
        *,
        json_mode: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
        live: LiveLine | None = None,
    ) -> None:
        self.command = command
        self.json_mode = json_mode
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.live = None if json_mode else live
        self._note: tuple[str, int] | None = None
        self.steps: list[Step] = []
        self.data: dict[str, Any] = {}
        self.started = time.monotonic()

    def add(
        self,
        host: str,
        action: str,
        status: str = "ok",
        *,
        seconds: float = 0.0,
        detail: str = "",
        **data: Any,
    ) -> Step:
        step = Step(host, action, status, round(seconds, 3), secrets.mask(detail), data)
        self.steps.append(step)
        if not self.json_mode:
            timing = f"{seconds:.2f}s" if seconds else ""
            text = step_line(MARKS[status], host, timing, action)
            self.write(text + (f": {detail}" if detail else "") + "\n")
        return step

    @contextmanager
    def step(self, host: str, action: str) -> Iterator[Step]:
        """Time a block; it is recorded as failed if it raises."""
        started = time.monotonic()
        step = Step(host, action, "ok")
        try:
            with self.waiting(host, action):
                yield step
        except BaseException as exc:
            self.add(host, action, "fail", seconds=time.monotonic() - started, detail=str(exc))
            raise
        self.add(
            host,
            action,
            step.status,
            seconds=time.monotonic() - started,
            detail=step.detail,
            **step.data,
        )

    @contextmanager
    def waiting(self, host: str, action: str) -> Iterator[None]:
        """Something that may take more than a second: the live line shows it on a terminal."""
        if self.live is None:
            yield
            return
        token = self.live.start(host, action)
        try:
            yield
        finally:
            self.live.stop(token)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Write to the terminal (stdout or stderr) without mixing it into the live line."""
        if self.live is None:
            yield
        else:
            with self.live.paused():
                yield

    def write(self, text: str, *, stream: TextIO | None = None) -> None:
        stream = stream or self.out
        with self.paused():
            stream.write(text)
            stream.flush()

    def note(self, source: str, text: str) -> None:
        """What is going on now (`lab: building the root file system`), on stderr, for people.

        On a terminal it is the live line, with its time, until the next note or the
        end of the run, and then stays as a line; in --json there is nothing.
        """
        if self.json_mode:
            return
        self._end_note()
        if self.live is None:
            self.write(f"{source}: {text}\n", stream=self.err)
        else:
            self._note = (f"{source}: {text}", self.live.start(source, text))

    def _end_note(self) -> None:
        if self._note is not None and self.live is not None:
            line, token = self._note
            self._note = None
            self.live.stop(token)
            self.write(line + "\n", stream=self.err)

    def text(self, text: str) -> None:
        """Free text for people (a diff, a summary); in --json it goes into the document."""
        text = secrets.mask(text)
        if self.json_mode:
            self.data.setdefault("text", []).append(text)
        else:
            self.write(text if text.endswith("\n") else text + "\n")

    def document(
        self,
        *,
        ok: bool,
        error: str | None = None,
        exit_code: int = 0,
        errors: list[str] | None = None,
    ) -> dict[str, Any]:
        """Everything as one JSON-ready value, with every secret hidden (plan diffs show files)."""
        return secrets.mask_data(
            {
                "command": self.command,
                "ok": ok,
                "exit_code": exit_code,
                "error": error,
                "errors": errors if errors is not None else ([error] if error else []),
                "seconds": round(time.monotonic() - self.started, 3),
                "steps": [asdict(step) for step in self.steps],
                **{key: value for key, value in self.data.items() if key != "text"},
                **({"text": self.data["text"]} if "text" in self.data else {}),
            }
        )

    def emit(
        self,
        *,
        ok: bool,
        error: str | None = None,
        exit_code: int = 0,
        errors: list[str] | None = None,
    ) -> None:
        self._end_note()
        if self.json_mode:
            document = self.document(ok=ok, error=error, exit_code=exit_code, errors=errors)
            json.dump(document, self.out, indent=2)
            self.out.write("\n")
            self.out.flush()
