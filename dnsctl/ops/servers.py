"""Server commands: init-primary, add-slave."""

from __future__ import annotations

from collections.abc import Sequence

from dnsctl import verify
from dnsctl.errors import UsageError, VerifyError
from dnsctl.ops.converge import Wants, converge
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan


def init_primary(session: Session, zone_name: str) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    plans = converge(session, {zone.primary: {zone_name: "primary"}}, [[zone.primary]])
    if session.options.dry_run:
        return
    verify_primary(session, zone_name, plans[zone.primary])


def verify_primary(session: Session, zone_name: str, plan: HostPlan) -> None:
    report = session.report
    with report.step(plan.server, f"verify {zone_name} SOA at {plan.address}") as step:
        answer = verify.soa(plan.address, zone_name)
        expected = plan.expect_serials[zone_name]
        if not (answer.ok and answer.serial == expected):
            raise VerifyError(
                f"{plan.server}: {zone_name} SOA: expected serial {expected} with AA, "
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
    wants: Wants = {zone.primary: {zone_name: "primary"}}
    wants.update({server: {zone_name: "secondary"} for server in targets})
    # Each secondary's transfer is part of the activation: one that does not come rolls
    # back that secondary and the primary's change, and nothing is left half-made.
    converge(session, wants, [[zone.primary], targets], follow_secondaries=True)

