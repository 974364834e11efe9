"""Undo a change that failed after activation began, and prove it undone by what is served.

Every activated host gets its old files back and named reloads them; then each
server of every zone the change touched is asked, by DNS, for the records the
change altered: the primary and every secondary that had the zone must answer
the old ones (under a serial above the failed one, so secondaries that took the
failed version follow back), and a server that did not carry the zone before
must no longer answer for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import dns.exception
import dns.name
import dns.rdatatype
import dns.serial
import dns.zone
from dns.rdata import Rdata

from dnsctl import apply, render, verify
from dnsctl.errors import DnsctlError, RollbackFailed, RolledBack
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan

RRsets = dict[tuple[dns.name.Name, int], frozenset[Rdata]]


@dataclass(frozen=True)
class Expected:
    """What one server must answer for one zone once the rollback is done."""

    server: str
    address: str
    zone: str
    served: bool  # False: the server did not carry the zone before, and must not answer for it now
    serial: int | None = None  # the serial it must reach, when known
    failed: int | None = None  # the serial of the undone change, which it must no longer serve
    records: RRsets = field(default_factory=dict)  # the old records of what the change touched
    known_to_carry: bool = True  # False: a secondary outside this run, checked only if it answers
    primary: bool = False  # the zone's primary: it must load the restored file itself
    signed: bool = False  # signed inline: named serves a serial at or after the restored one


def roll_back(
    session: Session,
    plans: dict[str, HostPlan],
    wants: dict[str, dict[str, str]],
    activations: list[apply.Activation],
    cause: BaseException,
) -> None:
    """Undo every activation, newest first, then check every server of the touched zones.

    Always raises: RolledBack when every server serves what it served before,
    RollbackFailed naming each host's state otherwise. Run it inside
    interrupt.shield(): it must not stop half-way.
    """
    report = session.report
    reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause)
    states: dict[str, str] = {}
    for activation in reversed(activations):
        name = activation.plan.server
        try:
            with report.step(name, "roll back"):
                apply.rollback(session.fleet[name], activation)
            states[name] = "rolled back"
        except (DnsctlError, OSError) as exc:
            states[name] = (
                f"NOT rolled back ({exc}): the new files may be in place; the old ones are in "
                f"{activation.backup_dir}"
            )
    stuck = {name for name, state in states.items() if state != "rolled back"}
    # A server whose rollback failed, or whose zone's primary's did, cannot be back yet.
    expectations = [
        expected
        for expected in expected_after_rollback(session, plans, wants, activations)
        if not {expected.server, session.inventory.zones[expected.zone].primary} & stuck
    ]
    problems = session.fleet.each(expectations, lambda e: _confirm(session, e))
    for expected, problem in zip(expectations, problems, strict=True):
        if problem:
            before = states.get(expected.server)
            states[expected.server] = f"{before}, but {problem}" if before else str(problem)
    failed = stuck or any(problems)
    hosts = ", ".join(activation.plan.server for activation in activations)
    if failed:
        summary = "; ".join(f"{host}: {state}" for host, state in states.items())
        raise RollbackFailed(f"{reason}; ROLLBACK FAILED: {summary}") from None
    raise RolledBack(f"{reason}; rolled back {hosts} to the previous configuration") from None


def expected_after_rollback(
    session: Session,
    plans: dict[str, HostPlan],
    wants: dict[str, dict[str, str]],
    activations: list[apply.Activation],
) -> list[Expected]:
    """What each server of each zone the change touched must answer once it is undone."""
    inventory = session.inventory
    activated = {activation.plan.server: activation for activation in activations}
    # The catalog zone and zones leaving the inventory come back with the files; there is
    # no inventory zone to say who must serve them, so no server is asked.
    zones = dict.fromkeys(zone for name in activated for zone in wants[name] if zone in inventory.zones)
    expectations = []
    for zone in zones:
        primary = inventory.zones[zone].primary
        secondaries = dict.fromkeys(
            [*inventory.zones[zone].secondaries, *(s for s in plans if wants[s].get(zone) == "secondary")]
        )
        secondaries.pop(primary, None)
        undone = _undone_zone_change(activated.get(primary), zone)
        if primary in activated:
            expectations.append(_primary_expectation(activated[primary], zone, undone))
            if not _carried(activated[primary].plan, zone):
                undone = None  # no old zone for anyone to serve
        for server in secondaries:
            address = inventory.servers[server].address
            if server in activated and not _carried(activated[server].plan, zone):
                expectations.append(Expected(server, address, zone, served=False))
            elif undone is not None:
                serial, failed, records = undone
                expectations.append(
                    Expected(
                        server,
                        address,
                        zone,
                        served=True,
                        serial=serial,
                        failed=failed,
                        records=records,
                        known_to_carry=server in activated,
                    )
                )
            elif server in activated:
                expectations.append(Expected(server, address, zone, served=True))
    signed = {zone for plan in plans.values() for zone in plan.inline_signed}
    return [replace(expected, signed=expected.zone in signed) for expected in expectations]


def _carried(plan: HostPlan, zone: str) -> bool:
    """Whether the server answered for the zone before the change: named ran (the rollback
    stops it again otherwise) with the zone in dnsctl's configuration."""
    return plan.facts.named_active and zone in render.parse_managed(
        plan.current.get(plan.layout.managed_conf)
    )


