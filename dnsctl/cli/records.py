"""record add | del | list: a zone's records, edited in the inventory file and applied."""

from __future__ import annotations

from typing import Any

import click

from dnsctl import ops
from dnsctl.cli.completion import complete_zones
from dnsctl.cli.options import dry_run_option, with_options, yes_option
from dnsctl.cli.program import main
from dnsctl.cli.runner import run_op, set_options


@main.group("record")
def record_group() -> None:
    """Add, delete or list a zone's records: the inventory file is edited, then the zone applied."""


with_record_change_options = with_options(
    dry_run_option,
    yes_option,
    click.option("--no-wait", is_flag=True, help="Return once the primary serves the change."),
    click.option(
        "--timeout",
        default=30.0,
        type=click.FloatRange(min=1, max=3600),
        show_default=True,
        help="Seconds to wait for the primary, then for every secondary, to serve the change.",
    ),
)


@record_group.command("add")
@click.argument("zone", shell_complete=complete_zones)
@click.argument("name")
@click.argument("rdtype", metavar="TYPE")
@click.argument("value")
@click.option("--ttl", type=click.IntRange(0, 2_147_483_647), help="The record's TTL (default the zone's).")
@with_record_change_options
@run_op("record add", changes=True)
def record_add(
    session: ops.Session,
    zone: str,
    name: str,
    rdtype: str,
    value: str,
    ttl: int | None,
    no_wait: bool,
    **options: Any,
) -> None:
    """Add NAME TYPE VALUE to ZONE; return when every secondary serves it."""
    set_options(session, **options)
    ops.record_add(session, zone, name, rdtype, value, ttl, wait=not no_wait)


@record_group.command("del")
@click.argument("zone", shell_complete=complete_zones)
@click.argument("name")
@click.argument("rdtype", metavar="TYPE")
@click.argument("value", required=False)
@with_record_change_options
@run_op("record del", changes=True)
def record_del(
    session: ops.Session, zone: str, name: str, rdtype: str, value: str | None, no_wait: bool, **options: Any
) -> None:
    """Delete NAME TYPE (only VALUE, when given) from ZONE; return when every secondary serves that."""
    set_options(session, **options)
    ops.record_del(session, zone, name, rdtype, value, wait=not no_wait)


@record_group.command("list")
@click.argument("zone", shell_complete=complete_zones)
@run_op("record list")
def record_list(session: ops.Session, zone: str) -> None:
    """List ZONE's records as the inventory has them; touches no host."""
    ops.record_list(session, zone)
