"""failover-test: prove clients still resolve when the zone's primary goes away.

Resolve on a client (the primary must answer), make the primary unavailable
(named stopped, or DNS silently dropped), resolve again (a secondary must answer
the same), and always bring the primary back, also after an error or Ctrl-C; a
dead man's switch on the primary restores it even if dnsctl is killed outright.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dnsctl import interrupt, verify
from dnsctl.errors import (
    DnsctlError,
    PreconditionError,
    RemoteError,
    RollbackFailed,
    UsageError,
    VerifyError,
)
from dnsctl.facts.client import parse_dig_server
from dnsctl.models import dns_name_text, in_zone
from dnsctl.ops.clients import address_records, getent, sample_name
from dnsctl.ops.session import Session
from dnsctl.remote import Connection
from dnsctl.report import Report
from dnsctl.service import start_command

DROP_RULE = "rule family=ipv4 service name=dns drop"


@dataclass(frozen=True)
class Resolution:
    server: str | None  # who answered, from dig's SERVER line
    values: set[str]
    status: str
    seconds: float


def _resolve_on(connection: Connection, fqdn: str, rdtype: str) -> Resolution:
    """Resolve through the client's own resolv.conf: getent for the system answer, dig for who."""
    started = time.monotonic()
    values = getent(connection, fqdn, rdtype)
    seconds = time.monotonic() - started
    dig = connection.run(["dig", "+time=2", "+tries=1", "+nocomments", fqdn, rdtype], check=False, timeout=60)
    if dig.status == 127:
        raise PreconditionError(
            f"{connection.name}: dig is not installed (bind9-dnsutils or bind-utils); "
            "failover-test needs it to see which server answered"
        )
    status = "NOERROR" if values else "no answer"
    return Resolution(parse_dig_server(dig.stdout), values, status, seconds)


def failover_test(
    session: Session,
    zone_name: str,
    name: str | None = None,
    client: str | None = None,
    mode: str = "stop",
) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    if not zone.secondaries:
        raise UsageError(f"zone {zone_name} has no secondaries: there is nothing to fail over to")
    client = client or next(iter(inventory.clients), None)
    if client is None:
        raise UsageError("no clients in the inventory: give --client")
    inventory.client(client)
    if name:
        try:
            fqdn = dns_name_text(name)
        except ValueError as exc:
            raise UsageError(f"--name: {exc}") from None
        if not name.endswith(".") and not in_zone(fqdn, zone_name):
            fqdn = f"{fqdn}.{zone_name}"
        rdtype, expected = address_records(inventory, zone_name).get(fqdn, ("A", set()))
    else:
        found = sample_name(inventory, zone_name)
        if found is None:
            raise UsageError(f"zone {zone_name} has no A or AAAA record to resolve: give --name")
        fqdn, rdtype, expected = found
    primary = inventory.servers[zone.primary]
    secondaries = {inventory.servers[s].address: s for s in zone.secondaries}
    session.connect([client, zone.primary])
    # No change may start named (or reload it) behind the test's back.
    session.lock([client, zone.primary])
    report = session.report
    report.data.update(zone=zone_name, name=fqdn, mode=mode, client=client)

    answer = verify.soa(primary.address, zone_name)
    if not answer.ok:
        raise PreconditionError(
            f"{zone.primary}: does not answer {zone_name} before the test ({verify.describe(answer)}); "
            "run init-primary first"
        )
    assert answer.serial is not None
    with report.waiting(client, f"before: resolve {fqdn}"):
        before = _resolve_on(session.fleet[client], fqdn, rdtype)
    _phase(report, client, "before: resolve", fqdn, before)
    if not expected:
        expected = before.values
    if before.values != expected or before.server != primary.address:
        raise PreconditionError(
            f"{client}: before the test {fqdn} resolved to {', '.join(sorted(before.values)) or 'nothing'} "
            f"from {before.server}; expected {', '.join(sorted(expected))} from the primary "
            f"{primary.address} (run configure-client?)"
        )

    primary_conn = session.fleet[zone.primary]
    session.options.confirm(f"This makes {zone.primary} unavailable for a few seconds. Continue?")
    problems: list[str] = []
    try:
        with report.step(zone.primary, f"make primary unavailable ({mode})"):
            _break_primary(primary_conn, mode)
        with report.waiting(zone.primary, "primary stopped answering"):
            gone = _asked_until_silent(primary.address, zone_name)
        report.add(
            zone.primary,
            "primary stopped answering",
            "ok" if gone.serial is None else "fail",
            detail=verify.describe(gone),
        )
        if gone.serial is not None:
            problems.append("the primary still answers")
        with report.waiting(client, f"during: resolve {fqdn}"):
            during = _resolve_on(session.fleet[client], fqdn, rdtype)
        good = during.values == expected and during.server in secondaries
        _phase(report, client, "during: resolve", fqdn, during, good)
        if not good:
            problems.append(
                f"with the primary down, {fqdn} resolved to {', '.join(sorted(during.values)) or 'nothing'} "
                f"from {during.server or 'no server'}"
            )
        for address, server in secondaries.items():
            direct = verify.soa(address, zone_name)
            ok = direct.ok
            report.add(
                server,
                f"{zone_name} SOA at {address}",
                "ok" if ok else "fail",
                detail=verify.describe(direct),
            )
            if not ok:
                problems.append(f"secondary {server} does not serve {zone_name} ({verify.describe(direct)})")
    except BaseException as exc:
        _bring_back(session, zone.primary, zone_name, mode, answer.serial, cause=exc)
        raise
    _bring_back(session, zone.primary, zone_name, mode, answer.serial)
    interrupt.checkpoint()  # a stop requested while the primary came back takes effect now
    report.data["failover"] = not problems
    if problems:
        raise VerifyError("failover failed: " + "; ".join(dict.fromkeys(problems)))


