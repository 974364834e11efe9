"""A zone's records as named will load them, checked at inventory load.

Every problem is reported (to a callback, at the field's path), none is raised,
so the administrator sees all of them at once. What passes here, rendered by
render.py, is loaded by named-checkzone and named without an error: BIND's
check-names, its integrity checks on NS targets, CNAME beside other data, the
size of an RRset; and what named would load but not serve as written (data
below a delegation, an RRset with two TTLs, duplicates that differ only in case,
MX and SRV records pointing at aliases or at nothing, DS records anywhere but at
a delegation) is refused too.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dns.ipv6

from dnsctl.names import (
    HOST_NAME_RULE,
    a_label_name,
    ancestors,
    dns_name_text,
    in_zone,
    is_host_name,
    looks_like_address,
    owner_passes_check_names,
    target_needs_host_name,
)
from dnsctl.security_records import TYPES as SECURITY_TYPES
from dnsctl.security_records import security_value

if TYPE_CHECKING:
    from dnsctl.models import Record

Report = Callable[[tuple[Any, ...], str], None]

# BIND keeps an RRset in one slab of at most 65512 octets, counting each record's
# data plus 2 octets, or 8 on builds with fixed RRset order: the larger holds everywhere.
RRSET_OCTETS = 65512
_PER_RECORD_OCTETS = 8

# Everything a non-TXT record value may contain: names, numbers, addresses.
# Zone-file syntax characters (; ( ) " $ @ \) are excluded so a value can never
# smuggle a comment, a directive or a second record into the rendered zone.
_SAFE_VALUE = re.compile(r"[A-Za-z0-9._:*\- ]+")
_UINT16 = re.compile(r"[0-9]{1,5}")
_TXT_TEXT = re.compile(r"[^\x00-\x1f\x7f]+")

# type -> (how many numbers come before the name, what the value looks like)
_NAME_VALUES: dict[str, tuple[int, str]] = {
    "CNAME": (0, "a name"),
    "NS": (0, "a name server's name"),
    "PTR": (0, "a name"),
    "MX": (1, 'a preference (0-65535) and a mail server\'s name, e.g. "10 mail"'),
    "SRV": (3, 'priority, weight and port (0-65535) and a target name, e.g. "10 5 5060 sip"'),
}


@dataclass(frozen=True)
class ResolvedRecord:
    """A validated record: absolute owner (lower case, no final dot) and canonical value.

    The value is presentation text with absolute names, as dnspython shows an answer,
    so verification compares strings and rendering writes them as they are.
    """

    owner: str
    type: str
    value: str
    ttl: int | None


@dataclass(frozen=True)
class ZoneServer:
    """One of the zone's own servers, as the zone's NS set and glue will show it."""

    server: str
    ns_name: str
    address: str
    path: tuple[Any, ...]  # its field in the inventory: the zone's primary or secondaries[i]


@dataclass(slots=True)
class _RRset:
    first: int  # index of its first record in the zone's records; -1 for the zone's own NS set
    ttl: int
    octets: int = 0


@dataclass
class ZoneIndex:
    """What the checks across zones need to know of one zone's records."""

    name: str
    resolved: list[ResolvedRecord]
    positions: list[int]  # each resolved record's index in the zone's records in the file
    types_at: dict[str, set[str]]
    first_at: dict[str, int]
    delegations: set[str]
    glue: dict[str, str]  # in-zone NS name of one of the zone's servers -> its address
    targets: list[tuple[int, str, str]]  # (record index, type, target) of NS, MX and SRV records

    def delegation_above(self, name: str) -> str | None:
        """The delegation point at or above name, inside this zone (never its apex)."""
        if not self.delegations:
            return None
        if name in self.delegations:
            return name
        return next((point for point in ancestors(name, self.name) if point in self.delegations), None)

    def has_address(self, name: str) -> bool:
        return name in self.glue or self.has_address_record(name)

    def has_address_record(self, name: str) -> bool:
        return bool(self.types_at.get(name, set()) & {"A", "AAAA"})


