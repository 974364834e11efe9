"""status: is every zone served as the inventory says, and has anything drifted? Reads only.

Per zone and server, by DNS from this machine: the SOA (served, authoritative, at the
primary's serial: a signed zone's is named's own), every inventory record, an answer over
TCP, a zone transfer refused to this machine, and a signed zone's signatures. Over SSH: a
zone transfer refused to a client too, DNS allowed by each server's firewalld (now and
permanently), and drift: the records the primary serves that the inventory does not have,
or lacks. Only a secondary may transfer a zone, so the AXFR that lists them runs there; a
zone without secondaries is read from the primary's zone file.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception

from dnsctl import dnssec, verify
from dnsctl.errors import RemoteError, VerifyError
from dnsctl.facts.dig import Transfer, parse_transfers, transfer_command
from dnsctl.facts.host import HostFacts, parse_host_facts
from dnsctl.facts.named_config import NamedConfig, parse_config
from dnsctl.facts.scripts import CONFIG_SCRIPT, HOST_SCRIPT, sections
from dnsctl.ops.session import Session

# The table's columns after zone, server, role and serial; a cell is ok, FAIL or - (not asked).
CHECKS = ("soa", "records", "tcp", "axfr-refused", "firewall", "drift")

# named-checkzone writes the zone as it would load it; the dump goes through a file
# because named-checkzone prints its own progress on standard output.
ZONE_DUMP_SCRIPT = r"""
dump=$(mktemp) || exit 1
trap 'rm -f "$dump"' EXIT
named-checkzone -D -o "$dump" "$1" "$2" >/dev/null 2>&1 || { named-checkzone "$1" "$2" 2>&1; exit 1; }
cat "$dump"
"""


@dataclass(frozen=True)
class Problem:
    host: str
    zone: str | None  # None for a host's own problem (SSH, firewall)
    check: str
    detail: str

    def line(self) -> str:
        where = f"{self.host} {self.zone}" if self.zone else self.host
        return f"{where}: {self.check}: {self.detail}"


@dataclass
class Row:
    zone: str
    server: str
    role: str
    serial: int | None = None
    cells: dict[str, str] = field(default_factory=lambda: dict.fromkeys(CHECKS, "-"))
    data: dict[str, object] = field(default_factory=dict)


@dataclass
class Findings:
    rows: list[Row] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    firewalls: dict[str, dict[str, object]] = field(default_factory=dict)
    drift: dict[str, dict[str, object]] = field(default_factory=dict)
    signatures: list[tuple[str, str, str]] = field(default_factory=list)  # server, zone, summary


def status(session: Session, zones: Sequence[str] = ()) -> None:
    inventory = session.inventory
    names = [inventory.zone_name(zone) for zone in zones] or list(inventory.zones)
    servers = list(
        dict.fromkeys(
            server
            for name in names
            for server in (inventory.zones[name].primary, *inventory.zones[name].secondaries)
        )
    )
    client = next(iter(inventory.clients), None)
    found = Findings()
    reachable = _connect(session, [*servers, *([client] if client else [])], found)
    connected = [server for server in servers if server in reachable]
    host_facts = dict(
        zip(connected, session.fleet.each(connected, lambda s: read_host(session, s)), strict=True)
    )
    for server, host in host_facts.items():
        _check_firewall(server, host, found)
    for name in names:
        _check_zone(session, name, client if client in reachable else None, reachable, host_facts, found)
    _show(session, found, client)
    if found.problems:
        count = len(found.problems)
        raise VerifyError(
            f"{count} problem{'s' if count > 1 else ''}: {found.problems[0].line()}"
            + (" (and more above)" if count > 1 and not session.report.json_mode else "")
        )


def _connect(session: Session, hosts: list[str], found: Findings) -> set[str]:
    """Connect to every host that answers; the others are problems, not the end of the run."""
    started = time.monotonic()

    def one(host: str) -> str | None:
        try:
            session.fleet.connect([session.target(host)])
        except RemoteError as exc:
            return str(exc)
        return None

    errors = dict(zip(hosts, session.fleet.each(hosts, one), strict=True))
    reachable = {host for host, error in errors.items() if error is None}
    if reachable:
        session.report.add(
            ",".join(h for h in hosts if h in reachable), "ssh connect", seconds=time.monotonic() - started
        )
    for host, error in errors.items():
        if error is not None:
            found.problems.append(Problem(host, None, "ssh", str(error)))
    return reachable


def read_host(session: Session, server: str) -> HostFacts:
    address = session.inventory.servers[server].address
    output = session.fleet[server].run(["sh", "-c", HOST_SCRIPT, "dnsctl-facts", address]).stdout
    return parse_host_facts(output, session.inventory.servers[server].layout)


def _check_firewall(server: str, host: HostFacts, found: Findings) -> None:
    firewall = host.firewall
    found.firewalls[server] = {
        "state": firewall.state,
        "zone": firewall.zone,
        "dns_runtime": firewall.runtime_dns,
        "dns_permanent": firewall.permanent_dns,
        "ok": firewall.dns_open,
    }
    if firewall.state != "running" or firewall.dns_open:
        return
    if not firewall.runtime_dns:
        detail = f"firewalld zone {firewall.zone} does not allow the dns service"
    else:
        detail = (
            f"firewalld zone {firewall.zone} allows dns now but not in its permanent configuration "
            "(closed again at the next firewalld reload or boot)"
        )
    found.problems.append(Problem(server, None, "firewall", detail))


def _check_zone(
    session: Session,
    zone_name: str,
    client: str | None,
    reachable: set[str],
    host_facts: dict[str, HostFacts],
    found: Findings,
) -> None:
    inventory = session.inventory
    zone = inventory.zones[zone_name]
    servers = [zone.primary, *zone.secondaries]
    rows = [
        Row(zone_name, server, "primary" if server == zone.primary else "secondary") for server in servers
    ]
    answers = session.fleet.each(
        servers, lambda server: verify.soa(inventory.servers[server].address, zone_name, 1.0)
    )
    primary_serial = answers[0].serial if answers[0].ok else None
    asked_from_client = transfers_from(session, client, zone_name, servers) if client else {}
    sample, want = dnssec.sample(inventory, zone_name), dnssec.expected(inventory, zone_name)
    problems: list[Problem] = []

    def check_server(row: Row, answer: verify.SoaAnswer) -> list[Problem]:
        address = inventory.servers[row.server].address
        row.serial = answer.serial
        mine: list[Problem] = []

        def mark(check: str, ok: bool, detail: str = "") -> None:
            row.cells[check] = "ok" if ok else "FAIL"
            if not ok:
                mine.append(Problem(row.server, zone_name, check, detail))

        soa_detail = verify.describe(answer)
        if answer.ok and answer.serial != primary_serial:
            soa_detail += f", primary has {primary_serial}"
        mark("soa", answer.ok and answer.serial == primary_serial, soa_detail)
        row.data.update(
            role=row.role, serial=answer.serial, authoritative=answer.authoritative, error=answer.error
        )
        if server_firewall := found.firewalls.get(row.server):
            row.cells["firewall"] = "ok" if server_firewall["ok"] else "FAIL"
        if not answer.ok:
            return mine  # nothing more to learn by DNS from a server that does not serve the zone
        wrong = verify.check_records(inventory, zone_name, address)
        mark(
            "records",
            not wrong,
            "; ".join(wrong[:3]) + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else ""),
        )
        row.data["records"] = {"asked": len(inventory.records(zone_name)), "wrong": wrong}
        if inventory.signing_policy(zone_name):
            # Its own line below the table: a column would be empty for every unsigned zone.
            signing = dnssec.check_signing(address, zone_name, sample, want)
            row.data["dnssec"] = signing.as_data()
            if signing.ok:
                found.signatures.append((row.server, zone_name, signing.summary()))
            else:
                mine.append(Problem(row.server, zone_name, "dnssec", signing.summary()))
        over_tcp = verify.soa(address, zone_name, 1.0, tcp=True)
        mark("tcp", over_tcp.ok, f"SOA over TCP: {verify.describe(over_tcp)}")
        row.data["tcp"] = verify.describe(over_tcp)
        transfers = {"this machine": verify.transfer(address, zone_name)}
        if client and address in asked_from_client:
            transfers[client] = _from_client(asked_from_client[address])
        elif client:
            transfers[client] = verify.TransferAnswer(None, "not asked: dig is not installed there")
        row.data["transfer"] = {asker: answer.detail for asker, answer in transfers.items()}
        open_to = [asker for asker, answer in transfers.items() if answer.refused is False]
        if open_to:
            mark(
                "axfr-refused",
                False,
                f"transfers the zone to {' and '.join(open_to)}, which are not secondaries",
            )
        elif any(answer.refused for answer in transfers.values()):
            row.cells["axfr-refused"] = "ok"
        return mine

    for mine in session.fleet.each(list(zip(rows, answers, strict=True)), lambda pair: check_server(*pair)):
        problems.extend(mine)
    rows[0].cells["drift"] = _check_drift(session, zone_name, reachable, host_facts, found, problems)
    found.rows.extend(rows)
    found.problems.extend(problems)


def transfers_from(session: Session, client: str, zone_name: str, servers: list[str]) -> dict[str, Transfer]:
    """Ask every server for an AXFR of the zone from the client; by server address."""
    addresses = [session.inventory.servers[server].address for server in servers]
    return parse_transfers(session.fleet[client].run(transfer_command(zone_name, addresses)).stdout)


def _from_client(attempt: Transfer) -> verify.TransferAnswer:
    if attempt.error:
        return verify.TransferAnswer(None, attempt.describe())
    return verify.TransferAnswer(not attempt.ok, attempt.describe())


def _check_drift(
    session: Session,
    zone_name: str,
    reachable: set[str],
    host_facts: dict[str, HostFacts],
    found: Findings,
    problems: list[Problem],
) -> str:
    """Compare what the primary serves with the inventory; the cell for the table."""
    inventory = session.inventory
    zone = inventory.zones[zone_name]
    primary = inventory.servers[zone.primary].address
    source = next((s for s in zone.secondaries if s in reachable and host_facts[s].layout), None)
    if zone.secondaries:
        if source is None:
            found.drift[zone_name] = {"checked": False, "why": "no secondary reachable over SSH"}
            return "-"
        text, failure = served_by_transfer(session, zone_name, source, primary, host_facts[source])
        how = f"AXFR of {zone.primary} from {source}"
    else:
        if zone.primary not in reachable or host_facts[zone.primary].layout is None:
            found.drift[zone_name] = {"checked": False, "why": "the primary is not reachable over SSH"}
            return "-"
        text, failure = served_by_file(session, zone_name, zone.primary, host_facts[zone.primary])
        how = f"the zone file on {zone.primary} (no secondary may transfer the zone)"
    if failure is None:
        try:
            difference = verify.drift(inventory, zone_name, text)
        except dns.exception.DNSException as exc:
            failure = f"cannot read the records listed by {how}: {exc}"
    if failure is not None:
        found.drift[zone_name] = {"checked": False, "how": how, "why": failure}
        problems.append(Problem(zone.primary, zone_name, "drift", failure))
        return "FAIL"
    found.drift[zone_name] = {
        "checked": True,
        "how": how,
        "extra": difference.extra,
        "missing": difference.missing,
    }
    for label, records in (
        ("served but not in the inventory", difference.extra),
        ("in the inventory but not served", difference.missing),
    ):
        if records:
            shown = ", ".join(records[:5]) + (f" (+{len(records) - 5} more)" if len(records) > 5 else "")
            problems.append(Problem(zone.primary, zone_name, "drift", f"{label}: {shown}"))
    return "FAIL" if difference.extra or difference.missing else "ok"


def served_by_transfer(
    session: Session, zone_name: str, secondary: str, primary: str, host: HostFacts
) -> tuple[str, str | None]:
    """The zone as the primary serves it, by an AXFR run on the secondary (from its own address,
    with the TSIG key its named uses); the text, or why there is none."""
    connection = session.fleet[secondary]
    assert host.layout is not None
    own = session.inventory.servers[secondary].address
    config, _ = parse_config(
        connection.run(["sh", "-c", CONFIG_SCRIPT, "dnsctl-config", host.layout.named_conf, zone_name]).stdout
    )
    key = transfer_key(session, config, zone_name, primary)
    output = connection.run(
        transfer_command(
            zone_name, [primary], source=own, key=key, named_conf=host.layout.named_conf, mode="dump"
        )
    ).stdout
    attempt = parse_transfers(output).get(primary)
    if attempt is None:
        return (
            "",
            f"dig is not installed on {secondary} (bind9-dnsutils or bind-utils): cannot list the records",
        )
    if not attempt.ok:
        return "", (
            f"AXFR of the zone from {secondary}: {attempt.describe()} "
            f"(`dnsctl doctor {zone_name} {secondary}` says why)"
        )
    return "\n".join(sections(output).get(primary, [])), None


def transfer_key(session: Session, config: NamedConfig, zone_name: str, primary: str) -> str | None:
    """The TSIG key a secondary's named (configured as config) uses to transfer the zone from
    the primary at that address: the zone's own, or its catalog's for a member."""
    inventory = session.inventory
    member_of = inventory.catalog if zone_name in inventory.catalog_members() else None
    return config.primary_key(zone_name, member_of, primary)


def served_by_file(session: Session, zone_name: str, primary: str, host: HostFacts) -> tuple[str, str | None]:
    """The zone as the primary's zone file has it, as named-checkzone loads it; or why not."""
    assert host.layout is not None
    path = host.layout.primary_file(zone_name)
    result = session.fleet[primary].run(
        ["sh", "-c", ZONE_DUMP_SCRIPT, "dnsctl-zone", zone_name, path], check=False
    )
    return result.stdout, None if result.ok else f"{path} does not load: {result.reason()}"