def _undone_zone_change(
    activation: apply.Activation | None, zone: str
) -> tuple[int | None, int, RRsets] | None:
    """For a primary whose zone file was replaced: the serial the old content went back
    under (None if its file never went into place), the failed serial, and the old
    records of every name and type the change altered."""
    if activation is None:
        return None
    plan = activation.plan
    change = next((c for c in plan.changes if c.kind == "zone" and c.zone == zone), None)
    if change is None or change.old is None:
        return None
    return (
        activation.restored_serials.get(zone),
        plan.expect_serials[zone],
        changed_rrsets(zone, change.old, change.new),
    )


def _primary_expectation(
    activation: apply.Activation, zone: str, undone: tuple[int | None, int, RRsets] | None
) -> Expected:
    plan = activation.plan
    if not _carried(plan, zone):
        return Expected(plan.server, plan.address, zone, served=False)
    if undone is None:  # only the configuration changed: the zone is as it was
        return Expected(plan.server, plan.address, zone, served=True, serial=plan.expect_serials.get(zone))
    serial, failed, records = undone
    return Expected(plan.server, plan.address, zone, True, serial, failed, records, primary=True)


def changed_rrsets(zone: str, old_text: str, new_text: str) -> RRsets:
    """The old records of every (name, type) that differs between two versions of a zone file.

    An empty set: the name or type did not exist before. The SOA is left out,
    its serial differs by design. Nothing when a version cannot be read (e.g. it
    uses $INCLUDE): the serial is then the only proof.
    """
    try:
        old, new = _rrsets(zone, old_text), _rrsets(zone, new_text)
    except (dns.exception.DNSException, ValueError):
        return {}
    empty: frozenset[Rdata] = frozenset()
    return {
        key: old.get(key, empty)
        for key in old.keys() | new.keys()
        if key[1] != dns.rdatatype.SOA and old.get(key, empty) != new.get(key, empty)
    }


def _rrsets(zone: str, text: str) -> RRsets:
    parsed = dns.zone.from_text(text, origin=f"{zone}.", relativize=False, check_origin=False)
    return {(name, rdataset.rdtype): frozenset(rdataset) for name, rdataset in parsed.iterate_rdatasets()}


def _confirm(session: Session, expected: Expected) -> str | None:
    """Check one server by DNS; the problem in a few words, or None."""
    report, timeout = session.report, session.options.timeout
    zone = expected.zone
    with report.step(expected.server, f"after the rollback: {zone} at {expected.address}") as step:
        if not expected.served:
            answer = _wait_until_not_served(expected.address, zone, timeout)
            if answer.ok:
                step.status = "fail"
                step.detail = f"still serves {zone} ({verify.describe(answer)})"
                return f"still serves {zone}, which it did not carry before"
            step.detail = f"does not serve {zone}, as before ({verify.describe(answer)})"
            return None
        if expected.serial is not None:
            answer = verify.wait_for_serial(
                expected.address, zone, expected.serial, timeout, at_least=expected.signed
            )
        else:
            answer = verify.soa(expected.address, zone)
        if not expected.known_to_carry and not answer.ok:
            step.status = "skip"
            step.detail = f"does not serve {zone} ({verify.describe(answer)}): nothing to undo there"
            return None
        problem = _serial_problem(expected, answer)
        if problem is None:
            problems = verify.check_rrsets(expected.address, expected.records)
            if problems:
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                problem = f"{zone} does not answer the old records: {problems[0]}{more}"
        if problem:
            step.status = "fail"
            step.detail = problem
            return problem
        touched = len(expected.records)
        checked = f", the old records at the {touched} names and types the change touched" if touched else ""
        step.detail = f"serial {answer.serial}{checked}"
        step.data["serial"] = answer.serial
    return None


def _serial_problem(expected: Expected, answer: verify.SoaAnswer) -> str | None:
    zone = expected.zone
    if not answer.ok:
        return f"does not serve {zone} ({verify.describe(answer)})"
    assert answer.serial is not None
    if expected.serial is None or verify.serial_reached(answer, expected.serial, at_least=expected.signed):
        return None
    behind = expected.failed is not None and dns.serial.Serial(answer.serial) < dns.serial.Serial(
        expected.failed
    )
    if behind and not expected.primary:
        return None  # a secondary that never took the failed version still serves the old one
    return f"serves {zone} serial {answer.serial}, not {expected.serial}"


def _wait_until_not_served(address: str, zone: str, timeout: float) -> verify.SoaAnswer:
    deadline = time.monotonic() + timeout
    while True:
        answer = verify.soa(address, zone, timeout=1.0)
        if not answer.ok or time.monotonic() >= deadline:
            return answer
        time.sleep(verify.POLL_INTERVAL)
