"""Catalog zones (RFC 9432, schema version 2): the list of zones, kept as a zone.

The catalog's primary serves a zone that lists its member zones; each consumer (a
secondary of the members) is configured once with a `catalog-zones` statement and
the catalog as a secondary zone. From then on named adds and removes the member
zones itself as the catalog's transfers bring changes: a new zone changes the
primary's files only.

Everything here is pure text. Member IDs are the SHA-1 of the member's name in wire
form (as BIND's documentation does), so they are stable without any state and a
zone is never dropped and re-added by accident.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass

import dns.name

from dnsctl import render
from dnsctl.errors import PreconditionError
from dnsctl.models import Inventory
from dnsctl.platform import Layout

VERSION = "2"
# Seconds a consumer waits between two updates from its catalog (BIND's default is 5).
MIN_UPDATE_INTERVAL = 1
BLOCK_BEGIN = "// BEGIN dnsctl catalog-zones (managed block, do not edit)"
BLOCK_END = "// END dnsctl catalog-zones"
# From BIND 9.18 the option is default-primaries; older releases know default-masters only.
PRIMARIES_KEYWORD_SINCE = (9, 18)

_MEMBER = re.compile(r"^([0-9a-f]+)\.zones\tIN PTR (\S+)\.$", re.MULTILINE)
_BLOCK = re.compile(rf"^[ \t]*{re.escape(BLOCK_BEGIN)}\n.*?^[ \t]*{re.escape(BLOCK_END)}\n", re.M | re.S)


def wants_on_primary(inventory: Inventory, zone: str) -> dict[str, str]:
    """What the zone's primary carries for it: the zone, and the catalog when the zone is a member."""
    if inventory.catalog is not None and zone in inventory.catalog_members():
        return {zone: "primary", inventory.catalog: "catalog"}
    return {zone: "primary"}


def wants_on_secondary(inventory: Inventory, zone: str) -> dict[str, str]:
    """What a secondary carries for the zone: the catalog for a member, else the zone itself."""
    if inventory.catalog is not None and zone in inventory.catalog_members():
        return {inventory.catalog: "consumer"}
    return {zone: "secondary"}


def member_id(zone: str) -> str:
    return hashlib.sha1(dns.name.from_text(zone).to_digestable()).hexdigest()


def directory(layout: Layout) -> str:
    """Where a consumer's named keeps the member zones it transfers (writable by named)."""
    return f"{layout.secondary_dir}/catalog"


def apl(acl: list[str]) -> str | None:
    """An allow-query list as APL rdata (RFC 3123), or None for "any" (no restriction)."""
    if "any" in acl:
        return None
    items = []
    for entry in acl:
        if entry == "none":
            items += ["!1:0.0.0.0/0", "!2:::/0"]
        elif entry == "localhost":
            items += ["1:127.0.0.0/8", "2:::1/128"]
        else:
            network = ipaddress.ip_network(entry, strict=False)
            items.append(f"{1 if network.version == 4 else 2}:{network.with_prefixlen}")
    return " ".join(items)


