"""Step-by-step results: printed as they happen for people, one JSON document for scripts."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

MARKS = {"ok": "OK", "fail": "FAIL", "skip": "--", "plan": ".."}


@dataclass
class Step:
    host: str
    action: str
    status: str  # ok | fail | skip | plan
    seconds: float = 0.0
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Report:
    """Collects steps; echoes them unless --json, where only the final document is printed."""

    def __init__(self, command: str, *, json_mode: bool = False, out: TextIO | None = None) -> None:
        self.command = command
        self.json_mode = json_mode
        self.out = out or sys.stdout
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
        step = Step(host, action, status, round(seconds, 3), detail, data)
        self.steps.append(step)
        if not self.json_mode:
            timing = f"{seconds:6.2f}s" if seconds else " " * 7
            text = f"{MARKS[status]:<4} {host:<12} {timing}  {action}"
            self.out.write(text + (f": {detail}" if detail else "") + "\n")
            self.out.flush()
        return step

    @contextmanager
    def step(self, host: str, action: str) -> Iterator[Step]:
        """Time a block; it is recorded as failed if it raises."""
        started = time.monotonic()
        step = Step(host, action, "ok")
        try:
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

    def text(self, text: str) -> None:
        """Free text for people (a diff, a summary); in --json it goes into the document."""
        if self.json_mode:
            self.data.setdefault("text", []).append(text)
        else:
            self.out.write(text if text.endswith("\n") else text + "\n")
            self.out.flush()

    def document(self, *, ok: bool, error: str | None = None, exit_code: int = 0) -> dict[str, Any]:
        return {
            "command": self.command,
            "ok": ok,
            "exit_code": exit_code,
            "error": error,
            "seconds": round(time.monotonic() - self.started, 3),
            "steps": [asdict(step) for step in self.steps],
            **{key: value for key, value in self.data.items() if key != "text"},
            **({"text": self.data["text"]} if "text" in self.data else {}),
        }

    def emit(self, *, ok: bool, error: str | None = None, exit_code: int = 0) -> None:
        if self.json_mode:
            json.dump(self.document(ok=ok, error=error, exit_code=exit_code), self.out, indent=2)
            self.out.write("\n")
            self.out.flush()
