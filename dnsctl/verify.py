"""Ask a specific server, by address, what it serves. No resolver is ever involved."""

from __future__ import annotations

import errno
import socket
import time
from dataclasses import dataclass

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
        time.sleep(0.1)


def serial_reached(answer: SoaAnswer, serial: int, *, at_least: bool = False) -> bool:
    if not answer.ok or answer.serial is None:
        return False
    if at_least:
        return dns.serial.Serial(answer.serial) >= dns.serial.Serial(serial)
    return answer.serial == serial


def check_records(inventory: Inventory, zone_name: str, server: str) -> list[str]:
    """Every inventory record of the zone, asked of server; a line per mismatch."""
    expected: dict[tuple[str, str], set[str]] = {}
    for record in inventory.records(zone_name):
        expected.setdefault((record.owner, record.type), set()).add(record.value)
    problems = []
    for (owner, rdtype), values in expected.items():
        label = f"{owner}. {rdtype}"
        if owner.startswith("*."):
            continue  # a wildcard is answered for other names, not asked directly
        try:
            response = ask(server, owner, rdtype)
        except (dns.exception.DNSException, OSError) as exc:
            problems.append(f"{label}: {why(exc)}")
            continue
        got = {rdata.to_text() for rdata in _found(response, dns.name.from_text(owner), rdtype)}
        # The apex NS set also holds the zone's own servers, which dnsctl adds.
        if (rdtype == "NS" and not values <= got) or (rdtype != "NS" and got != values):
            shown = ", ".join(sorted(got)) or dns.rcode.to_text(response.rcode())
            problems.append(f"{label}: expected {', '.join(sorted(values))}, got {shown}")
    return problems


def check_rrsets(server: str, expected: dict[tuple[dns.name.Name, int], frozenset[Rdata]]) -> list[str]:
    """Ask server for each (name, type): a line per answer other than expected.

    An empty set means the server must answer that the name or type does not
    exist, authoritatively (a refusal is not "does not exist").
    """
    problems = []
    for (name, rdtype), values in sorted(expected.items()):
        label = f"{name} {dns.rdatatype.to_text(rdtype)}"
        try:
            response = ask(server, name, dns.rdatatype.to_text(rdtype))
        except (dns.exception.DNSException, OSError) as exc:
            problems.append(f"{label}: {why(exc)}")
            continue
        got = _found(response, name, rdtype)
        if response.rcode() not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
            problems.append(f"{label}: answer {dns.rcode.to_text(response.rcode())}")
        elif got != values:
            want = ", ".join(sorted(rdata.to_text() for rdata in values)) or "no such record"
            shown = ", ".join(sorted(rdata.to_text() for rdata in got)) or dns.rcode.to_text(response.rcode())
            problems.append(f"{label}: expected {want}, got {shown}")
    return problems


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
