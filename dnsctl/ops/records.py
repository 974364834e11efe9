"""record add | del | list: edit one zone's records in the inventory file, then apply that zone.

The inventory is the desired state, so a record change is an inventory change
followed by the same convergence as init-primary and add-slave: the primary gets
the new zone file (validated, backed up, rolled back on failure), every secondary
is waited for until it serves the new serial. The reverse zones derived from the
zone (its ``reverse`` networks) are converged with it, in the same run, so their
PTRs follow its A and AAAA records. The file is rewritten (atomically,
comments and formatting kept) only after the servers took the change, so a failed
run leaves it exactly as it was.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import tomli

from dnsctl import inventory_edit
from dnsctl.errors import InventoryError, PreconditionError, UsageError
from dnsctl.models import Inventory, ResolvedRecord, format_path, parse_inventory
from dnsctl.ops.catalog import finish_consumers
from dnsctl.ops.converge import converge
from dnsctl.ops.inventory import desired_state
from dnsctl.ops.servers import verify_primary
from dnsctl.ops.session import Session


def record_add(
    session: Session,
    zone: str,
    name: str,
    rdtype: str,
    value: str,
    ttl: int | None = None,
    wait: bool = True,
) -> None:
    inventory_path = _inventory_path(session)
    zone = session.inventory.zone_name(zone)
    _refuse_generated(session.inventory, zone)
    entry = {"name": name, "type": rdtype.upper(), "value": value, "ttl": ttl}
    wanted = _resolve(session.inventory, zone, entry)
    with _locked(inventory_path) as text:
        existing = [record for record in session.inventory.records(zone) if _same(record, wanted)]
        if existing and existing[0].ttl != wanted.ttl:
            raise UsageError(
                f"{zone} already has {_shown(existing[0])}; `dnsctl record del` it first to change its TTL"
            )
        if existing:
            session.report.add("inventory", f"{zone}: {_shown(wanted)}", "skip", detail="already there")
            new_text = None
        else:
            new_text = inventory_edit.add_record(text, zone, entry)
            added_at = len(session.inventory.zones[zone].records)
            session.inventory = _parse_added(new_text, inventory_path, zone, added_at)
            session.report.add("inventory", f"{zone}: add {_shown(wanted)}", "plan")
        _apply_zone(session, zone, wait)
        if new_text is not None and not session.options.dry_run:
            inventory_edit.write_atomically(inventory_path, new_text)
            session.report.add("inventory", f"wrote {inventory_path}")


def record_del(
    session: Session,
    zone: str,
    name: str,
    rdtype: str,
    value: str | None = None,
    wait: bool = True,
) -> None:
    """Remove the zone's records at NAME of TYPE (only the one with VALUE, when given)."""
    inventory_path = _inventory_path(session)
    zone = session.inventory.zone_name(zone)
    probe = {"name": name, "type": rdtype.upper(), "value": value or _placeholder(rdtype), "ttl": None}
    wanted = _resolve(session.inventory, zone, probe)
    with _locked(inventory_path) as text:
        indexes = {
            index
            for index, record in enumerate(session.inventory.records(zone))
            if record.owner == wanted.owner
            and record.type == wanted.type
            and (value is None or record.value == wanted.value)
        }
        if not indexes:
            what = f"{wanted.owner}. {wanted.type}" + (f" {wanted.value}" if value is not None else "")
            raise UsageError(f"{zone} has no record {what} in the inventory")
        _refuse_derived(session.inventory, zone, indexes)
        new_text = inventory_edit.remove_records(text, zone, indexes)
        records = session.inventory.records(zone)
        session.inventory = _parse(new_text, inventory_path)
        for index in sorted(indexes):
            session.report.add("inventory", f"{zone}: delete {_shown(records[index])}", "plan")
        _apply_zone(session, zone, wait)
        if not session.options.dry_run:
            inventory_edit.write_atomically(inventory_path, new_text)
            session.report.add("inventory", f"wrote {inventory_path}")


def record_list(session: Session, zone: str) -> None:
    inventory = session.inventory
    zone = inventory.zone_name(zone)
    listed = []
    for index, record in enumerate(inventory.records(zone)):
        source = inventory.derived_source(zone, index)
        derived_from = format_path(source) if source is not None else None
        shown_source = f"derived from {derived_from}" if derived_from else ""
        session.report.add(zone, _shown(record), "ok", detail=shown_source)
        listed.append(
            {
                "name": record.owner,
                "type": record.type,
                "value": record.value,
                "ttl": record.ttl,
                "derived_from": derived_from,
            }
        )
    session.report.data["records"] = listed


