"""Reverse zones derived from the forward data: a PTR for every A and AAAA record.

A zone's ``reverse`` networks name in-addr.arpa and ip6.arpa zones that dnsctl
builds from the zone's own addresses (its records, and the glue of its in-zone
name servers), on the zone's primary and secondaries. Each address has exactly
one PTR: two records with one address, a derived PTR beside a written record at
the same name, or two networks that overlap are refused at load, with the
fields of both sides named.

Networks are whole zones: an octet boundary for IPv4 (/8, /16, /24), a nibble
boundary for IPv6. RFC 2317 classless delegation is not done; such a network is
refused at load.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dnsctl.names import is_host_name
from dnsctl.zonedata import Report, ResolvedRecord, ZoneIndex, format_path

REVERSE_TREES = ("in-addr.arpa", "ip6.arpa")


def reverse_network(text: str) -> str:
    """A network whose reverse zone dnsctl can derive, as its canonical text."""
    if "%" in text:
        raise ValueError(f"{text!r}: scoped IPv6 addresses (with '%') are not accepted")
    if "/" not in text:
        raise ValueError(f"{text!r} is not a network: give its prefix length, e.g. 198.51.100.0/24")
    try:
        network = ipaddress.ip_network(text)
    except ValueError:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{text!r} is not an IPv4 or IPv6 network") from None
        raise ValueError(f"{text!r} has host bits set: did you mean {network.compressed}?") from None
    if network.version == 4 and network.prefixlen not in (8, 16, 24):
        raise ValueError(
            f"{network.compressed} is not on an octet boundary: a derived in-addr.arpa zone is a /8, "
            "/16 or /24 (dnsctl does not do RFC 2317 classless delegation)"
        )
    if network.version == 6 and (network.prefixlen % 4 or not 4 <= network.prefixlen <= 124):
        raise ValueError(
            f"{network.compressed} is not on a nibble boundary: a derived ip6.arpa zone's prefix "
            "length is a multiple of 4, from /4 to /124"
        )
    return network.compressed


def zone_of_network(network: str) -> str:
    """The reverse zone of a network on an octet or nibble boundary: 198.51.100.0/24 ->
    100.51.198.in-addr.arpa."""
    parsed = ipaddress.ip_network(network)
    if parsed.version == 4:
        labels = str(parsed.network_address).split(".")[: parsed.prefixlen // 8]
        return ".".join([*reversed(labels), "in-addr.arpa"])
    nibbles = parsed.network_address.packed.hex()[: parsed.prefixlen // 4]
    return ".".join([*reversed(nibbles), "ip6.arpa"])


def ptr_owner(address: str) -> str:
    """The PTR owner of a canonical A or AAAA value (string work: large zones load fast)."""
    if ":" not in address:
        return ".".join([*reversed(address.split(".")), "in-addr.arpa"])
    return ".".join([*reversed(socket.inet_pton(socket.AF_INET6, address).hex()), "ip6.arpa"])


@dataclass(frozen=True)
class Address:
    """An address a forward zone serves: the PTR derived from it points back at owner."""

    owner: str
    address: str
    ttl: int | None
    path: tuple[Any, ...]  # the field it comes from: a record's value, or a server's address


@dataclass(frozen=True)
class ZoneServers:
    """Where a zone lives; its secondaries' order only orders its NS set."""

    primary: str
    secondaries: tuple[str, ...]

    def same(self, other: ZoneServers) -> bool:
        return self.primary == other.primary and set(self.secondaries) == set(other.secondaries)

    def __str__(self) -> str:
        return f"primary {self.primary}, secondaries {', '.join(self.secondaries) or 'none'}"


@dataclass(frozen=True)
class Forward:
    """A zone with reverse networks: what its reverse zones are made of."""

    name: str
    networks: Sequence[str]
    servers: ZoneServers
    addresses: Sequence[Address]


@dataclass(frozen=True)
class Written:
    """A zone the inventory lists: a derived zone of the same name adds its PTRs to it."""

    servers: ZoneServers
    index: ZoneIndex


@dataclass
class Derived:
    """A reverse zone and where its PTRs come from."""

    name: str
    servers: ZoneServers
    listed: bool  # the inventory lists the zone too: the PTRs are added to its records
    forwards: list[str] = field(default_factory=list)  # the zones deriving it; the first gives its settings
    records: list[ResolvedRecord] = field(default_factory=list)
    sources: list[tuple[Any, ...]] = field(default_factory=list)  # each record's address field


