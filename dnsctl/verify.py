"""Ask a specific server, by address, what it serves. No resolver is ever involved.

After a change, the served SOA serial proves named loaded the very file dnsctl
validated (the serial changes with every content change); the records are then
checked on a sample that does not grow with the zone: every record set up to
MAX_CHECKED_RRSETS, and beyond that the first of each type plus an even spread
over the rest, asked concurrently.
"""

from __future__ import annotations

import errno
import socket
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.serial
import dns.xfr
import dns.zone
from dns.rdata import Rdata

from dnsctl import interrupt, render
from dnsctl.models import Inventory

K = TypeVar("K", bound=Hashable)

# How many record sets a check asks for at most, and how many queries are in flight at once.
MAX_CHECKED_RRSETS = 256
QUERIES_IN_FLIGHT = 16
# How often a wait for named asks again: a query on the lab takes about a millisecond.
POLL_INTERVAL = 0.02


@dataclass(frozen=True)
class SoaAnswer:
    serial: int | None  # None when the server gave no SOA
    authoritative: bool
    rcode: str
    error: str | None = None  # timeout, refused connection...

    @property
    def ok(self) -> bool:
        return self.serial is not None and self.authoritative


def ask(
    server: str,
    name: str | dns.name.Name,
    rdtype: str,
    timeout: float = 2.0,
    *,
    tcp: bool = False,
    want_dnssec: bool = False,
) -> dns.message.Message:
    """One query to one server, UDP first, TCP when truncated (or only TCP with tcp=True);
    want_dnssec asks for RRSIGs too."""
    query = dns.message.make_query(name, rdtype, want_dnssec=want_dnssec)
    query.flags &= ~dns.flags.RD
    if tcp:
        return dns.query.tcp(query, server, timeout=timeout)
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    # A connected socket hears ICMP errors: a closed port or a rejecting firewall
    # answers at once ("refused") instead of looking like a silent timeout.
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)  # dnspython needs it so, or its timeout is never applied
        sock.connect((server, 53))
        response = dns.query.udp(query, server, timeout=timeout, sock=sock)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(query, server, timeout=timeout)
    return response


def soa(server: str, zone: str, timeout: float = 2.0, *, tcp: bool = False) -> SoaAnswer:
    try:
        response = ask(server, zone, "SOA", timeout, tcp=tcp)
    except (dns.exception.DNSException, OSError) as exc:
        return SoaAnswer(None, False, "-", why(exc))
    authoritative = bool(response.flags & dns.flags.AA)
    for rrset in response.answer:
        if rrset.rdtype == dns.rdatatype.SOA:
            return SoaAnswer(rrset[0].serial, authoritative, dns.rcode.to_text(response.rcode()))
    return SoaAnswer(None, authoritative, dns.rcode.to_text(response.rcode()))


def wait_for_serial(
    server: str, zone: str, serial: int, timeout: float, *, at_least: bool = False
) -> SoaAnswer:
    """Poll until server answers zone authoritatively with serial; the last answer.

    at_least also accepts a later serial (RFC 1982): a signed zone's serial moves
    ahead of its file's each time named re-signs it.
    """
    deadline = time.monotonic() + timeout
    while True:
        interrupt.checkpoint()
        answer = soa(server, zone, timeout=1.0)
        if serial_reached(answer, serial, at_least=at_least) or time.monotonic() >= deadline:
            return answer
        time.sleep(POLL_INTERVAL)