def _apply_zone(session: Session, zone: str, wait: bool) -> None:
    """Converge the zone and the reverse zones derived from it (same servers) in one run. With
    wait, each secondary's transfer of each new serial is part of the change: one that does
    not come rolls it back (exit 5), so the servers never disagree with the inventory file,
    which is then left as it was."""
    inventory = session.inventory
    spec = inventory.zones[zone]
    zones = [zone, *inventory.reverse_zones(zone)]
    # A catalog member reaches its secondaries through the catalog: they consume it.
    wants = desired_state(inventory, zones)
    stages = [[spec.primary], list(spec.secondaries)] if spec.secondaries else [[spec.primary]]
    plans = converge(session, wants, stages, follow_secondaries=wait)
    if session.options.dry_run:
        return
    primary = plans[spec.primary]
    changed = {change.zone for change in primary.changes}
    for name in zones:
        if name == zone or name in changed:
            verify_primary(session, name, primary)
    members = [name for name in zones if name in inventory.catalog_members()]
    consumers = [server for server in inventory.catalog_consumers() if server in plans]
    if wait and members and consumers:
        finish_consumers(session, plans, consumers, members, migrate=False)


def _refuse_generated(inventory: Inventory, zone: str) -> None:
    """A zone the file does not list has no records table to edit: its PTRs come from elsewhere."""
    if inventory.is_generated(zone):
        raise UsageError(
            f"{zone} is derived from the A and AAAA records of {', '.join(inventory.derived_from(zone))}: "
            f"change those, or list {zone} in the inventory to give it records of its own"
        )


def _refuse_derived(inventory: Inventory, zone: str, indexes: set[int]) -> None:
    for index in sorted(indexes):
        source = inventory.derived_source(zone, index)
        if source is not None:
            record = inventory.records(zone)[index]
            raise UsageError(
                f"{_shown(record)} is derived from {format_path(source)}: "
                "delete or change that record instead"
            )


def _inventory_path(session: Session) -> Path:
    if session.inventory_path is None:
        raise UsageError("no inventory file to edit")
    return session.inventory_path


def _resolve(inventory: Inventory, zone: str, entry: dict) -> ResolvedRecord:
    """The record as the inventory would hold it (absolute owner, canonical value), or a usage
    error naming the argument that is wrong."""
    spec = inventory.zones[zone]
    records = [{key: value for key, value in entry.items() if value is not None}]
    if entry["type"] == "DS":
        # A DS needs a delegation at its name: this one stands in for it here, and
        # _parse_added finds out whether the zone has one.
        records.append({"name": entry["name"], "type": "NS", "value": "."})
    raw = {
        "servers": {spec.primary: {"address": inventory.servers[spec.primary].address}},
        "zones": {zone: {"primary": spec.primary, "records": records}},
    }
    try:
        return parse_inventory(raw, source="record").records(zone)[0]
    except InventoryError as exc:
        message = str(exc).splitlines()[0].removeprefix(f'record: zones."{zone}".records[0].')
        raise UsageError(message) from None


def _placeholder(rdtype: str) -> str:
    """A valid value of the type, when del matches by name and type only."""
    return {
        "A": "192.0.2.1",
        "AAAA": "2001:db8::1",
        "MX": "0 .",
        "TXT": "x",
        "SRV": "0 0 0 .",
        "CAA": '0 issue ";"',
        "SSHFP": "0 0 00",
        "TLSA": "0 0 0 00",
        "DS": "0 0 9 00",
    }.get(rdtype.upper(), "invalid.")


def _same(a: ResolvedRecord, b: ResolvedRecord) -> bool:
    return (a.owner, a.type, a.value) == (b.owner, b.type, b.value)


def _shown(record: ResolvedRecord) -> str:
    ttl = f" {record.ttl}" if record.ttl is not None else ""
    return f"{record.owner}.{ttl} {record.type} {record.value}"


def _parse(text: str, path: Path) -> Inventory:
    return parse_inventory(tomli.loads(text), source=str(path))


def _parse_added(text: str, path: Path, zone: str, index: int) -> Inventory:
    """The inventory with a record added at index. What only the whole zone shows (a DS
    where the zone has no delegation, a CNAME beside other data) is refused naming the
    argument, as _resolve does, when every problem is the new record's."""
    try:
        return _parse(text, path)
    except InventoryError as exc:
        prefix = f"{path}: {format_path(('zones', zone, 'records', index))}."
        if exc.problems and all(line.startswith(prefix) for line in exc.problems):
            raise UsageError(exc.problems[0].removeprefix(prefix)) from None
        raise


@contextmanager
def _locked(path: Path) -> Iterator[str]:
    """The inventory's text, held against a concurrent record change until the block ends."""
    try:
        handle = path.open("r+", encoding="utf-8")
    except OSError as exc:
        raise InventoryError(f"{path}: cannot open the inventory for writing: {exc.strerror}") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PreconditionError(f"{path}: another dnsctl run is changing this inventory") from None
        yield handle.read()
