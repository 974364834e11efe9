"""Each zone against the servers: who carries it, its SOA contact, its records and their
targets; then the reverse zones derived from the zones' addresses (their glue included)."""

from __future__ import annotations

from typing import Any

from dnsctl.models.problems import Problems
from dnsctl.models.schema import Inventory, Zone
from dnsctl.names import HOST_NAME_RULE, is_host_name
from dnsctl.reverse import Address, Forward, Written, ZoneServers, derive
from dnsctl.zonedata import ZoneIndex, ZoneServer, check_targets, check_zone


def check_zones(
    inventory: Inventory,
    problems: Problems,
    record_indexes: dict[str, list[int]],
    unchecked: set[tuple[str, ...]],
) -> None:
    def known_server(name: str) -> bool:
        return name in inventory.servers or ("servers", name) in unchecked or ("servers",) in unchecked

    # Each server's NS name once: nameserver() looks through every zone, so asking it per
    # zone made loading an inventory of thousands of zones take seconds.
    carried = {name for zone in inventory.zones.values() for name in (zone.primary, *zone.secondaries)}
    ns_names = {name: inventory.nameserver(name) for name in inventory.servers if name in carried}
    indexes: dict[str, ZoneIndex] = {}
    for zone_name, zone in inventory.zones.items():
        where = ("zones", zone_name)
        if not known_server(zone.primary):
            problems.add((*where, "primary"), f"unknown server {zone.primary!r}")
        seen: set[str] = set()
        for index, secondary in enumerate(zone.secondaries):
            if not known_server(secondary):
                problems.add((*where, "secondaries", index), f"unknown server {secondary!r}")
            elif secondary == zone.primary:
                problems.add((*where, "secondaries", index), f"{secondary!r} is already the zone's primary")
            elif secondary in seen:
                problems.add((*where, "secondaries", index), f"{secondary!r} listed twice")
            seen.add(secondary)
        if zone.contact is None and (len(zone_name) > 242 or not is_host_name(zone_name)):
            problems.add(
                where,
                f"the default SOA contact hostmaster.{zone_name} is not a mailbox BIND accepts "
                f"(the zone name must be a host name of at most 242 characters: {HOST_NAME_RULE}): "
                "set contact",
            )
        positions = record_indexes.get(zone_name, range(len(zone.records)))
        servers = [
            ZoneServer(name, ns_names[name], inventory.servers[name].address, path)
            for name, path in _server_fields(zone_name, zone)
            if name in inventory.servers
        ]
        indexes[zone_name] = check_zone(zone_name, zone.records, positions, zone.ttl, servers, problems.add)
        inventory._resolved[zone_name] = indexes[zone_name].resolved
    check_targets(indexes, ns_names, problems.add)
    _add_reverse_zones(inventory, indexes, ns_names, problems)


def _add_reverse_zones(
    inventory: Inventory, indexes: dict[str, ZoneIndex], ns_names: dict[str, str], problems: Problems
) -> None:
    """Derive the zones' reverse zones and add them to the inventory as ordinary zones.

    A derived PTR is one of its zone's records() but never in Zone.records, which
    holds what the file says. A reverse zone the file also lists keeps its settings
    and its own records, the derived PTRs after them; one it does not list takes its
    settings from the first zone deriving it.
    """
    forwards = [
        Forward(name, zone.reverse, _zone_servers(zone), _addresses(inventory, name, indexes[name], ns_names))
        for name, zone in inventory.zones.items()
        if zone.reverse and name in indexes
    ]
    if not forwards:
        return
    written = {name: Written(_zone_servers(zone), indexes[name]) for name, zone in inventory.zones.items()}
    for name, derived in derive(forwards, written, problems.add).items():
        if derived.listed:
            inventory._resolved[name] = [*inventory._resolved[name], *derived.records]
        else:
            first = inventory.zones[derived.forwards[0]]
            inventory.zones[name] = Zone.model_construct(
                primary=first.primary,
                secondaries=list(first.secondaries),
                ttl=first.ttl,
                allow_query=list(first.allow_query),
                contact=first.contact or f"hostmaster.{derived.forwards[0]}",
                # Its transfers are signed as its zone's are, with the same key.
                tsig=inventory.tsig_key(derived.forwards[0]) or False,
                in_catalog=first.in_catalog,  # and in or out of the catalog with it
            )
            inventory._resolved[name] = derived.records
        inventory._derived[name] = derived


def _zone_servers(zone: Zone) -> ZoneServers:
    return ZoneServers(zone.primary, tuple(zone.secondaries))


def _addresses(
    inventory: Inventory, zone_name: str, index: ZoneIndex, ns_names: dict[str, str]
) -> list[Address]:
    """The zone's A and AAAA data as served: the glue dnsctl adds for its name servers, then
    its records."""
    zone = inventory.zones[zone_name]
    addresses = [
        Address(ns_name, address, None, ("servers", server, "address"))
        for server in dict.fromkeys((zone.primary, *zone.secondaries))
        if server in inventory.servers
        and (ns_name := ns_names[server]) in index.glue
        and index.glue[ns_name] == (address := inventory.servers[server].address)
        and not index.has_address_record(ns_name)
    ]
    addresses += [
        Address(record.owner, record.value, record.ttl, ("zones", zone_name, "records", position, "value"))
        for record, position in zip(index.resolved, index.positions, strict=True)
        if record.type in ("A", "AAAA")
    ]
    return addresses


def _server_fields(zone_name: str, zone: Zone) -> list[tuple[str, tuple[Any, ...]]]:
    """The zone's servers, each with the field that names it first."""
    fields: dict[str, tuple[Any, ...]] = {zone.primary: ("zones", zone_name, "primary")}
    for i, name in enumerate(zone.secondaries):
        fields.setdefault(name, ("zones", zone_name, "secondaries", i))
    return list(fields.items())
