"""What a run will change on each host, computed before anything is written.

A plan is data: it is printed (a unified diff per file, plus the actions), and
`--dry-run` stops there. The same plan object is what apply.py carries out.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from dnsctl.facts import HostFacts
from dnsctl.platform import Layout


@dataclass(frozen=True)
class FileChange:
    path: str
    old: str | None  # None: the file does not exist yet
    new: str
    kind: Literal["config", "zone"]
    group: str = "root"
    zone: str | None = None  # for zone files: the zone, for named-checkzone

    def diff(self, host: str) -> str:
        return "".join(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"{host}:{self.path}" if self.old is not None else "/dev/null",
                tofile=f"{host}:{self.path}",
            )
        )


@dataclass
class HostPlan:
    server: str
    address: str
    layout: Layout
    facts: HostFacts
    current: dict[str, str | None] = field(default_factory=dict)  # files as read
    changes: list[FileChange] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)  # secondary dirs to create
    install: bool = False
    open_firewall: bool = False
    restart: bool = False
    # zones whose new serial named must serve after activation: zone -> serial
    expect_serials: dict[str, int] = field(default_factory=dict)
    activated_at: float | None = None  # time.monotonic() when named was given the change

    @property
    def writes(self) -> bool:
        return bool(self.changes or self.directories or self.install)

    @property
    def empty(self) -> bool:
        return not (self.writes or self.open_firewall or self.restart or not self.facts.named_active)

    def actions(self) -> list[str]:
        """The plan as short lines, for people and for --json."""
        lines = []
        if self.install:
            packages = " ".join(self.layout.packages)
            return [f"install {packages}, then plan the configuration on what it installed"]
        lines += [f"create directory {path}" for path in self.directories]
        for change in self.changes:
            verb = "create" if change.old is None else "update"
            lines.append(f"{verb} {change.path}")
        if self.restart:
            lines.append(f"restart {self.layout.service}")
        elif not self.facts.named_active:
            lines.append(f"start {self.layout.service}")
        elif self.changes:
            lines.append(f"reload {self.layout.service}")
        if self.open_firewall:
            lines.append(f"allow dns in firewalld zone {self.facts.firewall.zone}")
        return lines

    def diff(self) -> str:
        return "".join(change.diff(self.server) for change in self.changes)