def sample(keys: Sequence[K], kind: Callable[[K], object], bound: int = MAX_CHECKED_RRSETS) -> list[K]:
    """Which record sets to ask for: all up to bound; beyond it the first of each kind (type)
    and an even spread over all of them, in their order. The same keys give the same sample."""
    if len(keys) <= bound:
        return list(keys)
    chosen: dict[object, int] = {}
    for index, key in enumerate(keys):
        chosen.setdefault(kind(key), index)
    picked = set(list(chosen.values())[:bound])
    room = bound - len(picked)
    picked.update(index * len(keys) // room for index in range(room))
    return [keys[index] for index in sorted(picked)]


def inventory_rrsets(inventory: Inventory, zone_name: str) -> dict[tuple[str, str], set[str]]:
    """The zone's inventory records as record sets to ask for: (owner, type) -> values."""
    expected: dict[tuple[str, str], set[str]] = {}
    for record in inventory.records(zone_name):
        if record.owner.startswith("*."):
            continue  # a wildcard is answered for other names, not asked directly
        key = (record.owner, record.type)
        values = expected.get(key)  # not setdefault(key, set()): a new set per record is slow
        if values is None:
            expected[key] = {record.value}
        else:
            values.add(record.value)
    return expected


def serial_reached(answer: SoaAnswer, serial: int, *, at_least: bool = False) -> bool:
    if not answer.ok or answer.serial is None:
        return False
    if at_least:
        return dns.serial.Serial(answer.serial) >= dns.serial.Serial(serial)
    return answer.serial == serial


def wanted_serial(serial: int, *, at_least: bool = False) -> str:
    """The serial a wait asks for, as its messages show it (see serial_reached)."""
    return f"{serial} or later" if at_least else str(serial)


def check_records(inventory: Inventory, zone_name: str, server: str) -> list[str]:
    """The zone's inventory records (a sample() of them), asked of server; a line per mismatch."""
    expected = inventory_rrsets(inventory, zone_name)

    def check(key: tuple[str, str]) -> str | None:
        (owner, rdtype), values = key, expected[key]
        label = f"{owner}. {rdtype}"
        try:
            response = ask(server, owner, rdtype)
        except (dns.exception.DNSException, OSError) as exc:
            return f"{label}: {why(exc)}"
        got = {rdata.to_text() for rdata in _found(response, dns.name.from_text(owner), rdtype)}
        # The apex NS set also holds the zone's own servers, which dnsctl adds.
        if (rdtype == "NS" and not values <= got) or (rdtype != "NS" and got != values):
            shown = ", ".join(sorted(got)) or dns.rcode.to_text(response.rcode())
            return f"{label}: expected {', '.join(sorted(values))}, got {shown}"
        return None

    return _each(sample(list(expected), kind=lambda key: key[1]), check)


def _each(keys: list[K], check: Callable[[K], str | None]) -> list[str]:
    """check() every key, QUERIES_IN_FLIGHT at a time; the problems, in the keys' order."""
    if len(keys) <= 1:
        results = [check(key) for key in keys]
    else:
        with ThreadPoolExecutor(min(QUERIES_IN_FLIGHT, len(keys))) as pool:
            results = list(pool.map(check, keys))
    return [problem for problem in results if problem]


def check_rrsets(server: str, expected: dict[tuple[dns.name.Name, int], frozenset[Rdata]]) -> list[str]:
    """Ask server for each (name, type): a line per answer other than expected.

    An empty set means the server must answer that the name or type does not
    exist, authoritatively (a refusal is not "does not exist"). Many record sets
    are checked on a sample(), as check_records does.
    """

    def check(key: tuple[dns.name.Name, int]) -> str | None:
        (name, rdtype), values = key, expected[key]
        label = f"{name} {dns.rdatatype.to_text(rdtype)}"
        try:
            response = ask(server, name, dns.rdatatype.to_text(rdtype))
        except (dns.exception.DNSException, OSError) as exc:
            return f"{label}: {why(exc)}"
        got = _found(response, name, rdtype)
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            return f"{label}: answer {dns.rcode.to_text(response.rcode())}"
        if got != values:
            want = ", ".join(sorted(rdata.to_text() for rdata in values)) or "no such record"
            shown = ", ".join(sorted(rdata.to_text() for rdata in got)) or dns.rcode.to_text(response.rcode())
            return f"{label}: expected {want}, got {shown}"
        return None

    return _each(sample(sorted(expected), kind=lambda key: key[1]), check)


def _found(response: dns.message.Message, name: dns.name.Name, rdtype: str | int) -> set[Rdata]:
    """The records of name and type in a response.

    A delegation (NS below the apex) and its glue come back as a referral, in
    the authority and additional sections, not as an answer.
    """
    wanted = dns.rdatatype.RdataType.make(rdtype)
    sections = response.answer + response.authority + response.additional
    return {rdata for rrset in sections if rrset.rdtype == wanted and rrset.name == name for rdata in rrset}


@dataclass(frozen=True)
class TransferAnswer:
    """What a server did when asked for a zone transfer (AXFR) by address."""

    refused: bool | None  # None: could not ask (no connection)
    detail: str


def transfer(server: str, zone: str, timeout: float = 2.0) -> TransferAnswer:
    """Ask server for an AXFR of zone from this machine, which is no secondary: it must refuse."""
    received = dns.zone.Zone(zone)
    try:
        dns.query.inbound_xfr(server, received, timeout=timeout, lifetime=2 * timeout)
    except dns.xfr.TransferError as exc:
        return TransferAnswer(True, f"refused ({dns.rcode.to_text(exc.rcode)})")
    except (dns.exception.DNSException, OSError, EOFError) as exc:
        return TransferAnswer(None, why(exc))
    count = sum(len(rdataset) for _, rdataset in received.iterate_rdatasets())
    return TransferAnswer(False, f"transferred {count} records")


# Records a signing named adds by itself, which no inventory lists.
SIGNING_TYPES = frozenset({"RRSIG", "NSEC", "NSEC3", "NSEC3PARAM", "DNSKEY", "CDS", "CDNSKEY", "TYPE65534"})


def zone_records(text: str, zone: str) -> set[str]:
    """The records of zone text (a zone file, or dig's AXFR output) as `owner. TYPE data`,
    the SOA and signing records left out. Raises dns.exception.DNSException on bad text."""
    parsed = dns.zone.from_text(text, origin=zone, relativize=False, check_origin=False)
    found = set()
    for name, rdataset in parsed.iterate_rdatasets():
        rdtype = dns.rdatatype.to_text(rdataset.rdtype)
        if rdtype == "SOA" or rdtype in SIGNING_TYPES:
            continue
        found.update(f"{name.to_text()} {rdtype} {rdata.to_text()}" for rdata in rdataset)
    return found


@dataclass(frozen=True)
class Drift:
    extra: list[str]  # served, not in the inventory
    missing: list[str]  # in the inventory, not served


def drift(inventory: Inventory, zone_name: str, served_text: str) -> Drift:
    """What a served copy of the zone (dig's AXFR output) has that dnsctl would not write, and
    the other way round; what dnsctl would write is render_zone's text, NS set and glue included."""
    served = zone_records(served_text, zone_name)
    expected = zone_records(render.render_zone(inventory, zone_name, serial=1), zone_name)
    return Drift(sorted(served - expected), sorted(expected - served))


def why(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "no answer (timeout)"
    if isinstance(exc, ConnectionRefusedError):
        return "refused (port unreachable)"
    if isinstance(exc, OSError) and exc.errno == errno.EHOSTUNREACH:
        return "unreachable (no route to host, or a firewall rejects DNS)"
    if isinstance(exc, OSError) and exc.strerror:
        return f"unreachable ({exc.strerror.lower()})"
    return str(exc) or exc.__class__.__name__


def describe(answer: SoaAnswer) -> str:
    """An SOA answer in a few words, for people."""
    if answer.error:
        return answer.error
    if answer.serial is None:
        return f"answer {answer.rcode}, no SOA"
    return f"serial {answer.serial}, {'authoritative' if answer.authoritative else 'not authoritative'}"
