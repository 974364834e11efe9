"""doctor: walk a zone's transfer path from its primary to each secondary; name the first broken
link and its fix (transfer_path.py judges the links). Reads only.

Each link is read on the side where it can break: named, its configuration, its sockets, its
firewall and its journal on the primary; the path to the primary (SOA over UDP and TCP, an AXFR
from the secondary's own address with the TSIG key its named uses), its directory and its log
on the secondary.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from dnsctl.errors import PreconditionError, UsageError, VerifyError
from dnsctl.facts.dig import Transfer, parse_transfers, transfer_command
from dnsctl.facts.doctor import PrimaryPath, SecondaryPath, parse_primary_path, parse_secondary_path
from dnsctl.facts.named_config import parse_config
from dnsctl.facts.scripts import (
    CONFIG_SCRIPT,
    PRIMARY_PATH_SCRIPT,
    SECONDARY_PATH_SCRIPT,
)
from dnsctl.ops.session import Session
from dnsctl.ops.status import read_host, transfer_key
from dnsctl.transfer_path import Link, Pair, Side, walk


def doctor(session: Session, zone_name: str, secondary: str | None = None) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    if secondary is not None:
        inventory.server(secondary)
        if secondary not in zone.secondaries:
            raise UsageError(
                f"{secondary!r} is not a secondary of {zone_name} in the inventory "
                f"(secondaries: {', '.join(zone.secondaries) or 'none'})"
            )
    targets = [secondary] if secondary else list(zone.secondaries)
    if not targets:
        raise UsageError(f"zone {zone_name} has no secondaries: there is no transfer path to walk")
    session.connect([zone.primary, *targets])
    pairs = read_pairs(session, zone_name, zone.primary, targets)
    report = session.report
    broken: dict[str, Link] = {}
    for name, pair in zip(targets, pairs, strict=True):
        report.text(f"{zone_name}: {zone.primary} -> {name}")
        links = walk(pair)
        for link in links:
            report.add(
                link.host,
                link.check,
                "ok" if link.ok else "fail",
                detail=link.detail,
                secondary=name,
                **({"fix": link.fix, "log": list(link.evidence)} if not link.ok else {}),
            )
        last = links[-1]
        if not last.ok:
            broken[name] = last
            report.text(f"     fix: {last.fix}")
            if last.evidence:
                report.text("     named's log:\n" + "\n".join(f"       {line}" for line in last.evidence))
    report.data["doctor"] = {
        name: {"healthy": name not in broken, "broken": _link_data(broken.get(name))} for name in targets
    }
    if broken:
        name, link = next(iter(broken.items()))
        more = f" ({len(broken)} of {len(targets)} secondaries broken)" if len(broken) > 1 else ""
        raise VerifyError(f"{zone_name} to {name}: {link.check}: {link.detail}{more}")


def _link_data(link: Link | None) -> dict[str, object] | None:
    if link is None:
        return None
    return {
        "host": link.host,
        "check": link.check,
        "detail": link.detail,
        "fix": link.fix,
        "log": list(link.evidence),
    }


def read_side(session: Session, name: str, zone_name: str) -> Side:
    """Host facts and named's configuration of one side."""
    host = read_host(session, name)
    layout = host.known_layout(name)
    config_text = (
        session.fleet[name]
        .run(["sh", "-c", CONFIG_SCRIPT, "dnsctl-config", layout.named_conf, zone_name])
        .stdout
    )
    config, loaded = parse_config(config_text)
    return Side(name, session.inventory.servers[name].address, host, config, loaded)


def read_pairs(session: Session, zone_name: str, primary_name: str, secondaries: list[str]) -> list[Pair]:
    """Read both sides of the path from the primary to each secondary."""
    names = [primary_name, *secondaries]
    sides = dict(
        zip(names, session.fleet.each(names, lambda name: read_side(session, name, zone_name)), strict=True)
    )
    primary = sides[primary_name]
    probes = session.fleet.each(
        secondaries, lambda name: probe_from(session, zone_name, primary, sides[name])
    )
    # Read last, the primary's log holds what our own probes made named say (a denial, a TSIG error).
    at_primary, primary_clock = read_primary_path(session, primary, zone_name)
    return [
        Pair(
            zone_name,
            primary,
            sides[name],
            at_primary,
            probe.at_secondary,
            probe.transfer,
            probe.key,
            None if probe.clock is None or primary_clock is None else probe.clock - primary_clock,
        )
        for name, probe in zip(secondaries, probes, strict=True)
    ]


@dataclass(frozen=True)
class Probe:
    """What the secondary sees of the path to the primary."""

    at_secondary: SecondaryPath
    transfer: Transfer
    key: str | None  # the TSIG key the secondary's named uses towards the primary
    clock: float | None  # the secondary's clock minus ours


def _timed(session: Session, name: str, argv: list[str]) -> tuple[str, float]:
    """Run argv on a host; its output and our clock in the middle of the round trip."""
    before = time.time()
    output = session.fleet[name].run(argv).stdout
    return output, (before + time.time()) / 2


def read_primary_path(session: Session, primary: Side, zone_name: str) -> tuple[PrimaryPath, float | None]:
    """The primary's sockets, firewall, journal and log; and its clock minus ours."""
    firewall_zone = primary.host.firewall.zone if primary.host.firewall.state == "running" else None
    output, ours = _timed(
        session,
        primary.name,
        [
            "sh",
            "-c",
            PRIMARY_PATH_SCRIPT,
            "dnsctl-doctor",
            zone_name,
            primary.zone_file(zone_name, primary.layout.primary_file(zone_name)),
            firewall_zone or "",
        ],
    )
    path = parse_primary_path(output, firewall_zone)
    return path, None if path.clock is None else path.clock - ours


def probe_from(session: Session, zone_name: str, primary: Side, secondary: Side) -> Probe:
    """On the secondary: SOA over UDP and TCP and an AXFR to the primary, the zone's directory,
    journal and log."""
    layout = secondary.layout
    key = transfer_key(session, secondary.config, zone_name, primary.address)
    output, ours = _timed(
        session,
        secondary.name,
        [
            "sh",
            "-c",
            SECONDARY_PATH_SCRIPT,
            "dnsctl-doctor",
            zone_name,
            primary.address,
            secondary.zone_file(zone_name, layout.secondary_file(zone_name)),
            layout.group,
        ],
    )
    at_secondary = parse_secondary_path(output)
    if at_secondary is None:
        raise PreconditionError(
            f"{secondary.name}: dig is not installed (bind9-dnsutils or bind-utils); "
            "doctor runs it there to test the path to the primary"
        )
    asked = transfer_command(
        zone_name, [primary.address], source=secondary.address, key=key, named_conf=layout.named_conf
    )
    transfers = parse_transfers(session.fleet[secondary.name].run(asked).stdout)
    clock = None if at_secondary.clock is None else at_secondary.clock - ours
    return Probe(at_secondary, transfers[primary.address], key, clock)