def render_catalog(inventory: Inventory, members: list[str], serial: int) -> str:
    """The catalog zone's file: version 2, one PTR per member, and the members' ACLs."""
    name = inventory.catalog
    primary = inventory.catalog_primary()
    assert name is not None and primary is not None
    lines = [
        "; Managed by dnsctl: the catalog of the zones the consumers serve; edits here are overwritten.",
        f"$ORIGIN {name}.",
        "$TTL 3600",
        f"@\tIN SOA {inventory.nameserver(primary)}. hostmaster.{name}. (",
        f"\t\t{serial} ; serial",
        *(f"\t\t{value} ; {field}" for field, value in render.SOA_TIMERS.items()),
        "\t\t)",
        "@\tIN NS invalid.",  # RFC 9432: a catalog is not meant to be resolved
        f'version\tIN TXT "{VERSION}"',
        # Consumers give the member zones to no one else.
        "allow-transfer.ext\tIN APL !1:0.0.0.0/0 !2:::/0",
    ]
    for member in sorted(members, key=member_id):
        ident = member_id(member)
        lines.append(f"{ident}.zones\tIN PTR {member}.")
        acl = apl(render.query_acl(inventory, inventory.zones[member]))
        if acl is not None:
            lines.append(f"allow-query.ext.{ident}.zones\tIN APL {acl}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Accepted:
    """Whom a catalog's primary lets transfer it: the consumers by address, and holders of keys."""

    by_address: bool
    keys: tuple[str, ...]


_ALLOW_TRANSFER = re.compile(r"^\tallow-transfer \{ (.*) \};$", re.MULTILINE)
_KEY_ENTRY = re.compile(r'^key "([^"]+)"$')


def accepted(stanza: str | None) -> Accepted | None:
    """What the catalog's stanza on its primary, as dnsctl wrote it, accepts; None without one."""
    match = _ALLOW_TRANSFER.search(stanza or "")
    if match is None:
        return None
    entries = [entry.strip() for entry in match.group(1).split(";") if entry.strip()]
    keys = tuple(m.group(1) for entry in entries if (m := _KEY_ENTRY.match(entry)))
    return Accepted(len(keys) < len(entries) and entries != ["none"], keys)


def listed(text: str | None) -> list[str]:
    """The member zones a catalog file dnsctl wrote lists."""
    return [m.group(2) for m in _MEMBER.finditer(text or "")]


def query_acl(inventory: Inventory, members: list[str]) -> list[str]:
    """Who may query the catalog on its primary: whoever may query a member (dnsctl among them)."""
    entries: list[str] = []
    for member in members:
        for entry in render.query_acl(inventory, inventory.zones[member]):
            if entry == "any":
                return ["any"]
            if entry not in entries:
                entries.append(entry)
    return entries or ["localhost"]


def primary_stanza(
    inventory: Inventory,
    layout: Layout,
    members: list[str],
    *,
    transfer_keys: Sequence[str] = (),
    by_address: bool = False,
) -> str:
    """The catalog on its primary: transfers and NOTIFY to the consumers only; with
    transfer_keys (the members' TSIG key), transfers signed with it (see render.transfer_acl)."""
    name = inventory.catalog
    consumers = [inventory.servers[server].address for server in inventory.catalog_consumers()]
    acl = " ".join(f"{entry};" for entry in query_acl(inventory, members))
    to = " ".join(f"{entry};" for entry in render.transfer_acl(consumers, transfer_keys, by_address))
    notify = " ".join(f"{address};" for address in consumers)
    lines = [
        f'zone "{name}" {{',
        "\ttype master;",
        f'\tfile "{layout.primary_file(name)}";',
        f"\tallow-query {{ {acl} }};",
        f"\tallow-transfer {{ {to} }};",
        "\tnotify explicit;",
        "\tnotify-delay 0;",
        f"\talso-notify {{ {notify} }};",
        "};",
    ]
    return "\n".join(lines) + "\n"


def _primaries(inventory: Inventory, key: str | None) -> str:
    """The catalog's primary as a consumer names it: its address, and the key it asks with."""
    primary = inventory.catalog_primary()
    assert primary is not None
    signed = f' key "{key}"' if key else ""
    return f"{inventory.servers[primary].address}{signed};"


def consumer_stanza(inventory: Inventory, layout: Layout, primary_key: str | None = None) -> str:
    """The catalog as a secondary zone; nothing in it depends on the members.

    primary_key: the TSIG key the catalog and its members are transferred with."""
    name = inventory.catalog
    assert name is not None
    lines = [
        f'zone "{name}" {{',
        "\ttype slave;",
        f'\tfile "{layout.secondary_file(name)}";',
        f"\tmasters {{ {_primaries(inventory, primary_key)} }};",
        "\tallow-query { localhost; };",
        "\tallow-transfer { none; };",
        "\tnotify no;",
        "};",
    ]
    return "\n".join(lines) + "\n"


def catalog_zones_block(
    inventory: Inventory, layout: Layout, version: tuple[int, int] | None, primary_key: str | None = None
) -> str:
    """The options block that makes a server a consumer; nothing in it depends on the members.

    primary_key: the TSIG key named asks for every member with (the catalog's own)."""
    assert inventory.catalog is not None
    keyword = (
        "default-primaries" if version is None or version >= PRIMARIES_KEYWORD_SINCE else "default-masters"
    )
    return (
        f"\t{BLOCK_BEGIN}\n"
        "\tcatalog-zones {\n"
        f'\t\tzone "{inventory.catalog}" {keyword} {{ {_primaries(inventory, primary_key)} }}'
        f' zone-directory "{directory(layout)}" in-memory no min-update-interval {MIN_UPDATE_INTERVAL};\n'
        "\t};\n"
        f"\t{BLOCK_END}\n"
    )


def ensure_catalog_zones(text: str, block: str, path: str) -> str:
    """The options file with dnsctl's catalog-zones block inside `options { }`, exactly once.

    A catalog-zones statement dnsctl did not write is refused: named takes only one.
    """
    if _BLOCK.search(text):
        return _BLOCK.sub(lambda _: block, text, count=1)
    masked = render.mask_comments(text)
    span = render.block_span(masked, "options")
    if span is None:
        raise PreconditionError(f"{path}: no options {{ }} block to hold the catalog-zones statement")
    start, end = span
    if re.search(r"(?<![\w-])catalog-zones\s*\{", masked[start:end]):
        raise PreconditionError(
            f"{path}: options already has a catalog-zones statement dnsctl did not write; "
            "remove it, or leave this server out of the catalog"
        )
    line_start = text.rfind("\n", 0, end) + 1
    if text[line_start:end].strip():
        return text[:end] + "\n" + block + text[end:]
    return text[:line_start] + block + text[line_start:]