def _bring_back(
    session: Session,
    server: str,
    zone_name: str,
    mode: str,
    serial: int,
    cause: BaseException | None = None,
) -> None:
    """Restore the primary, whatever ended the test; no signal cuts this short, and a lost
    connection is made again. Raises RollbackFailed, naming the primary's state, if it fails."""
    address = session.inventory.servers[server].address
    with interrupt.shield("bringing the primary back"):
        try:
            with session.report.step(server, "bring the primary back"):
                _restore_primary(session.fleet[server], mode)
                back = verify.wait_for_serial(address, zone_name, serial, session.options.timeout)
                if not back.ok:
                    raise VerifyError(
                        f"{server}: does not answer {zone_name} again ({verify.describe(back)})"
                    )
        except (DnsctlError, OSError) as exc:
            why = "interrupted; " if isinstance(cause, KeyboardInterrupt) else f"{cause}; " if cause else ""
            raise RollbackFailed(
                f"{why}could not bring the primary back: {exc}; {SAFETY_NET[mode]}"
            ) from None


def _phase(report: Report, client: str, label: str, fqdn: str, result: Resolution, good: bool = True) -> None:
    report.add(
        client,
        f"{label} {fqdn}",
        "ok" if good and result.values else "fail",
        seconds=result.seconds,
        detail=f"{', '.join(sorted(result.values)) or result.status} from {result.server or 'no server'}",
        answered_by=result.server,
        values=sorted(result.values),
    )


# A dead man's switch: if dnsctl dies with the primary down (kill -9, lost SSH), the
# host itself brings the primary back after this long.
SAFETY_SECONDS = 300
SAFETY_UNIT = "dnsctl-failover-restore"
SAFETY_NET = {
    "stop": f"its dead man's switch, the systemd timer {SAFETY_UNIT}, runs `systemctl start named` "
    f"{SAFETY_SECONDS // 60} minutes after the test began",
    "drop": f"its dead man's switch removes the firewalld drop rule {SAFETY_SECONDS // 60} minutes "
    "after the test began",
}


def _asked_until_silent(address: str, zone_name: str, tries: int = 3) -> verify.SoaAnswer:
    """The primary's SOA, asked until it goes unanswered, at most tries times.

    A query whose source port the kernel reuses from an earlier, answered one belongs to
    a flow conntrack already accepted, which a new drop rule does not stop: one answer is
    not proof the rule failed. Each try is a fresh socket, so a fresh port.
    """
    for _ in range(tries):
        answer = verify.soa(address, zone_name, timeout=1.0)
        if answer.serial is None:
            break
    return answer


def _break_primary(connection: Connection, mode: str) -> None:
    if mode == "stop":
        connection.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False)  # a stale one
        connection.run(
            [
                "systemd-run",
                f"--unit={SAFETY_UNIT}",
                f"--on-active={SAFETY_SECONDS}",
                "systemctl",
                "start",
                "named",
            ]
        )
        connection.run(["systemctl", "stop", "named"])
    else:
        connection.run(["firewall-cmd", f"--add-rich-rule={DROP_RULE}", f"--timeout={SAFETY_SECONDS}"])


def _restore_primary(connection: Connection, mode: str) -> None:
    """Undo _break_primary; every step is safe to repeat after a reconnect."""
    if mode == "stop":
        connection.run(start_command("start", "named"), reconnect=True)
        connection.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False, reconnect=True)
    else:
        result = connection.run(
            ["firewall-cmd", f"--remove-rich-rule={DROP_RULE}"], check=False, reconnect=True
        )
        if not result.ok and "NOT_ENABLED" not in result.stderr + result.stdout:
            raise RemoteError(f"{connection.name}: could not remove the drop rule: {result.reason()}")
