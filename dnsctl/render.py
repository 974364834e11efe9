"""Pure rendering: inventory -> zone text and named.conf text. Same inputs, same text.

Nothing here reads a clock or a host; the serial and current file contents are
passed in, so every function is tested with golden files.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dnsctl.models import Inventory, Zone, in_zone
from dnsctl.platform import Layout

HEADER = "; Managed by dnsctl from the inventory; edits here are overwritten.\n"
CONF_HEADER = (
    "// Managed by dnsctl: the zones dnsctl set up on this server.\n"
    "// Edits here are overwritten; change the inventory instead.\n"
)
INCLUDE_BEGIN = "// BEGIN dnsctl (managed block, do not edit)"
INCLUDE_END = "// END dnsctl"

SOA_TIMERS = {"refresh": 3600, "retry": 600, "expire": 1209600, "minimum": 300}


@dataclass(frozen=True)
class NameServer:
    server: str
    name: str  # FQDN without the final dot
    address: str


def nameservers(inventory: Inventory, zone: Zone) -> list[NameServer]:
    """The zone's NS set: its primary, then its secondaries, in inventory order."""
    return [
        NameServer(server, inventory.nameserver(server), inventory.servers[server].address)
        for server in (zone.primary, *zone.secondaries)
    ]


def render_zone(inventory: Inventory, zone_name: str, serial: int) -> str:
    """The zone file: SOA, NS set with in-zone glue, then the inventory's records."""
    zone = inventory.zones[zone_name]
    servers = nameservers(inventory, zone)
    contact = zone.contact or f"hostmaster.{zone_name}"
    lines = [
        HEADER.rstrip("\n"),
        f"$ORIGIN {zone_name}.",
        f"$TTL {zone.ttl}",
        f"@\tIN SOA {servers[0].name}. {contact}. (",
        f"\t\t{serial} ; serial",
        *(f"\t\t{value} ; {field}" for field, value in SOA_TIMERS.items()),
        "\t\t)",
    ]
    lines += [f"@\tIN NS {ns.name}." for ns in servers]

    records = inventory.records(zone_name)
    with_address = {record.owner for record in records if record.type in ("A", "AAAA")}
    for ns in servers:
        if in_zone(ns.name, zone_name) and ns.name not in with_address:
            with_address.add(ns.name)
            rdtype = "AAAA" if ipaddress.ip_address(ns.address).version == 6 else "A"
            lines.append(f"{relative(ns.name, zone_name)}\tIN {rdtype} {ns.address}")
    for record in records:
        ttl = f"{record.ttl}\t" if record.ttl is not None else ""
        lines.append(f"{relative(record.owner, zone_name)}\t{ttl}IN {record.type} {record.value}")
    return "\n".join(lines) + "\n"


def relative(owner: str, zone: str) -> str:
    return "@" if owner == zone else owner[: -len(zone) - 1]


def zone_serial(text: str | None) -> int | None:
    """The serial of the zone's SOA record, however the file writes it; None without one."""
    span = _soa_serial_span(text or "")
    return int((text or "")[span[0] : span[1]]) if span else None


def with_serial(text: str, serial: int) -> str:
    """The zone text with its SOA serial replaced; everything else byte for byte as it was."""
    span = _soa_serial_span(text)
    if span is None:
        raise ValueError("the zone text has no SOA record with a numeric serial")
    return text[: span[0]] + str(serial) + text[span[1] :]


_CLASSES = {"IN", "CH", "CS", "HS"}
_TTL = re.compile(r"\d+|(\d+[wdhms])+", re.IGNORECASE)
_SERIAL = re.compile(r"[0-9]{1,10}")
_WORD_ENDS = frozenset(' \t\r\n;()"')


