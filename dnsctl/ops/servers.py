"""Server commands: init-primary, add-slave, catalog sync."""

from __future__ import annotations

from collections.abc import Sequence

from dnsctl import catalog, verify
from dnsctl.errors import UsageError, VerifyError
from dnsctl.ops.catalog import finish_consumers, wait_until_gone
from dnsctl.ops.converge import Wants, converge
from dnsctl.ops.dnssec import verify_signing
from dnsctl.ops.session import Session
from dnsctl.ops.tsig import settle_catalog_transfers
from dnsctl.plan import HostPlan


def init_primary(session: Session, zone_name: str) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    plans = converge(
        session, {zone.primary: catalog.wants_on_primary(inventory, zone_name)}, [[zone.primary]]
    )
    if session.options.dry_run:
        return
    verify_primary(session, zone_name, plans[zone.primary])


def verify_primary(session: Session, zone_name: str, plan: HostPlan) -> None:
    report = session.report
    with report.step(plan.server, f"verify {zone_name} SOA at {plan.address}") as step:
        answer = verify.soa(plan.address, zone_name)
        expected = plan.expect_serials[zone_name]
        signed = zone_name in plan.inline_signed
        if not verify.serial_reached(answer, expected, at_least=signed):
            wanted = verify.wanted_serial(expected, at_least=signed)
            raise VerifyError(
                f"{plan.server}: {zone_name} SOA: expected serial {wanted} with AA, "
                f"got {verify.describe(answer)}"
            )
        step.detail = f"serial {answer.serial}, authoritative"
        step.data["serial"] = answer.serial
    count = len(session.inventory.records(zone_name))
    if count <= verify.MAX_CHECKED_RRSETS:
        action = f"verify the {count} inventory records at {plan.address}"
    else:  # the serial vouches for the rest: named loaded the file that was validated
        action = f"verify a sample of the {count} inventory records at {plan.address}"
    with report.step(plan.server, action) as step:
        if count > verify.MAX_CHECKED_RRSETS:
            step.detail = f"at most {verify.MAX_CHECKED_RRSETS} record sets: each type, evenly spread"
        problems = verify.check_records(session.inventory, zone_name, plan.address)
        if problems:
            raise VerifyError(
                f"{plan.server}: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            )
    if session.inventory.signing_policy(zone_name):
        verify_signing(session, plan.server, zone_name)


def add_slave(session: Session, zone_name: str, servers: Sequence[str] = ()) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    for server in servers:
        inventory.server(server)
        if server not in zone.secondaries:
            raise UsageError(
                f"{server!r} is not a secondary of {zone_name} in the inventory "
                f"(secondaries: {', '.join(zone.secondaries) or 'none'})"
            )
    targets = list(dict.fromkeys(servers or zone.secondaries))
    if not targets:
        raise UsageError(f"zone {zone_name} has no secondaries in the inventory")
    wants: Wants = {zone.primary: catalog.wants_on_primary(inventory, zone_name)}
    wants.update({server: catalog.wants_on_secondary(inventory, zone_name) for server in targets})
    # Each secondary's transfer is part of the activation: one that does not come rolls
    # back that secondary and the primary's change, and nothing is left half-made.
    plans = converge(session, wants, [[zone.primary], targets], follow_secondaries=True)
    if not session.options.dry_run and zone_name in inventory.catalog_members():
        finish_consumers(session, plans, targets, [zone_name])


def catalog_sync(session: Session) -> None:
    """The catalog and its members on the primary, the catalog on every consumer, and proof:
    every member served by every consumer, every zone removed from the inventory by none."""
    inventory = session.inventory
    name, primary = inventory.catalog, inventory.catalog_primary()
    if name is None:
        raise UsageError('the inventory has no catalog: add catalog = "catalog.example." at its top')
    if primary is None:
        raise UsageError(f"catalog {name} has no member: it lists the zones that have secondaries")
    if settle_catalog_transfers(session) and session.options.dry_run:
        return  # the rest is planned once the move is made
    members, consumers = inventory.catalog_members(), inventory.catalog_consumers()
    wants: Wants = {primary: {**dict.fromkeys(members, "primary"), name: "catalog"}}
    wants.update({server: {name: "consumer"} for server in consumers})
    plans = converge(session, wants, [[primary], consumers])
    if session.options.dry_run:
        return
    for member in members:
        verify_primary(session, member, plans[primary])
    finish_consumers(session, plans, consumers, members)
    listed = catalog.listed(plans[primary].current.get(plans[primary].layout.primary_file(name)))
    for gone in [zone for zone in listed if zone not in inventory.zones]:
        session.fleet.each(consumers, lambda server, z=gone: wait_until_gone(session, server, z))

