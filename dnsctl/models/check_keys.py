"""Keys across zones: a TSIG key shared only by zones of one primary; DNSSEC policies that
exist, under names BIND accepts."""

from __future__ import annotations

from dnsctl.models.problems import Problems
from dnsctl.models.schema import BUILTIN_POLICIES, Inventory
from dnsctl.models.values import HOST_KEY


def check_tsig(inventory: Inventory, problems: Problems) -> None:
    """A key is made on its zones' primary and accepted there: zones sharing one share that primary."""
    first: dict[str, str] = {}
    for zone_name, zone in inventory.zones.items():
        key = inventory.tsig_key(zone_name)
        if key is None:
            continue
        other = first.setdefault(key, zone_name)
        if inventory.zones[other].primary != zone.primary:
            problems.add(
                ("zones", zone_name, "tsig"),
                f"key {key!r} is also the key of zone {other}, whose primary is "
                f"{inventory.zones[other].primary}: zones sharing a key must share their primary",
            )


def check_dnssec(inventory: Inventory, problems: Problems, unchecked: set[tuple[str, ...]]) -> None:
    for name in inventory.dnssec_policies:
        if not HOST_KEY.fullmatch(name) or name in BUILTIN_POLICIES:
            builtin = ", ".join(BUILTIN_POLICIES)
            problems.add(
                ("dnssec_policies", name),
                f"policy name must be letters, digits, '-' or '_', and not {builtin}",
            )
    for zone_name, zone in inventory.zones.items():
        setting = zone.dnssec
        if not isinstance(setting, str) or setting == "default" or setting in inventory.dnssec_policies:
            continue
        if ("dnssec_policies",) in unchecked or ("dnssec_policies", setting) in unchecked:
            continue  # the policy is there, with a problem of its own
        known = ", ".join(["default", *inventory.dnssec_policies])
        problems.add(
            ("zones", zone_name, "dnssec"), f"unknown policy {setting!r} (true, false, or one of: {known})"
        )
