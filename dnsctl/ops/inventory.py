"""apply: the inventory is the desired state; converge every server to it in one run.

One pass reads every server in parallel (one connection each) and plans what
each must carry: the inventory's zones, in the role it gives each server. With
nothing to change apply stops there, after asking each server by DNS whether it
serves every zone at the expected serial: no write, no reload. Otherwise the
plan is shown and asked for once, every host is staged and validated, and hosts
are activated primaries before their secondaries, each secondary's transfer part
of its stage, through the same engine as init-primary and add-slave (validation,
backups, rollback). Then every record of each changed zone is verified at its
primary, and catalog consumers are waited for until they serve each member the
catalog gives them and none it dropped.

Zones dnsctl configured on a server that the inventory no longer gives it (a
dropped zone, a secondary taken off a zone's list) are named in the plan; with
--prune their stanzas are removed from dnsctl's own file and, once named no
longer serves them, their files are moved into the run's backup directory.
Nothing dnsctl did not write is ever removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from dnsctl import apply, catalog, interrupt, verify
from dnsctl.errors import VerifyError
from dnsctl.models import Inventory
from dnsctl.ops.catalog import finish_consumers, wait_until_gone
from dnsctl.ops.converge import Wants, carry_out, plan_servers, show_plans
from dnsctl.ops.servers import verify_primary
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan


def apply_inventory(
    session: Session, zones: Sequence[str] = (), *, prune: bool = False, check: bool = False
) -> None:
    """Converge ZONES (default: all) on every server the inventory gives them to.

    check: plan only, and fail (exit 1) when anything would change.
    """
    inventory, report = session.inventory, session.report
    named = [inventory.zone_name(zone) for zone in dict.fromkeys(zones)]
    # A zone's derived reverse zones hold its addresses' PTRs: they go with it, as in `record add`.
    selected = list(dict.fromkeys(name for zone in named for name in (zone, *inventory.reverse_zones(zone))))
    # A dropped zone or a dropped secondary can be on any server: look at all of them
    # when every zone is applied, or when pruning.
    servers = list(inventory.servers) if not selected or prune else None
    wants = desired_state(inventory, selected or list(inventory.zones), servers)
    removable = _removable(selected, prune)
    scanned = plan_servers(session, wants, list(wants), prune=removable)
    # A server the inventory gives no zone takes part only to lose zones dnsctl left there.
    plans = {name: plan for name, plan in scanned.items() if wants[name] or plan.changes}
    for plan in plans.values():
        plan.open_firewall = plan.open_firewall and bool(wants[plan.server])
    show_plans(report, plans)
    _show_stale(session, scanned)
    changing = [name for name, plan in plans.items() if not plan.empty]
    report.data["changes"] = bool(changing)
    if check:
        if changing:
            raise VerifyError(f"{', '.join(changing)} would change; `dnsctl apply` converges them")
        report.text("check: nothing would change")
        return
    if session.options.dry_run:
        report.text("dry run: nothing was changed")
        return
    if changing:
        _converge(session, plans, wants, removable)
    changed = {name: plan.changed_zones() for name, plan in plans.items()}
    session.fleet.each(
        list(plans), lambda name: _verify(session, plans, changed, wants, name, bool(changing))
    )
    if inventory.catalog is not None:
        _verify_consumers(session, plans, selected or list(inventory.zones))


def _verify_consumers(session: Session, plans: dict[str, HostPlan], zones: Sequence[str]) -> None:
    """The catalog's consumers serve each member applied, which the catalog (not dnsctl) gave
    them, and none of the zones the catalog dropped this run. Explicit member stanzas stay
    where they are (`catalog sync` moves them)."""
    inventory = session.inventory
    name, primary = inventory.catalog, inventory.catalog_primary()
    if name is None or primary not in plans:
        return
    consumers = [server for server in inventory.catalog_consumers() if server in plans]
    members = [zone for zone in zones if zone in inventory.catalog_members()]
    if consumers and members:
        finish_consumers(session, plans, consumers, members, migrate=False)
    before = plans[primary].current.get(plans[primary].layout.primary_file(name))
    for gone in [zone for zone in catalog.listed(before) if zone not in inventory.zones]:
        session.fleet.each(consumers, lambda server, zone=gone: wait_until_gone(session, server, zone))


def _converge(
    session: Session, plans: dict[str, HostPlan], wants: Wants, removable: Callable[[str], bool] | None
) -> None:
    """Ask once, carry the plans out stage by stage (each secondary's transfer part of its
    stage, rolled back with the rest), then retire the files of removed zones."""
    removing = sorted({zone for plan in plans.values() for zone in plan.removed})
    question = "Apply these changes?"
    if removing:
        question = f"Apply these changes, removing {', '.join(removing)} from servers?"
    stages = activation_order(session.inventory, {name: wants[name] for name in plans})
    carry_out(session, plans, wants, stages, question=question, prune=removable, follow_secondaries=True)
    retiring = [name for name, plan in plans.items() if plan.removed]
    session.fleet.each(retiring, lambda name: _retire(session, plans[name]))


def desired_state(inventory: Inventory, zones: Sequence[str], servers: Sequence[str] | None = None) -> Wants:
    """server -> zone -> role for the given zones; servers (default: those carrying the
    zones) each get an entry, an empty one when they carry none of them."""
    wants: Wants = {name: {} for name in servers or ()}
    for name in zones:
        zone = inventory.zones[name]
        # A catalog member brings the catalog to its primary, and its secondaries consume it.
        wants.setdefault(zone.primary, {}).update(catalog.wants_on_primary(inventory, name))
        for secondary in zone.secondaries:
            wants.setdefault(secondary, {}).update(catalog.wants_on_secondary(inventory, name))
    return wants


def activation_order(inventory: Inventory, wants: Wants) -> list[list[str]]:
    """Stages of servers: each zone's primary in a stage before its secondaries.

    Servers that wait on each other (one is primary of a zone the other is a
    secondary of, and the other way round) cannot be ordered: they share a stage,
    and once all of it is activated their secondaries are told to ask again (see
    converge._asked_too_early).
    """
    servers = list(wants)
    feeds: dict[str, set[str]] = {name: set() for name in servers}  # primary -> its secondaries
    for name, zones in wants.items():
        for zone, role in zones.items():
            primary = inventory.catalog_primary() if role == "consumer" else None
            if role == "secondary":
                primary = inventory.zones[zone].primary
            if primary in feeds:
                feeds[primary].add(name)
    reach = {name: _reachable(name, feeds) for name in servers}
    waits_for = {
        name: {other for other in servers if name in reach[other] and other not in reach[name]}
        for name in servers
    }
    stage_of: dict[str, int] = {}
    while len(stage_of) < len(servers):
        for name in servers:
            if name not in stage_of and all(other in stage_of for other in waits_for[name]):
                stage_of[name] = max((stage_of[other] + 1 for other in waits_for[name]), default=0)
    return [
        [name for name in servers if stage_of[name] == stage]
        for stage in range(max(stage_of.values(), default=-1) + 1)
    ]


def _reachable(start: str, edges: dict[str, set[str]]) -> set[str]:
    """Every server start feeds, directly or through others (start itself only on a cycle)."""
    seen: set[str] = set()
    todo = list(edges[start])
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(edges[name])
    return seen


def _removable(selected: list[str], prune: bool) -> Callable[[str], bool] | None:
    """Which stale zones this run removes: none without --prune; with it, the named zones, or all."""
    if not prune:
        return None
    if not selected:
        return lambda zone: True
    return set(selected).__contains__


def _show_stale(session: Session, plans: dict[str, HostPlan]) -> None:
    """Name the zones dnsctl left on a server that the inventory no longer gives it."""
    report = session.report
    for name, plan in plans.items():
        kept = {zone: role for zone, role in plan.stale.items() if zone not in plan.removed}
        if kept:
            report.data.setdefault("stale", {})[name] = kept
        for zone, role in kept.items():
            report.add(
                name,
                "plan",
                "plan",
                detail=f"{zone} ({role}) is dnsctl's but not in the inventory for {name}: "
                "`dnsctl apply --prune` removes it",
            )


def _retire(session: Session, plan: HostPlan) -> None:
    """Once named no longer serves the removed zones, move their files into the backup."""
    report, timeout = session.report, session.options.timeout
    for zone in plan.removed:
        with report.step(plan.server, f"{zone} no longer served at {plan.address}") as step:
            answer = _wait_until_not_served(plan.address, zone, timeout)
            if answer.ok:
                raise VerifyError(
                    f"{plan.server}: still serves {zone} after its removal ({verify.describe(answer)})"
                )
            step.detail = answer.error or f"answer {answer.rcode}"
    if plan.retire:
        with report.step(plan.server, f"keep the removed zones' files in {plan.backup_dir}") as step:
            step.detail = ", ".join(apply.retire(session.fleet[plan.server], plan)) or "none left"


def _wait_until_not_served(address: str, zone: str, timeout: float) -> verify.SoaAnswer:
    """Poll until the server stops answering for zone with authority; the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        interrupt.checkpoint()
        answer = verify.soa(address, zone, timeout=1.0)
        if not answer.ok or time.monotonic() >= deadline:
            return answer
        time.sleep(0.1)


