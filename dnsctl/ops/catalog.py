"""Catalog consumers after a change: the catalog transferred, explicit member stanzas moved
to the catalog without a moment unserved, removed members gone."""

from __future__ import annotations

import time
from collections.abc import Sequence

from dnsctl import catalog, interrupt, verify
from dnsctl.errors import VerifyError
from dnsctl.facts.named_config import parse_zone_status
from dnsctl.ops.converge import Wants, converge, primary_serial, wait_for_transfer
from dnsctl.ops.dnssec import verify_signing
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan
from dnsctl.render import parse_managed


def finish_consumers(
    session: Session,
    plans: dict[str, HostPlan],
    consumers: Sequence[str],
    members: Sequence[str],
    *,
    migrate: bool = True,
) -> None:
    """Wait until each consumer holds the primary's catalog, drop the explicit stanzas of the
    members it carried from before the catalog (unless not migrate), and wait until it
    serves the members.

    named keeps serving such a zone through the reload that drops its stanza, as the catalog's
    member, but only once it has read a catalog listing it; named reads a new catalog at most
    every MIN_UPDATE_INTERVAL seconds and tells no one when it has, so the stanzas go that
    long after the transfer.
    """
    inventory = session.inventory
    name, primary = inventory.catalog, inventory.catalog_primary()
    assert name is not None and primary is not None
    serial = plans[primary].expect_serials[name]
    session.fleet.each(list(consumers), lambda server: wait_for_catalog(session, server, serial))
    explicit = {server: explicit_members(session, plans[server]) for server in consumers if migrate}
    explicit = {server: zones for server, zones in explicit.items() if zones}
    if explicit:
        let_named_read_the_catalog(session, list(explicit))
        wants: Wants = {
            server: {name: "consumer", **dict.fromkeys(zones, "absent")} for server, zones in explicit.items()
        }
        converge(session, wants, [list(explicit)])
    # A member the primary changed this run: its arrival is timed from the primary's reload.
    changed = plans[primary].changed_zones()
    since = plans[primary].activated_at

    def served(server: str, zone: str) -> None:
        serial, later = primary_serial(session, plans, zone)
        changed_at = since if zone in changed else None
        wait_for_transfer(session, plans[server], zone, serial, changed_at, at_least=later, check_file=False)
        if inventory.signing_policy(zone):
            verify_signing(session, server, zone)

    for member in members:
        session.fleet.each(list(consumers), lambda server, zone=member: served(server, zone))


def let_named_read_the_catalog(session: Session, consumers: Sequence[str]) -> None:
    """Give each consumer's named the time to read the catalog it just transferred.

    named reads a new catalog at most MIN_UPDATE_INTERVAL seconds after the last one it
    read and tells no one when it has: no query or rndc command shows it.
    """
    seconds = catalog.MIN_UPDATE_INTERVAL + 1
    with session.report.step(",".join(consumers), f"let named read the catalog ({seconds} s)"):
        time.sleep(seconds)


def explicit_members(session: Session, plan: HostPlan) -> list[str]:
    """The catalog's members this consumer had as dnsctl's own secondary stanzas."""
    stanzas = parse_managed(plan.current.get(plan.layout.managed_conf))
    return [zone for zone in session.inventory.catalog_members() if "\ttype slave;" in stanzas.get(zone, "")]


def wait_for_catalog(session: Session, server: str, serial: int) -> None:
    """Poll the consumer's copy of the catalog (it answers localhost only) until it has serial."""
    name = session.inventory.catalog
    assert name is not None
    connection, timeout = session.fleet[server], session.options.timeout
    with session.report.step(server, f"wait for catalog {name} serial {serial} (rndc zonestatus)") as step:
        deadline = time.monotonic() + timeout
        while True:
            result = connection.run(["rndc", "zonestatus", name], check=False)
            held = parse_zone_status(result.stdout, 0 if result.ok else 1).serial
            answer = verify.SoaAnswer(held, True, "NOERROR")
            if verify.serial_reached(answer, serial, at_least=True):
                step.detail = f"serial {held}"
                return
            if time.monotonic() >= deadline:
                got = f"serial {held}" if held is not None else result.reason()
                raise VerifyError(f"{server}: catalog {name} not transferred within {timeout:.0f} s ({got})")
            interrupt.checkpoint()
            time.sleep(0.2)


def wait_until_gone(session: Session, server: str, zone: str) -> None:
    """The consumer stops serving a zone the catalog no longer lists.

    A zone that came into the catalog from an explicit stanza stays until named reloads
    its configuration (named deletes only the zones it added itself), so a consumer
    still serving it once the catalog update is due is told to `rndc reconfig`.
    """
    address = session.inventory.servers[server].address
    timeout = session.options.timeout
    with session.report.step(server, f"{zone} no longer served at {address}") as step:
        started = time.monotonic()
        reconfigured = False
        while True:
            answer = verify.soa(address, zone, timeout=1.0)
            if not answer.ok:
                step.detail = f"{verify.describe(answer)} after {time.monotonic() - started:.2f}s"
                return
            waited = time.monotonic() - started
            if not reconfigured and waited > catalog.MIN_UPDATE_INTERVAL + 2:
                session.fleet[server].run(["rndc", "reconfig"])
                reconfigured = True
            if waited >= timeout:
                raise VerifyError(
                    f"{server}: still serves {zone} {timeout:.0f} s after the catalog dropped it"
                )
            interrupt.checkpoint()
            time.sleep(0.1)
