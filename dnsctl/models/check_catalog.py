"""The catalog zone's members: one primary, one set of consumers, one TSIG key (or none),
and an allow-query the catalog can carry."""

from __future__ import annotations

from dnsctl.models.problems import Problems
from dnsctl.models.schema import Inventory


def check_catalog(inventory: Inventory, problems: Problems) -> None:
    if inventory.catalog is None:
        return
    if inventory.catalog in inventory.zones:
        problems.add(("catalog",), f"{inventory.catalog} is a zone of the inventory; name the catalog apart")
    members = inventory.catalog_members()
    if not members:
        return  # nothing to list yet: `catalog sync` says so
    first = inventory.zones[members[0]]
    for name in members[1:]:
        zone = inventory.zones[name]
        if zone.primary != first.primary:
            problems.add(
                ("zones", name, "primary"),
                f"a catalog member's primary must be the catalog's ({first.primary}, as for {members[0]}); "
                "or set in_catalog = false",
            )
        elif set(zone.secondaries) != set(first.secondaries):
            problems.add(
                ("zones", name, "secondaries"),
                f"every consumer of the catalog serves every member: a member's secondaries must be "
                f"{', '.join(first.secondaries)} (as for {members[0]}); or set in_catalog = false",
            )
    key = inventory.tsig_key(members[0])
    for name in members[1:]:
        if inventory.tsig_key(name) != key:
            problems.add(("zones", name, "tsig"), _catalog_key_problem(inventory, name, members[0]))
    for name in members:
        if "localnets" in inventory.zones[name].allow_query:
            problems.add(
                ("zones", name, "allow_query"),
                "a catalog member's allow-query travels in the catalog as addresses and networks; "
                "localnets cannot be said there",
            )


def _catalog_key_problem(inventory: Inventory, zone: str, first: str) -> str:
    """Why a member's tsig differs from the first member's: consumers name one key for all
    members (catalog-zones default-primaries), so the members share one key or none has one."""
    own, theirs = inventory.tsig_key(zone), inventory.tsig_key(first)
    if theirs is None:
        wanted = f"{first}'s transfers are not signed, so no member's can be"
    else:
        wanted = f"every member transfers with {first}'s key {theirs!r}"
    hint = ""
    named_after_zones = True in (inventory.zones[zone].tsig, inventory.zones[first].tsig)
    if own is not None and theirs is not None and named_after_zones:
        hint = f' (tsig = true names a key after its zone: give every member tsig = "{theirs}")'
    return (
        f"the catalog's consumers ask for all members with one key: {wanted}{hint}; or set in_catalog = false"
    )