def check_zone(
    zone_name: str,
    records: Sequence[Record],
    positions: Iterable[int],
    default_ttl: int,
    servers: list[ZoneServer],
    report: Report,
) -> ZoneIndex:
    """Check a zone's records (positions: their indexes in the file); return what they hold."""
    types_at: dict[str, set[str]] = {zone_name: {"SOA", "NS"}}
    first_at: dict[str, int] = {}
    rrsets: dict[tuple[str, str], _RRset] = {(zone_name, "NS"): _RRset(-1, default_ttl)}
    seen: dict[tuple[str, str, str], int] = {}
    resolved: list[ResolvedRecord] = []
    resolved_at: list[int] = []
    targets: list[tuple[int, str, str]] = []
    ds_owners: list[tuple[str, int]] = []  # each DS record set's owner and first record
    zone_is_host_name = is_host_name(zone_name)
    for record, index in zip(records, positions, strict=True):
        path = ("zones", zone_name, "records", index)
        rtype = record.type
        # Most owners of a large zone are one lower-case host label: already canonical, in
        # the zone, and a host name when the zone's name is (a third of the load time).
        plain = _PLAIN_LABEL.fullmatch(record.name) is not None and len(record.name) + len(zone_name) < 253
        try:
            owner = f"{record.name}.{zone_name}" if plain else record_owner(record.name, zone_name)
        except ValueError as exc:
            report((*path, "name"), str(exc))
            owner = None
        try:
            value, target, octets = record_value(rtype, record.value, zone_name)
        except ValueError as exc:
            report((*path, "value"), str(exc))
            continue
        if owner is None:
            continue
        host_owner_no_target = plain and zone_is_host_name and target is None
        problem = None if host_owner_no_target else _name_problem(rtype, owner, target)
        if problem:
            report((*path, problem[0]), problem[1])
            continue
        key = (owner, rtype, value if target is None else value.lower())
        if key in seen:
            report(path, f"duplicate record: the same as {_path(seen[key])} (DNS names ignore case)")
            continue
        seen[key] = index
        ttl = default_ttl if record.ttl is None else record.ttl
        rrset = rrsets.get((owner, rtype))
        if rrset is None:
            types = types_at.setdefault(owner, set())
            if (rtype == "CNAME" and types) or "CNAME" in types:
                report((*path, "name"), f"CNAME at {owner}. cannot stand beside other data at the same name")
                continue
            types.add(rtype)
            first_at.setdefault(owner, index)
            rrset = rrsets[(owner, rtype)] = _RRset(index, ttl)
            if rtype == "DS":
                ds_owners.append((owner, index))
        elif ttl != rrset.ttl:
            given = f"TTL {ttl}" if record.ttl is not None else f"no ttl (so the zone's {ttl})"
            first = "the zone's name servers" if rrset.first < 0 else _path(rrset.first)
            report(
                (*path, "ttl"),
                f"{given} differs from the TTL {rrset.ttl} of {first}: "
                f"all {owner}. {rtype} records share one TTL",
            )
        before, rrset.octets = rrset.octets, rrset.octets + octets + _PER_RECORD_OCTETS
        if before <= RRSET_OCTETS < rrset.octets:
            report(
                (*path, "value"),
                f"the {owner}. {rtype} records add up to more than the {RRSET_OCTETS} octets "
                "BIND holds for one name and type",
            )
        if target is not None and rtype in ("NS", "MX", "SRV") and target != ".":
            targets.append((index, rtype, target[:-1].lower()))
        resolved.append(ResolvedRecord(owner, rtype, value, record.ttl))
        resolved_at.append(index)

    delegations = {owner for owner, types in types_at.items() if "NS" in types and owner != zone_name}
    glue: dict[str, str] = {}
    for server in servers:
        if in_zone(server.ns_name, zone_name):
            glue.setdefault(server.ns_name, server.address)
    zone = ZoneIndex(zone_name, resolved, resolved_at, types_at, first_at, delegations, glue, targets)
    _check_zone_servers(zone, servers, report)
    if delegations:
        _check_delegations(zone, rrsets, report)
    _check_ds_owners(zone, ds_owners, report)
    return zone


def _name_problem(rtype: str, owner: str, target: str | None) -> tuple[str, str] | None:
    """What BIND's check-names (and its NS rules) say about a record's names: (field, message)."""
    if not owner_passes_check_names(owner, rtype):
        return "name", (
            f"{owner}. is not a host name ({HOST_NAME_RULE}), "
            f"which BIND requires as the owner of {rtype} records"
        )
    if rtype == "NS" and owner.startswith("*"):
        return "name", "an NS record cannot have a wildcard owner"
    if target is None or target == "." or not target_needs_host_name(rtype, owner):
        return None
    if not is_host_name(target[:-1].lower()):
        return (
            "value",
            f"{target} is not a host name ({HOST_NAME_RULE}), which BIND requires in {rtype} records",
        )
    if rtype in ("NS", "MX") and looks_like_address(target[:-1]):
        return "value", f"{target} is an address; an {rtype} record names a host"
    return None


