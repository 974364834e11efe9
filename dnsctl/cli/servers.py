"""The commands on the zone servers: set them up (init-primary, add-slave, apply, catalog
sync) and look at them (check, status, doctor)."""

from __future__ import annotations

from typing import Any

import click

from dnsctl import ops
from dnsctl.cli.completion import complete_servers, complete_zones
from dnsctl.cli.options import with_change_options
from dnsctl.cli.program import main
from dnsctl.cli.runner import run_op, set_options


@main.command("init-primary")
@click.argument("zone", shell_complete=complete_zones)
@with_change_options
@run_op("init-primary", changes=True)
def init_primary(session: ops.Session, zone: str, **options: Any) -> None:
    """Write ZONE on its primary, add it to named.conf, open DNS in firewalld, verify."""
    set_options(session, **options)
    ops.init_primary(session, zone)


@main.command("add-slave")
@click.argument("zone", shell_complete=complete_zones)
@click.argument("servers", nargs=-1, shell_complete=complete_servers)
@with_change_options
@run_op("add-slave", changes=True)
def add_slave(session: ops.Session, zone: str, servers: tuple[str, ...], **options: Any) -> None:
    """Make SERVERS (default: all the zone's secondaries) secondaries of ZONE and wait for the transfer."""
    set_options(session, **options)
    ops.add_slave(session, zone, servers)


@main.command("apply")
@click.argument("zones", nargs=-1, shell_complete=complete_zones)
@click.option(
    "--prune",
    is_flag=True,
    help="Also remove the zones dnsctl set up that the inventory no longer gives a server "
    "(their files are kept in the backup directory).",
)
@click.option(
    "--check",
    "--expect-no-changes",
    "check",
    is_flag=True,
    help="Only plan: exit 1 when something would change, 0 when nothing would.",
)
@with_change_options
@run_op("apply", changes=True)
def apply(session: ops.Session, zones: tuple[str, ...], prune: bool, check: bool, **options: Any) -> None:
    """Converge every server to the inventory: ZONES (default: all), primaries before secondaries."""
    set_options(session, **options)
    ops.apply_inventory(session, zones, prune=prune, check=check)


@main.group("catalog")
def catalog_group() -> None:
    """The catalog zone (RFC 9432) of the inventory's top-level catalog."""


@catalog_group.command("sync")
@with_change_options
@run_op("catalog sync", changes=True)
def catalog_sync(session: ops.Session, **options: Any) -> None:
    """Bring the catalog, its members and its consumers to the inventory; remove dropped members."""
    set_options(session, **options)
    ops.catalog_sync(session)


@main.command("check")
@run_op("check")
def check(session: ops.Session) -> None:
    """Validate the inventory and show what it describes; touches no host."""
    ops.check(session)


@main.command("status")
@click.argument("zones", nargs=-1, shell_complete=complete_zones)
@run_op("status")
def status(session: ops.Session, zones: tuple[str, ...]) -> None:
    """Is every server of ZONES (default: all) serving them as the inventory says? Drift, firewall, AXFR."""
    ops.status(session, zones)


@main.command("doctor")
@click.argument("zone", shell_complete=complete_zones)
@click.argument("secondary", required=False, shell_complete=complete_servers)
@run_op("doctor")
def doctor(session: ops.Session, zone: str, secondary: str | None) -> None:
    """Walk ZONE's transfer path to SECONDARY (default: each); name the first broken link and its fix."""
    ops.doctor(session, zone, secondary)
