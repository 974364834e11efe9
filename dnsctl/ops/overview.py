"""check: what the inventory describes, touching no host.

Its own module, so `dnsctl check` loads neither the SSH nor the DNS libraries.
"""

from __future__ import annotations

from dnsctl.ops.session import Session


def check(session: Session) -> None:
    """Show what the (already validated) inventory describes; touches no host."""
    inventory = session.inventory
    for name, zone in inventory.zones.items():
        derived_from = inventory.derived_from(name)
        session.report.add(
            "inventory",
            f"zone {name}",
            detail=f"primary {zone.primary}, secondaries {', '.join(zone.secondaries) or 'none'}, "
            f"{len(inventory.records(name))} records"
            + (f", PTRs derived from {', '.join(derived_from)}" if derived_from else ""),
        )
    session.report.data["inventory"] = inventory.model_dump()