def _check_zone_servers(zone: ZoneIndex, servers: list[ZoneServer], report: Report) -> None:
    """The zone's own servers: distinct NS names, not aliases, and their addresses as published."""
    named: dict[str, str] = {}
    for server in servers:
        other = named.setdefault(server.ns_name, server.server)
        if other != server.server:
            report(server.path, f"{server.server!r} has the same NS name {server.ns_name} as {other!r}")
            continue
        first = zone.first_at.get(server.ns_name)
        if first is None:
            continue
        types = zone.types_at[server.ns_name]
        where = ("zones", zone.name, "records", first, "name")
        if "CNAME" in types:
            report(where, f"{server.ns_name}. is the name server {server.server!r} and cannot be a CNAME")
            continue
        rtype = "AAAA" if ":" in server.address else "A"
        published = {r.value for r in zone.resolved if r.owner == server.ns_name and r.type == rtype}
        if types & {"A", "AAAA"} and server.address not in published:
            report(
                where,
                f"{server.ns_name}. is the name server {server.server!r} at {server.address}: "
                f"its {rtype} records here must include that address",
            )


def _check_delegations(zone: ZoneIndex, rrsets: dict[tuple[str, str], _RRset], report: Report) -> None:
    """At and below a delegation named answers with a referral: only NS there, and glue."""
    glue_names = set(zone.glue) | {target for _, rtype, target in zone.targets if rtype == "NS"}
    for (owner, rtype), rrset in rrsets.items():
        point = zone.delegation_above(owner)
        if point is None or (owner == point and rtype in ("NS", "DS")):
            continue
        if rtype in ("A", "AAAA") and owner in glue_names:
            continue
        where = "at" if owner == point else "below"
        report(
            ("zones", zone.name, "records", rrset.first, "name"),
            f"{owner}. {rtype} is {where} the delegation {point}. ({_path(zone.first_at[point])}), "
            "where named answers with a referral: only NS records and name servers' addresses go there"
            + (" (and DS records at the delegation itself)" if rtype == "DS" else ""),
        )


def _check_ds_owners(zone: ZoneIndex, ds_owners: list[tuple[str, int]], report: Report) -> None:
    """A DS record is the parent's word on a child zone's key: it goes at a delegation (RFC 4035 2.4)."""
    for owner, first in ds_owners:
        if owner in zone.delegations:
            continue
        where = ("zones", zone.name, "records", first, "name")
        if owner == zone.name:
            report(
                where,
                f"a DS record at the apex of {zone.name} belongs in its parent zone: "
                "DS records go only at a delegation (a name with NS records in this zone)",
            )
        elif zone.delegation_above(owner) is None:  # below a delegation, _check_delegations says so
            report(
                where,
                f"{owner}. has no NS records in this zone: DS records go only at a delegation "
                "(a name with NS records in this zone, not the apex)",
            )


def check_targets(zones: dict[str, ZoneIndex], ns_names: dict[str, str], report: Report) -> None:
    """The names NS, MX and SRV records point at, wherever the inventory holds their zone.

    An in-zone NS target without an address, or one that is a CNAME, makes named
    refuse the zone (at the apex) or publish a broken delegation; MX and SRV
    targets must have addresses too (RFC 2181 10.3), which named only warns about.
    ns_names: each server's NS name, checked in the zone that holds it.
    """

    def deepest_zone(name: str) -> ZoneIndex | None:
        return next((zones[c] for c in (name, *ancestors(name)) if c in zones), None)

    for zone_name, zone in zones.items():
        for index, rtype, target in zone.targets:
            own = in_zone(target, zone_name)
            holder = zone if own else deepest_zone(target)
            problem = holder and _target_problem(holder, rtype, target, strict_glue=own and rtype == "NS")
            if problem:
                report(("zones", zone_name, "records", index, "value"), problem)
    for server, ns_name in ns_names.items():
        holder = deepest_zone(ns_name)
        if holder is None or ns_name in holder.glue:
            continue
        problem = _target_problem(holder, "NS", ns_name, strict_glue=False)
        if problem:
            report(("servers", server), f"its NS name: {problem}")


