"""What a run will change on each host, computed before anything is written.

A plan is data: it is printed (a unified diff per file, plus the actions), and
`--dry-run` stops there. The same plan object is what apply.py carries out.
Planning is pure: the facts and files read from the host, the inventory and the
date go in; the same inputs always give the same plan.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import dns.serial

from dnsctl import render, tsig
from dnsctl.facts import FileState, HostFacts
from dnsctl.models import Inventory
from dnsctl.namedconf import Chain, Statement
from dnsctl.platform import Layout

# A larger diff (a big zone created or rewritten) is shown as its first lines and a count.
MAX_DIFF_LINES = 100


@dataclass(frozen=True)
class FileChange:
    path: str
    old: str | None  # None: the file does not exist yet
    new: str
    kind: Literal["config", "zone"]
    group: str = "root"
    zone: str | None = None  # for zone files: the zone, for named-checkzone
    mode: int | None = None  # a mode the file must have, new or not (a key file: 0640)

    def diff(self, host: str) -> str:
        """The unified diff; past MAX_DIFF_LINES its first lines and a count of the rest."""
        lines = list(
            difflib.unified_diff(
                (self.old or "").splitlines(keepends=True),
                self.new.splitlines(keepends=True),
                fromfile=f"{host}:{self.path}" if self.old is not None else "/dev/null",
                tofile=f"{host}:{self.path}",
            )
        )
        if len(lines) <= MAX_DIFF_LINES:
            return "".join(lines)
        body = lines[2:]
        added = sum(line.startswith("+") for line in body)
        removed = sum(line.startswith("-") for line in body)
        shown = "".join(lines[:MAX_DIFF_LINES])
        return shown + (
            f"... {len(lines) - MAX_DIFF_LINES} more lines of this diff not shown "
            f"({added} lines added and {removed} removed in all)\n"
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
    # For staging safely: each file as read (owner, mode, links, real path), the include
    # chain named will read, and the zones this run writes as named must parse them.
    files: dict[str, FileState] = field(default_factory=dict)
    chain: Chain | None = None
    expected_zones: dict[str, Statement] = field(default_factory=dict)
    expected_keys: dict[str, Statement] = field(default_factory=dict)  # the key statements it loads
    staged: dict[str, str] = field(default_factory=dict)  # target -> its staged file, until moved
    keyring: tsig.Keyring = field(default_factory=tsig.Keyring)  # the TSIG keys of this run
    # secondary zones whose primary (or key) changes: a forced transfer must prove the new one
    retransfer: list[str] = field(default_factory=list)
    # Zones dnsctl configured here that the inventory no longer gives this server: zone -> role.
    stale: dict[str, str] = field(default_factory=dict)
    # The stale zones this plan removes (--prune), and their zone files, moved into the
    # backup directory once named no longer loads them.
    removed: dict[str, str] = field(default_factory=dict)
    retire: list[str] = field(default_factory=list)
    backup_dir: str | None = None  # where activation kept the files it replaced

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
        for zone, role in self.removed.items():
            lines.append(f"remove zone {zone} ({role}), keeping its file in the backup")
        if self.restart:
            lines.append(f"restart {self.layout.service}")
        elif not self.facts.named_active:
            lines.append(f"start {self.layout.service}")
        elif self.changes:
            lines.append(f"reload {self.layout.service}")
        lines += [f"force a transfer of {zone} to prove it" for zone in self.retransfer]
        if self.open_firewall:
            lines.append(f"allow dns in firewalld zone {self.facts.firewall.zone}")
        return lines

    def diff(self) -> str:
        return "".join(change.diff(self.server) for change in self.changes)

    def planned(self, path: str) -> str | None:
        """A file's text once the plan is carried out."""
        return next((change.new for change in self.changes if change.path == path), self.current.get(path))

    def changed_zones(self) -> set[str]:
        """Zones whose zone file or stanza this plan changes (added and removed ones included)."""
        zones = {change.zone for change in self.changes if change.zone is not None}
        managed = self.layout.managed_conf
        for change in self.changes:
            if change.path == managed:
                old, new = render.parse_managed(change.old), render.parse_managed(change.new)
                zones |= {zone for zone in old.keys() | new.keys() if old.get(zone) != new.get(zone)}
        return zones


# --- the zones dnsctl manages on a server ------------------------------------------------

_ZONE_TYPE = re.compile(r"^\s*type\s+(\w+)\s*;", re.MULTILINE)
_ZONE_FILE = re.compile(r'^\s*file\s+"([^"]*)"\s*;', re.MULTILINE)
ROLES = {"master": "primary", "primary": "primary", "slave": "secondary", "secondary": "secondary"}


@dataclass(frozen=True)
class ManagedZone:
    role: str  # "primary" | "secondary"; other types dnsctl never writes are left alone
    file: str | None


def managed_zones(text: str | None) -> dict[str, ManagedZone]:
    """The zones configured in dnsctl's own file, with their role and zone file."""
    zones = {}
    for zone, stanza in render.parse_managed(text).items():
        kind, path = _ZONE_TYPE.search(stanza), _ZONE_FILE.search(stanza)
        role = ROLES.get(kind.group(1)) if kind else None
        if role is not None:
            zones[zone] = ManagedZone(role, path.group(1) if path else None)
    return zones


def stale_zones(inventory: Inventory, plan: HostPlan) -> dict[str, str]:
    """Zones in dnsctl's file on this server that the inventory no longer gives it: zone -> role."""
    carried = set(inventory.zones_of(plan.server))
    managed = managed_zones(plan.current.get(plan.layout.managed_conf))
    return {zone: found.role for zone, found in managed.items() if zone not in carried}