def derive(forwards: Sequence[Forward], written: dict[str, Written], report: Report) -> dict[str, Derived]:
    """The reverse zones of every forward zone's networks, with their PTRs, sorted by address.

    Every conflict is reported at the field that brings it in, naming the other side.
    """
    derived, prefixes_of = _reverse_zones(forwards, written, report)
    explicit_at = _written_owners(written)
    claimed: dict[str, Address] = {}
    keyed: dict[str, list[tuple[bytes, ResolvedRecord, tuple[Any, ...]]]] = {}
    for forward in forwards:
        prefixes = prefixes_of[forward.name]
        for address in forward.addresses:
            family = socket.AF_INET6 if ":" in address.address else socket.AF_INET
            packed = socket.inet_pton(family, address.address)
            hexadecimal = packed.hex()
            zone = None
            for (length, digits), zones in prefixes.items():
                if length == len(packed) and (zone := zones.get(hexadecimal[:digits])):
                    break
            # A wildcard (or BIND's _spf and gc._msdcs exceptions) names no single host to point at.
            if zone is None or not is_host_name(address.owner):
                continue
            owner = ptr_owner(address.address)
            problem = _address_problem(owner, address, claimed, explicit_at, written.get(zone))
            if problem:
                report(address.path, problem)
                continue
            claimed[owner] = address
            record = ResolvedRecord(owner, "PTR", f"{address.owner}.", address.ttl)
            keyed.setdefault(zone, []).append((packed, record, address.path))
    for zone, entries in keyed.items():
        entries.sort(key=lambda entry: entry[0])
        derived[zone].records = [record for _, record, _ in entries]
        derived[zone].sources = [source for _, _, source in entries]
    return derived


# (address length in octets, prefix length in hex digits) -> the prefix in hex -> its reverse zone
Prefixes = dict[tuple[int, int], dict[str, str]]


def _reverse_zones(
    forwards: Sequence[Forward], written: dict[str, Written], report: Report
) -> tuple[dict[str, Derived], dict[str, Prefixes]]:
    """The reverse zone of each network, and each forward zone's networks as prefixes to look up."""
    derived: dict[str, Derived] = {}
    prefixes_of: dict[str, Prefixes] = {}
    seen: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[Any, ...]] = {}
    for forward in forwards:
        prefixes = prefixes_of[forward.name] = {}
        for index, text in enumerate(forward.networks):
            where = ("zones", forward.name, "reverse", index)
            network = ipaddress.ip_network(text)
            problem = _overlap(network, where, seen)
            if problem:
                report(where, problem)
                continue
            seen.setdefault(network, where)
            zone = zone_of_network(text)
            problem = _servers_problem(zone, forward, derived.get(zone), written.get(zone))
            if problem:
                report(where, problem)
                continue
            if zone not in derived:
                derived[zone] = Derived(zone, forward.servers, listed=zone in written)
            derived[zone].forwards.append(forward.name)
            digits = network.prefixlen // 4
            shape = (network.max_prefixlen // 8, digits)
            prefixes.setdefault(shape, {})[network.network_address.packed.hex()[:digits]] = zone
    return derived, prefixes_of


def _overlap(
    network: ipaddress.IPv4Network | ipaddress.IPv6Network,
    where: tuple[Any, ...],
    seen: dict[ipaddress.IPv4Network | ipaddress.IPv6Network, tuple[Any, ...]],
) -> str | None:
    """Two zones may derive the same network; no network may overlap another."""
    for other, other_where in seen.items():
        if other.version != network.version or not other.overlaps(network):
            continue
        if other != network:
            return (
                f"{network.compressed} overlaps {format_path(other_where)} ({other.compressed}): "
                "an address has its PTR in one reverse zone"
            )
        if other_where[1] == where[1]:
            return f"{network.compressed} listed twice (also {format_path(other_where)})"
    return None


def _servers_problem(
    zone: str, forward: Forward, shared: Derived | None, listed: Written | None
) -> str | None:
    """A reverse zone lives on its forward zone's primary and secondaries, whoever else feeds it."""
    if shared is not None and not shared.servers.same(forward.servers):
        return (
            f"its reverse zone {zone} is also derived from zone {shared.forwards[0]}, on other servers "
            f"({shared.servers}; this zone: {forward.servers}): a zone has one primary and one set "
            "of secondaries"
        )
    if listed is not None and not listed.servers.same(forward.servers):
        return (
            f"its reverse zone {zone} is also listed as {format_path(('zones', zone))}, on other servers "
            f"({listed.servers}; this zone: {forward.servers}): the derived PTRs are added to it, so it "
            "must have this zone's primary and secondaries"
        )
    return None


def _written_owners(written: dict[str, Written]) -> dict[str, tuple[str, int, str]]:
    """The names that hold records in reverse zones the inventory lists: name -> (zone, record, types)."""
    owners: dict[str, tuple[str, int, str]] = {}
    for zone, listed in written.items():
        if not zone.endswith(REVERSE_TREES):
            continue
        index = listed.index
        for owner, first in index.first_at.items():
            owners.setdefault(owner, (zone, first, "/".join(sorted(index.types_at[owner]))))
    return owners


def _address_problem(
    owner: str,
    address: Address,
    claimed: dict[str, Address],
    explicit_at: dict[str, tuple[str, int, str]],
    listed: Written | None,
) -> str | None:
    other = claimed.get(owner)
    if other is not None:
        return (
            f"{address.address} is also the address of {other.owner}. ({format_path(other.path)}), "
            f"and an address has one PTR ({owner}.): make one of the names a CNAME of the other"
        )
    if owner in explicit_at:
        zone, index, types = explicit_at[owner]
        return (
            f"the PTR derived for {address.address} ({owner}.) clashes with the {types} record "
            f"{format_path(('zones', zone, 'records', index))} at the same name: remove one of them"
        )
    point = listed.index.delegation_above(owner) if listed is not None else None
    if point is not None:
        return (
            f"the PTR derived for {address.address} ({owner}.) is below the delegation {point}. in "
            f"{listed.index.name} (listed in the inventory), where named answers with a referral"
        )
    return None
