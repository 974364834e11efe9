"""tsig rotate: replace a zone's TSIG key with no moment in which a transfer fails.

Three changes, each a converge with its own validation and rollback:

1. the primary accepts the new generation beside the old one;
2. each secondary asks with the new one, proven by a forced transfer; a secondary
   that cannot transfer with it goes back to the old one (which still works);
3. the primary accepts only the new one, and every secondary is made to transfer
   again to prove it.

The key's generations on the primary say where a rotation stands: two of them mean
one stopped after step 1 or 2, and running it again finishes that one.
"""

from __future__ import annotations

from dnsctl import tsig
from dnsctl.errors import PreconditionError, UsageError
from dnsctl.ops import keys
from dnsctl.ops.converge import Wants, converge
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan


def key_and_zones(session: Session, target: str) -> tuple[str, list[str]]:
    """The key a `tsig rotate` argument names (a zone, or a key by its name) and every zone it signs."""
    inventory = session.inventory
    name = target.rstrip(".").lower()
    if name in inventory.zones:
        key = inventory.tsig_key(name)
        if key is None:
            raise UsageError(f"zone {name} has no TSIG key: set tsig = true on it in the inventory")
    else:
        key = name
    zones = [zone for zone in inventory.zones if inventory.tsig_key(zone) == key]
    if not zones:
        known = ", ".join(dict.fromkeys(filter(None, map(inventory.tsig_key, inventory.zones)))) or "none"
        raise UsageError(f"{target!r} is neither a zone nor a TSIG key of the inventory (keys: {known})")
    return key, zones


def tsig_rotate(session: Session, target: str) -> None:
    inventory, report = session.inventory, session.report
    key, zones = key_and_zones(session, target)
    primary = inventory.zones[zones[0]].primary
    secondaries = list(dict.fromkeys(s for zone in zones for s in inventory.zones[zone].secondaries))
    servers = [primary, *secondaries]
    session.connect(servers)
    session.lock(servers)  # held through all three steps

    held = tsig.generations(keys.held_keys(session, primary).values(), key)
    if not held:
        raise PreconditionError(
            f"{primary} holds no TSIG key {key} yet: run `dnsctl add-slave {zones[0]}` to set it up first"
        )
    if len(held) == 1:
        new = keys.make_key(session, primary, tsig.next_generation(key, held, keys.now()))
        old = held
        report.add(primary, f"rotate TSIG key {key}", "plan", detail=f"{old[0].name} -> {new.name}")
    else:  # a rotation stopped half-way: finish it
        new, old = held[-1], held[:-1]
        names = ", ".join(each.name for each in old)
        report.add(primary, f"rotate TSIG key {key}", "plan", detail=f"finishing: {names} -> {new.name}")
    both = tsig.Keyring({key: (*old, new)}, {key: new})
    only_new = tsig.Keyring({key: (new,)}, {key: new})
    primary_wants: Wants = {primary: dict.fromkeys(zones, "primary")}
    secondary_wants: Wants = {
        server: {zone: "secondary" for zone in zones if server in inventory.zones[zone].secondaries}
        for server in secondaries
    }

    report.data["tsig"] = {"key": key, "old": [each.name for each in old], "new": new.name}

    _ask_once(session)
    _step(session, 1, f"{primary} accepts {new.name} beside the old key", primary_wants, [[primary]], both)
    if secondaries:
        what = f"the secondaries ask with {new.name}, proven by a forced transfer"
        _step(session, 2, what, secondary_wants, [secondaries], both)
    if session.options.dry_run:
        report.text(f"step 3 of 3 (then): {primary} accepts only {new.name}; every secondary transfers again")
        return
    plans = _step(
        session,
        3,
        f"{primary} accepts only {new.name}",
        {**primary_wants, **secondary_wants},
        [[primary], secondaries] if secondaries else [[primary]],
        only_new,
    )
    for server in secondaries:
        for zone in secondary_wants[server]:
            keys.prove_transfer(session, plans[server], zone, plans[primary].expect_serials[zone])


def _step(
    session: Session, number: int, what: str, wants: Wants, stages: list[list[str]], keyring: tsig.Keyring
) -> dict[str, HostPlan]:
    """One step of the rotation: a converge with the step's keys; its plan kept apart in --json."""
    report = session.report
    report.text(f"step {number} of 3: {what}")
    plans = converge(session, wants, stages, follow_secondaries=number > 1, keyring=keyring)
    report.data.setdefault("rotation", []).append(
        {"step": number, "what": what, "plan": report.data.pop("plan", {})}
    )
    return plans


def _ask_once(session: Session) -> None:
    """The three steps are one change: asked about once, at the first plan that changes anything."""
    ask = session.options.confirm
    asked = False

    def once(question: str) -> None:
        nonlocal asked
        if not asked:
            ask(question)
            asked = True

    session.options.confirm = once
