"""What the lab's servers serve, asked by DNS from this machine at each server's own address
(never through a resolver), and polling with a deadline instead of sleeping."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode

T = TypeVar("T")


def ask(
    server: str, name: str | dns.name.Name, rdtype: str, *, timeout: float = 2.0, tcp: bool = False
) -> dns.message.Message:
    """One query without recursion desired, as a secondary or a resolver asks an authoritative
    server."""
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    return (dns.query.tcp if tcp else dns.query.udp)(query, server, timeout=timeout)


def served_serial(server: str, zone: str, *, tcp: bool = False) -> int | None:
    """The zone's SOA serial as the server answers it with authority; None when it does not
    (no answer at all, refused, not authoritative)."""
    try:
        response = ask(server, zone, "SOA", timeout=1, tcp=tcp)
    except (dns.exception.DNSException, OSError):
        return None
    if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA or not response.answer:
        return None
    return response.answer[0][0].serial


def soa(server: str, zone: str) -> tuple[int, bool]:
    """The zone's SOA serial as the server answers it, and whether with authority; the server
    must answer (NOERROR, the SOA in the answer)."""
    response = ask(server, zone, "SOA", timeout=3)
    assert response.rcode() == dns.rcode.NOERROR, (
        f"{server}: {zone} SOA: {dns.rcode.to_text(response.rcode())}"
    )
    return response.answer[0][0].serial, bool(response.flags & dns.flags.AA)


def answer_data(server: str, name: str | dns.name.Name, rdtype: str) -> set[str]:
    """The data of the answer section as text, whatever the rcode and the AA flag."""
    return {rdata.to_text() for rrset in ask(server, name, rdtype).answer for rdata in rrset}


def authoritative_answer(server: str, name: str | dns.name.Name, rdtype: str) -> tuple[str, set[str]]:
    """The rcode and the answer's data as text, which the server must give with authority."""
    response = ask(server, name, rdtype)
    assert response.flags & dns.flags.AA, f"{server} is not authoritative for {name} {rdtype}: {response}"
    found = {rdata.to_text() for rrset in response.answer for rdata in rrset}
    return dns.rcode.to_text(response.rcode()), found


def wait_until(condition: Callable[[], T], what: str, seconds: float = 20) -> T:
    """Poll condition every 50 ms until it holds, and return its value; fail naming what
    was waited for when it does not hold within seconds."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return value


class Prober:
    """Asks a server for a zone's SOA every 20 ms during a run; collects every miss."""

    def __init__(self, server: str, zone: str) -> None:
        self.server, self.zone = server, zone
        self.misses: list[str] = []
        self.asked = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.asked += 1
            if served_serial(self.server, self.zone) is None:
                self.misses.append(time.strftime("%H:%M:%S"))
            time.sleep(0.02)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
