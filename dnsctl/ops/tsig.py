"""Moving zone transfers from one TSIG key to another with no moment in which a transfer fails:
`tsig rotate`, and `catalog sync` when the catalog's transfers change key (or gain or lose one).

Three changes, each a converge with its own validation and rollback:

1. the primary accepts the new way beside the old one;
2. each secondary asks the new way, proven by a forced transfer; a secondary that
   cannot transfer so goes back to the old way (which still works);
3. the primary accepts only the new way, and every secondary is made to transfer
   again to prove it (one that cannot rolls the step back: the primary accepts both).

A catalog consumer names the key once, in its catalog-zones block, for every member:
named moves the members it holds to a new key only when it reads the catalog again,
which the forced transfer of step 2 makes it do. Step 3 waits for that, then proves
each member's transfer too.

The key's generations on the primary say where a rotation stands: two of them mean
one stopped after step 1 or 2, and running it again finishes that one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from dnsctl import catalog, render, tsig
from dnsctl.errors import PreconditionError, UsageError
from dnsctl.ops import keys
from dnsctl.ops.catalog import let_named_read_the_catalog
from dnsctl.ops.converge import Wants, converge
from dnsctl.ops.session import Session


def key_and_zones(session: Session, target: str) -> tuple[str, list[str]]:
    """The key a `tsig rotate` argument names (a zone, the catalog, or a key by its name) and
    every zone it signs."""
    inventory = session.inventory
    name = target.rstrip(".").lower()
    if name in inventory.zones or name == inventory.catalog:
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
    servers = [primary, *_secondaries(session, zones)]
    session.connect(servers)
    session.lock(servers)  # held through all three steps

    held = tsig.generations(keys.held_keys(session, primary).values(), key)
    if not held:
        raise PreconditionError(
            f"{primary} holds no TSIG key {key} yet: run `dnsctl add-slave {zones[0]}` to set it up first"
        )
    signs_catalog = inventory.catalog is not None and key == inventory.tsig_key(inventory.catalog)
    if signs_catalog and _catalog_moving(session, primary, held):
        raise PreconditionError(
            f"{primary} still accepts the catalog's transfers otherwise than with key {key}: "
            "run `dnsctl catalog sync` to finish moving them first"
        )
    if len(held) == 1:
        new = keys.make_key(session, primary, tsig.next_generation(key, held, keys.now()))
        old = held
        report.add(primary, f"rotate TSIG key {key}", "plan", detail=f"{old[0].name} -> {new.name}")
    else:  # a rotation stopped half-way: finish it
        new, old = held[-1], held[:-1]
        names = ", ".join(each.name for each in old)
        report.add(primary, f"rotate TSIG key {key}", "plan", detail=f"finishing: {names} -> {new.name}")
    report.data["tsig"] = {"key": key, "old": [each.name for each in old], "new": new.name}
    both = tsig.Keyring({key: (*old, new)}, {key: new})
    only_new = tsig.Keyring({key: (new,)}, {key: new})
    with _asked_once(session):
        move_transfers(
            session, zones, both, only_new, f"key {new.name}", "the old key", f"with key {new.name}"
        )


def settle_catalog_transfers(session: Session) -> bool:
    """When the catalog's primary accepts its transfers otherwise than the inventory says (TSIG
    turned on, off, or another key), move the catalog and its members there in three steps;
    whether it did. A catalog not set up yet is set up as the inventory says by the caller."""
    inventory, report = session.inventory, session.report
    name, primary = inventory.catalog, inventory.catalog_primary()
    assert name is not None and primary is not None
    session.connect([primary])
    now = catalog_accepts(session, primary)
    if now is None:
        return False
    held = keys.held_keys(session, primary)
    key = inventory.tsig_key(name)
    old = " and ".join(
        (["the consumers' addresses"] if now.by_address else []) + [f"key {each}" for each in now.keys]
    )
    if key is None:
        if not now.keys:
            return False
        both = tsig.Keyring(retiring=tuple(held[each] for each in now.keys if each in held))
        final, new, asking = tsig.Keyring(), "the consumers' addresses", "without a key"
    else:
        current = tsig.generations(held.values(), key)
        if current and not now.by_address and set(now.keys) <= {each.name for each in current}:
            return False
        if not current:
            current = [keys.make_first_generation(session, primary, key)]
        others = tuple(held[each] for each in now.keys if each in held and held[each] not in current)
        by_address = frozenset({key}) if now.by_address else frozenset()
        both = tsig.Keyring({key: (*others, *current)}, {key: current[-1]}, by_address)
        final = tsig.Keyring({key: tuple(current)}, {key: current[-1]})
        new, asking = f"key {current[-1].name}", f"with key {current[-1].name}"
    report.add(primary, f"catalog {name} transfers", "plan", detail=f"{old} -> {new}")
    report.data["catalog_transfers"] = {"from": old, "to": new}
    servers = [primary, *inventory.catalog_consumers()]
    session.connect(servers)
    session.lock(servers)
    with _asked_once(session):
        move_transfers(session, inventory.catalog_members(), both, final, new, old, asking)
    return True


def _catalog_moving(session: Session, primary: str, generations: list[tsig.Key]) -> bool:
    """Whether the catalog's primary accepts its transfers by address or with another key
    (a move that stopped half-way): the consumers may still ask so."""
    now = catalog_accepts(session, primary)
    names = {each.name for each in generations}
    return now is not None and (now.by_address or not set(now.keys) <= names)


def catalog_accepts(session: Session, primary: str) -> catalog.Accepted | None:
    """What the catalog's stanza in dnsctl's file on its primary accepts; None without one."""
    for state in keys.read_layout_file(session, primary, lambda layout: layout.managed_conf):
        stanza = render.parse_managed(state.text).get(session.inventory.catalog or "")
        if stanza is not None:
            return catalog.accepted(stanza)
    return None


def move_transfers(
    session: Session,
    zones: Sequence[str],
    both: tsig.Keyring,
    final: tsig.Keyring,
    new: str,
    old: str,
    asking: str,
) -> None:
    """The three steps for zones of one primary: `both` accepts the old and the new way and has
    the secondaries ask the new way, `final` only the new one; new and old say in words what
    the primary accepts, asking how the secondaries ask."""
    inventory, report = session.inventory, session.report
    primary = inventory.zones[zones[0]].primary
    primary_wants: Wants = {primary: {}}
    secondary_wants: Wants = {}
    for zone in zones:
        primary_wants[primary].update(catalog.wants_on_primary(inventory, zone))
        for server in inventory.zones[zone].secondaries:
            secondary_wants.setdefault(server, {}).update(catalog.wants_on_secondary(inventory, zone))
    secondaries = list(secondary_wants)
    consumers = [server for server, wanted in secondary_wants.items() if "consumer" in wanted.values()]
    _step(session, 1, f"{primary} accepts {new} beside {old}", primary_wants, [[primary]], both)
    if secondaries:
        # Transferring the catalog again also makes a consumer's named read it again, and
        # move the members to the key the consumer's catalog-zones block names.
        who = "the consumers" if consumers == secondaries else "the secondaries"
        what = f"{who} ask {asking}, proven by a forced transfer"
        catalogs = {server: [inventory.catalog or ""] for server in consumers}
        _step(session, 2, what, secondary_wants, [secondaries], both, prove=catalogs)
    if session.options.dry_run:
        report.text(f"step 3 of 3 (then): {primary} accepts only {new}; every secondary transfers again")
        return
    if consumers:
        let_named_read_the_catalog(session, consumers)
    members = inventory.catalog_members()
    every_zone = {
        server: [*wanted, *(member for member in members if "consumer" in wanted.values())]
        for server, wanted in secondary_wants.items()
    }
    _step(
        session,
        3,
        f"{primary} accepts only {new}",
        {**primary_wants, **secondary_wants},
        [[primary], secondaries] if secondaries else [[primary]],
        final,
        prove=every_zone,
    )


def _secondaries(session: Session, zones: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(s for zone in zones for s in session.inventory.zones[zone].secondaries))


def _step(
    session: Session,
    number: int,
    what: str,
    wants: Wants,
    stages: list[list[str]],
    keyring: tsig.Keyring,
    prove: dict[str, list[str]] | None = None,
) -> None:
    """One step of the move: a converge with the step's keys; its plan kept apart in --json."""
    report = session.report
    report.text(f"step {number} of 3: {what}")
    converge(
        session,
        wants,
        stages,
        follow_secondaries=number > 1,
        keyring=keyring,
        prove=prove,
        moving_transfers=True,
    )
    report.data.setdefault("rotation", []).append(
        {"step": number, "what": what, "plan": report.data.pop("plan", {})}
    )


@contextlib.contextmanager
def _asked_once(session: Session) -> Iterator[None]:
    """The three steps are one change: asked about once, at the first plan that changes anything."""
    ask = session.options.confirm
    asked = False

    def once(question: str) -> None:
        nonlocal asked
        if not asked:
            ask(question)
            asked = True

    session.options.confirm = once
    try:
        yield
    finally:
        session.options.confirm = ask