def _soa_serial_span(text: str) -> tuple[int, int] | None:
    """Start and end offsets of the serial in the first SOA record of zone file text.

    Reads the master file format (RFC 1035 5.1) as named does, so the serial is
    found on one line with the SOA, across parentheses, after comments, with or
    without owner, TTL and class; text in comments and quoted strings is never
    taken for it.
    """
    for has_owner, tokens in _logical_lines(text):
        words = [text[start:end] for start, end in tokens]
        if words[0].startswith("$"):  # $ORIGIN, $TTL, $INCLUDE, $GENERATE
            continue
        index = 1 if has_owner else 0
        # TTL and class come in either order before the type.
        while index < len(words) and (
            words[index].upper() in _CLASSES
            or re.fullmatch(r"CLASS\d+", words[index], re.IGNORECASE)
            or _TTL.fullmatch(words[index])
        ):
            index += 1
        if index < len(words) and words[index].upper() == "SOA":
            serial = index + 3  # after the primary server's name and the contact
            if serial < len(words) and _SERIAL.fullmatch(words[serial]):
                return tokens[serial]
            return None
    return None


def _logical_lines(text: str) -> Iterator[tuple[bool, list[tuple[int, int]]]]:
    """Each record or directive of zone text: whether it names its owner, and its tokens' spans.

    Parentheses join lines; comments are dropped; a quoted string is one token.
    """
    tokens: list[tuple[int, int]] = []
    has_owner = False
    depth = 0
    line_start = True
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            if depth == 0:
                if tokens:
                    yield has_owner, tokens
                tokens, has_owner = [], False
            line_start = True
            i += 1
            continue
        if char == ";":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if char in " \t\r()":
            if char == "(":
                depth += 1
            elif char == ")":
                depth = max(depth - 1, 0)
            line_start = False
            i += 1
            continue
        start = i
        if char == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            i = min(i + 1, n)
        else:
            # A word at the very start of a line, outside parentheses, is the owner.
            has_owner = has_owner or (line_start and depth == 0 and not tokens)
            while i < n and text[i] not in _WORD_ENDS:
                i += 2 if text[i] == "\\" else 1
            i = min(i, n)
        tokens.append((start, i))
        line_start = False
    if tokens:
        yield has_owner, tokens


# --- named.conf -------------------------------------------------------------------


def _acl(entries: list[str]) -> str:
    return " ".join(f"{entry};" for entry in entries) if entries else "none;"


def query_acl(inventory: Inventory, zone: Zone) -> list[str]:
    """allow-query for a zone: the inventory's list, plus the zone's own servers.

    The servers must always be allowed: a secondary's SOA refresh query to the
    primary is subject to the zone's allow-query.
    """
    if "any" in zone.allow_query:
        return ["any"]
    entries = list(zone.allow_query)
    for ns in nameservers(inventory, zone):
        if ns.address not in entries:
            entries.append(ns.address)
    return entries if "localhost" in entries else ["localhost", *entries]


def primary_stanza(
    inventory: Inventory,
    zone_name: str,
    layout: Layout,
    options: Sequence[str] = (),
    *,
    transfer_keys: Sequence[str] = (),
    by_address: bool = False,
) -> str:
    """options: further zone options, one statement each (what DNSSEC signing needs);
    transfer_keys: the TSIG keys a transfer must be signed with; none: the secondaries' addresses;
    by_address: the secondaries' addresses as well as the keys."""
    zone = inventory.zones[zone_name]
    secondaries = [inventory.servers[name].address for name in zone.secondaries]
    transfer = transfer_acl(secondaries, transfer_keys, by_address)
    lines = [
        f'zone "{zone_name}" {{',
        "\ttype master;",
        f'\tfile "{layout.primary_file(zone_name)}";',
        *(f"\t{option}" for option in options),
        f"\tallow-query {{ {_acl(query_acl(inventory, zone))} }};",
        f"\tallow-transfer {{ {_acl(transfer)} }};",
    ]
    if secondaries:
        # explicit: notify exactly the secondaries we know, never look up NS names.
        # notify-delay 0: BIND otherwise holds a zone's next NOTIFY until 5 s after
        # the previous one, so back-to-back changes reached secondaries ~4.4 s late
        # (measured on the lab); the server-wide notify-rate still bounds NOTIFYs.
        lines += ["\tnotify explicit;", "\tnotify-delay 0;", f"\talso-notify {{ {_acl(secondaries)} }};"]
    else:
        lines.append("\tnotify no;")
    return "\n".join([*lines, "};"]) + "\n"


def transfer_acl(addresses: Sequence[str], keys: Sequence[str], by_address: bool = False) -> list[str]:
    """A primary's allow-transfer entries: the keys, else (or also, with by_address) the addresses."""
    return [*(addresses if by_address or not keys else ()), *(f'key "{key}"' for key in keys)]