def _verify(
    session: Session,
    plans: dict[str, HostPlan],
    changed: dict[str, set[str]],
    wants: Wants,
    name: str,
    after_change: bool,
) -> None:
    """What this server should serve, it serves: every record of each zone changed on it as
    primary, and the SOA of every zone the engine did not already prove (after a change,
    each secondary's transfer and an activated server's serials are part of its stage)."""
    inventory = session.inventory
    plan = plans[name]
    unproven: dict[str, tuple[str, int]] = {}
    for zone, role in wants[name].items():
        if role not in ("primary", "secondary"):
            continue  # the catalog: its members are what is proven
        if role == "primary" and zone in changed[name]:
            verify_primary(session, zone, plan)
        elif not after_change or (role == "primary" and plan.activated_at is None):
            unproven[zone] = (role, plans[inventory.zones[zone].primary].expect_serials[zone])
    if unproven:
        signed = {zone for each in plans.values() for zone in each.inline_signed}
        _verify_serials(session, plan, unproven, signed)


def _verify_serials(
    session: Session, plan: HostPlan, zones: dict[str, tuple[str, int]], signed: set[str]
) -> None:
    """One SOA query per zone, at the serial planned (the file's, or the primary's); a signed
    zone's named serves at or after it."""
    count = f"{len(zones)} zone" + ("s" if len(zones) > 1 else "")
    with session.report.step(plan.server, f"verify the SOA of {count} at {plan.address}") as step:
        for zone, (role, serial) in zones.items():
            answer = verify.soa(plan.address, zone, timeout=1.0)
            later = zone in signed
            if role == "secondary" and not verify.serial_reached(answer, serial, at_least=later):
                # A transfer may be on its way (the primary changed just now): wait for it.
                answer = verify.wait_for_serial(
                    plan.address, zone, serial, session.options.timeout, at_least=later
                )
            if not verify.serial_reached(answer, serial, at_least=later):
                raise VerifyError(
                    f"{plan.server}: {zone}: expected serial {serial} with AA, got {verify.describe(answer)}"
                )
        step.detail = "authoritative, at the expected serials"
        step.data["serials"] = {zone: serial for zone, (_, serial) in zones.items()}
