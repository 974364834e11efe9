"""The commands on zones' keys: TSIG keys of transfers (tsig rotate), DNSSEC signing keys
(dnssec ds)."""

from __future__ import annotations

from typing import Any

import click

from dnsctl import ops
from dnsctl.cli.completion import complete_zones
from dnsctl.cli.options import with_change_options
from dnsctl.cli.program import main
from dnsctl.cli.runner import run_op, set_options


@main.group("tsig")
def tsig_group() -> None:
    """TSIG keys of zone transfers (a zone's `tsig` in the inventory)."""


@tsig_group.command("rotate")
@click.argument("target", metavar="ZONE|KEY", shell_complete=complete_zones)
@with_change_options
@run_op("tsig rotate", changes=True)
def tsig_rotate(session: ops.Session, target: str, **options: Any) -> None:
    """Replace the TSIG key of ZONE (or KEY and all its zones) with no failed transfer on the way."""
    set_options(session, **options)
    ops.tsig_rotate(session, target)


@main.group("dnssec")
def dnssec_group() -> None:
    """DNSSEC of signed zones (zones.NAME.dnssec in the inventory)."""


@dnssec_group.command("ds")
@click.argument("zone")
@run_op("dnssec ds")
def dnssec_ds(session: ops.Session, zone: str) -> None:
    """Print the DS records of ZONE's key-signing keys for its parent, read by DNS from the primary."""
    ops.dnssec_ds(session, zone)