# --- what a server should carry, as file contents ------------------------------------


def next_serial(current: int | None, today: dt.date) -> int:
    """YYYYMMDDnn when that is ahead of current (RFC 1982), else current + 1."""
    dated = int(today.strftime("%Y%m%d")) * 100
    if current is None or dns.serial.Serial(dated) > dns.serial.Serial(current):
        return dated
    return (dns.serial.Serial(current) + 1).value


def newest_serial(*serials: int | None) -> int | None:
    """The largest of the known serials by RFC 1982, or None when none is known."""
    newest = None
    for serial in serials:
        if serial is not None and (newest is None or dns.serial.Serial(serial) > dns.serial.Serial(newest)):
            newest = serial
    return newest


def plan_zone_file(
    inventory: Inventory, plan: HostPlan, zone: str, served_serial: int | None, today: dt.date
) -> None:
    """Add the zone file's change (if its content differs) and the serial named must then serve.

    The serial only moves when the content changes, and then always forward from
    the larger of the file's serial and the one named serves.
    """
    path = plan.layout.primary_file(zone)
    old = plan.current.get(path)
    file_serial = render.zone_serial(old)
    if file_serial is not None and old == render.render_zone(inventory, zone, file_serial):
        plan.expect_serials[zone] = file_serial
        return
    serial = next_serial(newest_serial(file_serial, served_serial), today)
    text = render.render_zone(inventory, zone, serial)
    plan.changes.append(FileChange(path, old, text, "zone", plan.layout.group, zone))
    plan.expect_serials[zone] = serial


def plan_config(
    inventory: Inventory, plan: HostPlan, wants: dict[str, str], remove: dict[str, str] | None = None
) -> None:
    """The configuration changes: our stanzas, our include line, the server's listen-on.

    wants maps each zone this server should carry to "primary" or "secondary";
    remove, zones whose stanzas go (their files are retired after the change).
    """
    layout, current = plan.layout, plan.current
    new = dict(current)
    stanzas = render.parse_managed(current.get(layout.managed_conf))
    for zone, role in wants.items():
        key = inventory.tsig_key(zone)
        if role == "primary":
            keys = plan.keyring.transfer_keys(key)
            stanzas[zone] = render.primary_stanza(inventory, zone, layout, transfer_keys=keys)
        else:
            before = stanzas.get(zone)
            used = plan.keyring.primary_key(key)
            stanzas[zone] = render.secondary_stanza(inventory, zone, layout, primary_key=used)
            if before is not None and tsig.masters_line(before) != tsig.masters_line(stanzas[zone]):
                plan.retransfer.append(zone)
    managed = managed_zones(current.get(layout.managed_conf))
    for zone, role in (remove or {}).items():
        del stanzas[zone]
        plan.removed[zone] = role
        # Only the file dnsctl itself pointed named at, where dnsctl puts that role's files.
        own_file = layout.primary_file(zone) if role == "primary" else layout.secondary_file(zone)
        if managed[zone].file == own_file:
            plan.retire.append(own_file)
    if not stanzas and current.get(layout.managed_conf) is None:
        return  # dnsctl has nothing on this server and nothing to put there
    keys_text = plan_key_file(plan, stanzas)
    preamble = [tsig.include_line(layout)] if keys_text is not None else []
    new[layout.managed_conf] = render.render_managed(stanzas, preamble)
    new[layout.include_parent] = render.ensure_include(new.get(layout.include_parent), layout.managed_conf)
    if new.get(layout.options_file) is not None:
        new[layout.options_file] = render.ensure_listen_on(new[layout.options_file], plan.address)
    for path in layout.config_files():
        if new.get(path) is not None and new[path] != current.get(path):
            group = layout.group if path == layout.managed_conf else "root"
            plan.changes.append(FileChange(path, current.get(path), new[path], "config", group))


def plan_key_file(plan: HostPlan, stanzas: dict[str, str]) -> str | None:
    """The server's TSIG key file, planned as a change when it differs; its text, or None
    when the server needs no key file. Staged before dnsctl's configuration, which names it."""
    path = tsig.key_file(plan.layout)
    old = plan.current.get(path)
    text = tsig.key_file_text(plan.server, old, stanzas, plan.keyring)
    if text is not None and text != old:
        plan.changes.append(FileChange(path, old, text, "config", plan.layout.group, mode=tsig.KEY_FILE_MODE))
    return text


def plan_server(
    inventory: Inventory,
    plan: HostPlan,
    wants: dict[str, str],
    served_serials: dict[str, int | None],
    today: dt.date,
    prune: Callable[[str], bool] | None = None,
) -> HostPlan:
    """Fill plan (facts and current files already read) with every change the server needs.

    prune says which stale zones (dnsctl's, no longer the inventory's for this
    server) to remove; by default none is.
    """
    for zone, role in wants.items():
        if role == "primary":
            plan_zone_file(inventory, plan, zone, served_serials.get(zone), today)
        elif plan.layout.secondary_dir not in plan.directories:
            plan.directories.append(plan.layout.secondary_dir)
    plan.stale = stale_zones(inventory, plan)
    remove = {zone: role for zone, role in plan.stale.items() if prune is not None and prune(zone)}
    plan_config(inventory, plan, wants, remove)
    # Zone files first, then configuration: the order files are staged and moved in.
    plan.changes.sort(key=lambda change: change.kind != "zone")
    return plan