def secondary_stanza(
    inventory: Inventory, zone_name: str, layout: Layout, *, primary_key: str | None = None
) -> str:
    """primary_key: the TSIG key to sign refresh queries and transfer requests with."""
    zone = inventory.zones[zone_name]
    primary = inventory.servers[zone.primary].address
    signed = f' key "{primary_key}"' if primary_key else ""
    lines = [
        f'zone "{zone_name}" {{',
        "\ttype slave;",
        f'\tfile "{layout.secondary_file(zone_name)}";',
        f"\tmasters {{ {primary}{signed}; }};",
        f"\tallow-query {{ {_acl(query_acl(inventory, zone))} }};",
        "\tallow-transfer { none; };",
        "\tnotify no;",
        "};",
    ]
    return "\n".join(lines) + "\n"


_STANZA = re.compile(r'^zone "([^"]+)" \{\n.*?^\};\n', re.MULTILINE | re.DOTALL)


def parse_managed(text: str | None) -> dict[str, str]:
    """The stanzas of a managed file dnsctl wrote, by zone name."""
    return {m.group(1): m.group(0) for m in _STANZA.finditer(text or "")}


def render_managed(stanzas: dict[str, str], preamble: Sequence[str] = ()) -> str:
    """The managed file: preamble statements (e.g. dnssec-policy), then the zone stanzas."""
    texts = [*preamble, *(stanzas[name] for name in sorted(stanzas))]
    return CONF_HEADER + "".join("\n" + text for text in texts)


def ensure_include(text: str | None, managed_path: str) -> str:
    """The administrator's file with dnsctl's include block present exactly once."""
    block = f'{INCLUDE_BEGIN}\ninclude "{managed_path}";\n{INCLUDE_END}\n'
    text = text or ""
    pattern = re.compile(
        rf"^{re.escape(INCLUDE_BEGIN)}\n.*?^{re.escape(INCLUDE_END)}\n?", re.MULTILINE | re.DOTALL
    )
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    if text and not text.endswith("\n"):
        text += "\n"
    separator = "" if not text or text.endswith("\n\n") else "\n"
    return f"{text}{separator}{block}"


def mask_comments(text: str) -> str:
    """The text with comments and quoted strings blanked, same length, so offsets still match."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        two = text[i : i + 2]
        if two in ("//",) or text[i] == "#":
            end = text.find("\n", i)
            end = n if end < 0 else end
        elif two == "/*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
        elif text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end + 1
        else:
            i += 1
            continue
        for j in range(i, end):
            if out[j] != "\n":
                out[j] = " "
        i = end
    return "".join(out)


def block_span(masked: str, keyword: str) -> tuple[int, int] | None:
    """Start and end (after the closing brace) of the first top-level `keyword { ... }`."""
    match = re.search(rf"(?<![\w-]){keyword}\s*\{{", masked)
    if not match:
        return None
    depth, i = 0, match.end() - 1
    while i < len(masked):
        if masked[i] == "{":
            depth += 1
        elif masked[i] == "}":
            depth -= 1
            if depth == 0:
                return match.end(), i
        i += 1
    return None


def ensure_listen_on(text: str, address: str) -> str:
    """Make named listen on address when the options restrict listen-on to a list without it.

    No listen-on statement means BIND listens on every address, so nothing is added.
    """
    statement = "listen-on-v6" if ipaddress.ip_address(address).version == 6 else "listen-on"
    masked = mask_comments(text)
    span = block_span(masked, "options")
    if span is None:
        return text
    start, end = span
    pattern = re.compile(rf"(?<![\w-]){statement}(\s+port\s+(\d+))?\s*\{{([^{{}}]*)\}}\s*;")
    for match in pattern.finditer(masked, start, end):
        if match.group(2) not in (None, "53"):
            continue
        entries = [entry.strip() for entry in match.group(3).split(";") if entry.strip()]
        if address in entries or "any" in entries:
            return text
        close = match.end(3)
        insert = f"{address}; " if masked[close - 1] == " " else f" {address}; "
        if entries == ["none"]:
            return text[: match.start(3)] + f" {address}; " + text[close:]
        return text[:close] + insert + text[close:]
    return text