def _target_problem(holder: ZoneIndex, rtype: str, target: str, *, strict_glue: bool) -> str | None:
    """Why target, in holder's zone, cannot be what an rtype record points at; None if it can.

    strict_glue: an NS target in the record's own zone needs its address right there
    (glue), even below a delegation; named refuses the zone otherwise (at the apex).
    """
    types = holder.types_at.get(target, set())
    if "CNAME" in types:
        return f"{target}. is a CNAME; {rtype} records must point at a name with A or AAAA records"
    if holder.has_address(target):
        return None
    if not strict_glue:
        if holder.delegation_above(target) is not None:
            return None  # the child zone's servers answer for it
        if rtype != "NS" and not types and any(holder.has_address(f"*.{name}") for name in ancestors(target)):
            return None  # a wildcard answers for it
    return f"{target}. has no A or AAAA record in zone {holder.name}"


def _path(index: int) -> str:
    """Another record of the same zone, as a message names it."""
    return f"records[{index}]"


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('zones', 'ex;ample', 'records', 2, 'value') -> zones."ex;ample".records[2].value"""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            text += f".{part}" if text else str(part)
        else:  # as TOML would quote it, control characters escaped: the line stays one line
            quoted = json.dumps(str(part), ensure_ascii=False)
            text += f".{quoted}" if text else quoted
    return text or "(top level)"


# --- one record ---------------------------------------------------------------------


_PLAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def record_owner(name: str, zone: str) -> str:
    """The absolute owner name of a record name ("@", relative, or absolute with a dot)."""
    if name == "@":
        return zone
    ascii_name = a_label_name(name)
    owner = dns_name_text(
        ascii_name if ascii_name.endswith(".") else f"{ascii_name}.{zone}", allow_wildcard=True
    )
    if not in_zone(owner, zone):
        raise ValueError(f"{name!r} is outside the zone {zone}")
    return owner


def record_value(rtype: str, text: str, zone: str) -> tuple[str, str | None, int]:
    """Parse a value as named will: its canonical text, the name in it, and its size on the wire."""
    if rtype == "A":
        try:  # the C parser: ten times faster than ipaddress on large zones
            return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text)), None, 4
        except OSError:
            raise ValueError(f"{text!r} is not an IPv4 address") from None
    if rtype == "TXT":
        if not _TXT_TEXT.fullmatch(text):
            raise ValueError("TXT text must be non-empty, without control characters")
        size = len(text.encode("utf-8"))
        return txt_presentation(text), None, size + -(-size // 255)
    if rtype in SECURITY_TYPES:
        value, octets = security_value(rtype, text)
        return value, None, octets
    if rtype in _NAME_VALUES and not text.isascii():
        *numbers, name = text.split() or [text]
        text = " ".join([*numbers, a_label_name(name)])
    if not _SAFE_VALUE.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a valid {rtype} value "
            "(letters, digits, '.', '-', '_', ':', '*' and spaces only)"
        )
    if rtype == "AAAA":
        try:  # dnspython's own formatting, so verification compares equal strings
            return dns.ipv6.inet_ntoa(socket.inet_pton(socket.AF_INET6, text)), None, 16
        except OSError:
            raise ValueError(f"{text!r} is not an IPv6 address") from None
    numbers, shape = _NAME_VALUES[rtype]
    parts = text.split()
    if len(parts) != numbers + 1 or not all(
        _UINT16.fullmatch(part) and int(part) <= 65535 for part in parts[:-1]
    ):
        raise ValueError(f"{text!r} is not a valid {rtype} value: expected {shape}")
    target = _value_name(parts[-1], zone)
    value = " ".join([*(str(int(part)) for part in parts[:-1]), target])
    return value, target, 2 * numbers + (len(target) + 1 if target != "." else 1)


def _value_name(text: str, zone: str) -> str:
    """A name in a record value, absolute with its final dot."""
    if text == ".":
        return "."
    absolute = text if text.endswith(".") else f"{text}.{zone}."
    if in_zone(dns_name_text(absolute), zone):
        # The zone part as the zone is named, as dnspython writes it and named's
        # compressed answers to a lower-case question show it: verification compares text.
        return absolute[: len(absolute) - len(zone) - 1] + zone + "."
    return absolute


def txt_presentation(text: str) -> str:
    """Quote free text as TXT character-strings of at most 255 octets each."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return " ".join('"' + "".join(_txt_char(byte) for byte in chunk) + '"' for chunk in chunks)


def _txt_char(byte: int) -> str:
    if byte in (0x22, 0x5C):  # " and \
        return "\\" + chr(byte)
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"\\{byte:03d}"
