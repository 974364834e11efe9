"""The commands on clients: configure-client, and failover-test (resolving on a client while
the primary is down)."""

from __future__ import annotations

import ipaddress
import re

import click

from dnsctl import ops
from dnsctl.cli.completion import complete_clients, complete_zones
from dnsctl.cli.options import yes_option
from dnsctl.cli.program import main
from dnsctl.cli.runner import run_op, set_options
from dnsctl.errors import UsageError


@main.command("configure-client")
@click.argument("clients", nargs=-1, shell_complete=complete_clients)
@click.option(
    "--dns",
    "dns_servers",
    multiple=True,
    help="DNS server address, repeat in order (default: the zones' servers).",
)
@click.option("--dns-options", help="Resolver options, e.g. timeout:1,attempts:1.")
@click.option("--dry-run", is_flag=True, help="Show the change and make none.")
@yes_option
@run_op("configure-client", changes=True)
def configure_client(
    session: ops.Session,
    clients: tuple[str, ...],
    dns_servers: tuple[str, ...],
    dns_options: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Point CLIENTS (default: all) at the zones' primary then secondaries with NetworkManager."""
    set_options(session, dry_run=dry_run, yes=yes)
    ops.configure_client(session, clients, _addresses(dns_servers), _dns_options(dns_options))


def _addresses(values: tuple[str, ...]) -> list[str]:
    addresses = []
    for value in values:
        try:
            addresses.append(str(ipaddress.ip_address(value)))
        except ValueError:
            raise UsageError(f"--dns: {value!r} is not an IP address") from None
    return addresses


RESOLVER_OPTIONS = {
    "ndots",
    "timeout",
    "attempts",
    "rotate",
    "no-aaaa",
    "no-check-names",
    "inet6",
    "edns0",
    "single-request",
    "single-request-reopen",
    "no-tld-query",
    "use-vc",
    "no-reload",
    "trust-ad",
}


def _dns_options(value: str | None) -> str | None:
    """glibc resolver options (resolv.conf(5)), e.g. timeout:1,attempts:1."""
    if value is None:
        return None
    for option in filter(None, re.split(r"[ ,]+", value)):
        name, _, number = option.partition(":")
        if name not in RESOLVER_OPTIONS or (number and not number.isdigit()):
            raise UsageError(f"--dns-options: {option!r} is not a resolver option like timeout:1")
    return value


@main.command("failover-test")
@click.argument("zone", shell_complete=complete_zones)
@click.option("--name", help="The name to resolve (default: the zone's first A record).")
@click.option(
    "--client",
    shell_complete=complete_clients,
    help="The client that resolves (default: the first client).",
)
@click.option(
    "--mode",
    type=click.Choice(["stop", "drop"]),
    default="stop",
    show_default=True,
    help="stop: stop named on the primary; drop: the primary silently drops DNS.",
)
@click.option("-y", "--yes", is_flag=True, help="Run without asking.")
@click.option(
    "--timeout",
    default=30.0,
    type=click.FloatRange(min=1, max=3600),
    show_default=True,
    help="Seconds to wait for the primary to come back.",
)
@run_op("failover-test", changes=True)
def failover_test(
    session: ops.Session,
    zone: str,
    name: str | None,
    client: str | None,
    mode: str,
    yes: bool,
    timeout: float,
) -> None:
    """Resolve on a client, take the primary down, resolve again from a secondary, restore the primary."""
    set_options(session, yes=yes, timeout=timeout)
    ops.failover_test(session, zone, name=name, client=client, mode=mode)
