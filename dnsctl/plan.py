"""What a run will change on each host, computed before anything is written.

A plan is data: it is printed (a unified diff per file, plus the actions), and
`--dry-run` stops there. The same plan object is what apply.py carries out.
Planning is pure: the facts and files read from the host, the inventory and the
date go in; the same inputs always give the same plan.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import dns.serial

from dnsctl import catalog, dnssec, render, tsig
from dnsctl.facts.files import FileState
from dnsctl.facts.host import HostFacts
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
    # zones signed inline before or after this run: named serves a serial at or after the file's
    inline_signed: set[str] = field(default_factory=set)
    # files named must not find when it loads the new configuration; moved into the backup
    set_aside: list[str] = field(default_factory=list)
    directory_modes: dict[str, str] = field(default_factory=dict)  # default 0775
    relabel: list[str] = field(default_factory=list)  # new directories to label for SELinux, if present
    activated_at: float | None = None  # time.monotonic() when named was given the change
    # For staging safely: each file as read (owner, mode, links, real path), the include
    # chain named will read, and the zones this run writes as named must parse them.
    files: dict[str, FileState] = field(default_factory=dict)
    chain: Chain | None = None
    expected_zones: dict[str, Statement] = field(default_factory=dict)
    expected_keys: dict[str, Statement] = field(default_factory=dict)  # the key statements it loads
    policies: frozenset[str] = frozenset()  # the dnssec-policy statements dnsctl's file holds
    # On a catalog consumer: the catalog, its primary's address, the TSIG key it asks with.
    consumes: tuple[str, str, str | None] | None = None
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
        return bool(self.changes or self.directories or self.install or self.set_aside)

    @property
    def empty(self) -> bool:
        return not (self.writes or self.open_firewall or self.restart or not self.facts.named_active)

    def actions(self) -> list[str]:
        """The plan as short lines, for people and for --json."""
        lines = []
        if self.install:
            packages = " ".join(self.layout.packages)
            return [f"install {packages}, then plan the configuration on what it installed"]
        for path in self.directories:
            mode = self.directory_modes.get(path)
            lines.append(f"create directory {path}" + (f" (mode {mode})" if mode else ""))
        for change in self.changes:
            verb = "create" if change.old is None else "update"
            lines.append(f"{verb} {change.path}")
        for zone, role in self.removed.items():
            lines.append(f"remove zone {zone} ({role}), keeping its file in the backup")
        if self.set_aside:
            lines.append(f"set aside (when present) {_braced(self.set_aside)}")
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
    if inventory.catalog is not None and plan.server in (
        inventory.catalog_primary(),
        *inventory.catalog_consumers(),
    ):
        carried.add(inventory.catalog)
    managed = managed_zones(plan.current.get(plan.layout.managed_conf))
    return {zone: found.role for zone, found in managed.items() if zone not in carried}


def _braced(paths: list[str]) -> str:
    """/d/z.db.jnl /d/z.db.signed -> /d/z.db.{jnl,signed}: one group per file they belong to."""
    groups: dict[str, list[str]] = {}
    for path in paths:
        base, _, suffix = path.partition(".db.")
        groups.setdefault(base + ".db.", []).append(suffix)
    return " ".join(base + (f"{{{','.join(s)}}}" if len(s) > 1 else s[0]) for base, s in groups.items())


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
    inventory: Inventory,
    plan: HostPlan,
    zone: str,
    served_serial: int | None,
    today: dt.date,
    *,
    signed: bool = False,
    renew: bool = False,
    text_at: Callable[[int], str] | None = None,
) -> bool:
    """Add the zone file's change (if its content differs) and the serial named must then serve;
    whether the file changes.

    The serial only moves when the content changes, and then always forward from
    the larger of the file's serial and the one named serves. It also moves when
    renew says so (signing is turned on or off: secondaries must transfer the zone
    again although its records did not change), and for an unsigned zone named
    serves at a later serial than its file's: secondaries never follow a serial back.
    text_at renders the file at a serial (default: the inventory's zone).
    """
    if text_at is None:
        text_at = functools.partial(render.render_zone, inventory, zone)
    path = plan.layout.primary_file(zone)
    old = plan.current.get(path)
    file_serial = render.zone_serial(old)
    behind = (
        not signed
        and None not in (file_serial, served_serial)
        and dns.serial.Serial(served_serial) > dns.serial.Serial(file_serial)
    )
    if file_serial is not None and old == text_at(file_serial) and not (behind or renew):
        plan.expect_serials[zone] = file_serial
        return False
    serial = next_serial(newest_serial(file_serial, served_serial), today)
    text = text_at(serial)
    plan.changes.append(FileChange(path, old, text, "zone", plan.layout.group, zone))
    plan.expect_serials[zone] = serial
    return True


def plan_config(
    inventory: Inventory, plan: HostPlan, wants: dict[str, str], remove: dict[str, str] | None = None
) -> None:
    """The configuration changes: our stanzas, our include line, the server's listen-on.

    wants maps each zone this server should carry to its role: "primary", "secondary",
    "catalog" (the inventory's catalog zone, on its primary) or "consumer" (the catalog,
    on a secondary of its members); remove, zones whose stanzas go (their files are
    retired after the change).
    """
    layout, current = plan.layout, plan.current
    new = dict(current)
    stanzas = render.parse_managed(current.get(layout.managed_conf))
    keyring = plan.keyring
    held: list[str] = []  # keys the server holds that no stanza of its own names
    for zone, role in wants.items():
        key = inventory.tsig_key(zone)
        before = stanzas.get(zone)
        if role == "primary":
            keys, by_address = keyring.transfer_keys(key), keyring.by_addresses(key)
            signing = dnssec.zone_options(inventory, zone, layout, plan.facts.named_version)
            stanzas[zone] = render.primary_stanza(
                inventory, zone, layout, signing, transfer_keys=keys, by_address=by_address
            )
        elif role == "catalog":
            stanzas[zone] = catalog.primary_stanza(
                inventory,
                layout,
                catalog_listing(inventory, plan, wants)[0],
                transfer_keys=keyring.transfer_keys(key),
                by_address=keyring.by_addresses(key),
            )
        elif role == "consumer":
            used = keyring.primary_key(key)
            stanzas[zone] = catalog.consumer_stanza(inventory, layout, used)
            plan.consumes = (zone, inventory.servers[inventory.primary_of(zone)].address, used)
            # The members ask with the key named had when it last read the catalog: any the
            # primary accepts.
            held = keyring.transfer_keys(key)
        else:  # secondary
            used = keyring.primary_key(key)
            stanzas[zone] = render.secondary_stanza(inventory, zone, layout, primary_key=used)
        moved = before is not None and tsig.masters_line(before) != tsig.masters_line(stanzas[zone])
        if role in ("secondary", "consumer") and moved:
            # A consumer's transfer of the catalog also makes named read it again, and move
            # the members to the key of the new catalog-zones block.
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
    keys_text = plan_key_file(plan, stanzas, held)
    preamble = [tsig.include_line(layout)] if keys_text is not None else []
    policies = dnssec.policy_statements(inventory, stanzas, current.get(layout.managed_conf))
    # The ones it writes, and the ones it wrote before, which may go with their last zone.
    plan.policies = frozenset(policies) | dnssec.written_policies(current.get(layout.managed_conf))
    new[layout.managed_conf] = render.render_managed(stanzas, [*preamble, *policies.values()])
    new[layout.include_parent] = render.ensure_include(new.get(layout.include_parent), layout.managed_conf)
    if new.get(layout.options_file) is not None:
        new[layout.options_file] = render.ensure_listen_on(new[layout.options_file], plan.address)
        if plan.consumes is not None:
            block = catalog.catalog_zones_block(inventory, layout, plan.facts.named_version, plan.consumes[2])
            new[layout.options_file] = catalog.ensure_catalog_zones(
                new[layout.options_file], block, layout.options_file
            )
    for path in layout.config_files():
        if new.get(path) is not None and new[path] != current.get(path):
            group = layout.group if path == layout.managed_conf else "root"
            plan.changes.append(FileChange(path, current.get(path), new[path], "config", group))


def plan_key_file(plan: HostPlan, stanzas: dict[str, str], held: list[str]) -> str | None:
    """The server's TSIG key file (the keys its stanzas name, and held), planned as a change
    when it differs; its text, or None when the server needs no key file. Staged before
    dnsctl's configuration, which names it."""
    path = tsig.key_file(plan.layout)
    old = plan.current.get(path)
    text = tsig.key_file_text(plan.server, old, stanzas, plan.keyring, held)
    if text is not None and text != old:
        plan.changes.append(FileChange(path, old, text, "config", plan.layout.group, mode=tsig.KEY_FILE_MODE))
    return text


def catalog_listing(
    inventory: Inventory, plan: HostPlan, wants: dict[str, str]
) -> tuple[list[str], list[str]]:
    """The members the catalog lists after this run, and the zones to remove from the primary.

    The catalog lists the inventory's members that have their primary stanza on the
    host after this run. A zone the catalog listed that is no longer in the inventory
    leaves the catalog, and its stanza leaves the primary: only a zone dnsctl both
    configured and listed is ever removed.
    """
    layout = plan.layout
    stanzas = render.parse_managed(plan.current.get(layout.managed_conf))
    members = [
        zone for zone in inventory.catalog_members() if wants.get(zone) == "primary" or zone in stanzas
    ]
    assert inventory.catalog is not None
    listed = catalog.listed(plan.current.get(layout.primary_file(inventory.catalog)))
    gone = [
        zone
        for zone in listed
        if zone not in inventory.zones and "\ttype master;" in stanzas.get(zone, "") and zone not in wants
    ]
    return members, gone


def plan_signing(inventory: Inventory, plan: HostPlan, zone: str, stanza: str | None) -> tuple[bool, bool]:
    """What signing a primary zone needs on the host: whether it is signed after this run,
    and whether that turns signing on or off. stanza: the zone's in dnsctl's file as read."""
    layout = plan.layout
    before = dnssec.stanza_policy(stanza)
    after = inventory.signing_policy(zone)
    flipped = stanza is not None and bool(before) != bool(after)  # a new zone has nothing to undo
    if before or after:
        plan.inline_signed.add(zone)
    if after:
        keys = dnssec.key_directory(layout)
        if keys not in plan.directories:
            plan.directories.append(keys)
            plan.directory_modes[keys] = "0770"  # named writes keys there; nobody else reads them
    if flipped:
        # Inline signing's journal and signed copy belong to the other state: named
        # refuses to load a zone whose journal does not match its file.
        plan.set_aside += dnssec.inline_signing_files(layout.primary_file(zone))
    return after is not None, flipped


def plan_start_with_new_file(plan: HostPlan, zone: str) -> None:
    """A signed zone whose file changes while named (re)starts loses its raw journal.

    On a reload named compares the new file with the zone it holds and journals the
    difference; at start-up it replays the journal onto the file instead, and refuses
    a zone whose file no longer matches the journal's last version.
    """
    if plan.restart or not plan.facts.named_active:
        path = plan.layout.primary_file(zone)
        plan.set_aside += [f"{path}.jnl", f"{path}.jbk"]


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
    server) to remove; by default none is. A zone whose role in wants is "absent"
    (a catalog member a consumer had as its own stanza) is removed too.
    """
    layout = plan.layout
    # Parsed once for all zones: a host with many zones has a large file.
    stanzas = render.parse_managed(plan.current.get(layout.managed_conf))
    for zone, role in wants.items():
        if role == "primary":
            signed, flipped = plan_signing(inventory, plan, zone, stanzas.get(zone))
            served = served_serials.get(zone)
            changed = plan_zone_file(inventory, plan, zone, served, today, signed=signed, renew=flipped)
            if signed and changed:
                plan_start_with_new_file(plan, zone)
        elif role == "catalog":
            members = catalog_listing(inventory, plan, wants)[0]
            listing = functools.partial(catalog.render_catalog, inventory, members)
            plan_zone_file(inventory, plan, zone, served_serials.get(zone), today, text_at=listing)
        elif role in ("secondary", "consumer"):
            wanted = [layout.secondary_dir] + ([catalog.directory(layout)] if role == "consumer" else [])
            plan.directories += [path for path in wanted if path not in plan.directories]
            if role == "consumer":
                plan.relabel.append(catalog.directory(layout))
    plan.stale = stale_zones(inventory, plan)
    remove = {zone: role for zone, role in plan.stale.items() if prune is not None and prune(zone)}
    managed = managed_zones(plan.current.get(layout.managed_conf))
    remove.update(
        {zone: managed[zone].role for zone, role in wants.items() if role == "absent" and zone in managed}
    )
    if "catalog" in wants.values():
        # A zone dnsctl listed in the catalog that the inventory dropped leaves the primary too.
        remove.update({zone: "primary" for zone in catalog_listing(inventory, plan, wants)[1]})
    plan_config(inventory, plan, {zone: role for zone, role in wants.items() if role != "absent"}, remove)
    # Zone files first, then configuration: the order files are staged and moved in.
    plan.changes.sort(key=lambda change: change.kind != "zone")
    return plan