def _show(session: Session, found: Findings, client: str | None) -> None:
    report = session.report
    zones: dict[str, dict[str, object]] = {}
    for row in found.rows:
        zones.setdefault(row.zone, {})[row.server] = {**row.data, "checks": dict(row.cells)}
    report.data.update(
        zones=zones,
        firewall=found.firewalls,
        drift=found.drift,
        transfer_asked_from=["this machine", *([client] if client else [])],
        problems=[
            {"host": p.host, "zone": p.zone, "check": p.check, "detail": p.detail} for p in found.problems
        ],
    )
    if not report.json_mode and found.rows:
        report.text(table(found.rows))
    for server, zone, summary in found.signatures:
        report.add(server, f"{zone} DNSSEC", detail=summary)
    for problem in found.problems:
        report.add(
            problem.host,
            f"{problem.zone} {problem.check}" if problem.zone else problem.check,
            "fail",
            detail=problem.detail,
        )
    if not found.problems:
        report.add(
            "status", "every zone served as the inventory says", detail=f"{len(found.rows)} copies checked"
        )


def table(rows: list[Row]) -> str:
    """The rows as aligned columns, for people."""
    header = ["zone", "server", "role", "serial", *CHECKS]
    lines = [header] + [
        [row.zone, row.server, row.role, str(row.serial) if row.serial is not None else "-"]
        + [row.cells[check] for check in CHECKS]
        for row in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
