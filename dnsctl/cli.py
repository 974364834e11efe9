"""Click commands only: parse arguments, call one function in ops, print, map errors to exit codes."""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dnsctl import interrupt, ops
from dnsctl.errors import Aborted, DnsctlError, UsageError
from dnsctl.report import Report

INVENTORY_ENV = "DNSCTL_INVENTORY"


class DnsctlGroup(click.Group):
    """Usage errors as one line, like every other error: `dnsctl: error: ...`, exit 2."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except click.ClickException as exc:
            click.echo(f"dnsctl: error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("dnsctl: error: interrupted", err=True)
            sys.exit(130)
        except Exception as exc:  # the last net: one line, never a traceback
            click.echo(f"dnsctl: error: internal error (a bug in dnsctl): {exc!r}", err=True)
            sys.exit(70)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=DnsctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-i",
    "--inventory",
    type=click.Path(dir_okay=False, path_type=Path),
    default=lambda: os.environ.get(INVENTORY_ENV, "inventory.toml"),
    show_default="./inventory.toml or $DNSCTL_INVENTORY",
    help="The TOML inventory of servers, clients and zones.",
)
@click.option("--json", "json_mode", is_flag=True, help="Print one JSON document on stdout, nothing else.")
@click.option("-v", "--verbose", is_flag=True, help="Log every remote command on stderr.")
@click.option(
    "--accept-new-host-keys",
    is_flag=True,
    help="Record SSH host keys not yet in known_hosts (a changed key is always refused).",
)
@click.version_option(package_name="dnsctl")
@click.pass_context
def main(
    ctx: click.Context, inventory: Path, json_mode: bool, verbose: bool, accept_new_host_keys: bool
) -> None:
    """Set up BIND primary/secondary DNS servers and their clients over SSH, and prove failover.

    \b
    Exit codes: 0 success; 1 a verification or test failed; 2 usage or inventory
    error; 3 host unreachable or SSH/auth/host-key failure; 4 the change was
    rejected by validation, nothing changed; 5 the change failed and was rolled
    back; 6 rollback failed, attention needed; 7 a precondition is not met
    (lock held, firewalld stopped, not root for the lab); 130 interrupted.
    """
    ctx.obj = {"inventory": inventory, "json": json_mode, "accept_new": accept_new_host_keys}
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="dnsctl: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    interrupt.install()


def _finish(ctx: click.Context, report: Report, run: Callable[[], None], *, interrupted: str) -> None:
    """Run a command body; print its report; map every error to one line and its exit code."""
    code, error = 0, None
    try:
        run()
    except DnsctlError as exc:
        code, error = exc.exit_code, str(exc)
    except KeyboardInterrupt:
        code, error = 130, interrupted
    except Exception as exc:  # a bug: still one line, never a traceback
        code, error = 70, f"internal error (a bug in dnsctl): {exc.__class__.__name__}: {exc}"
    report.emit(ok=code == 0, error=error, exit_code=code)
    if error:
        click.echo(f"dnsctl: error: {error}", err=True)
    ctx.exit(code)


def run_op(command: str) -> Callable[..., Callable[..., None]]:
    """Wrap a subcommand: load the inventory, build a session, map every error to one line."""

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            report = Report(command, json_mode=ctx.obj["json"])

            def run() -> None:
                with ops.open_session(
                    ctx.obj["inventory"], report, accept_new_host_keys=ctx.obj["accept_new"]
                ) as session:
                    function(session, **kwargs)

            _finish(ctx, report, run, interrupted="interrupted; nothing was left half-done")

        return wrapper

    return decorate


def _confirm(session: ops.Session, yes: bool) -> Callable[[str], None]:
    def ask(question: str) -> None:
        if yes or session.report.json_mode or not sys.stdin.isatty():
            return
        if not click.confirm(question, default=False):
            raise Aborted("aborted; nothing was changed")

    return ask


def _options(session: ops.Session, **values: Any) -> None:
    yes = values.pop("yes", False)
    session.options = ops.Options(**values, confirm=_confirm(session, yes))


change_options = [
    click.option("--dry-run", is_flag=True, help="Show the plan (diffs and actions) and change nothing."),
    click.option("--restart", is_flag=True, help="Restart named instead of reloading it."),
    click.option("--no-firewall", is_flag=True, help="Leave firewalld alone."),
    click.option("-y", "--yes", is_flag=True, help="Apply without asking."),
    click.option(
        "--timeout",
        default=30.0,
        type=click.FloatRange(min=1, max=3600),
        show_default=True,
        help="Seconds to wait for named to serve the change.",
    ),
]


def with_change_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(change_options):
        function = option(function)
    return function


@main.command("init-primary")
@click.argument("zone")
@with_change_options
@run_op("init-primary")
def init_primary(session: ops.Session, zone: str, **options: Any) -> None:
    """Write ZONE on its primary, add it to named.conf, open DNS in firewalld, verify."""
    _options(session, **options)
    ops.init_primary(session, zone)


@main.command("add-slave")
@click.argument("zone")
@click.argument("servers", nargs=-1)
@with_change_options
@run_op("add-slave")
def add_slave(session: ops.Session, zone: str, servers: tuple[str, ...], **options: Any) -> None:
    """Make SERVERS (default: all the zone's secondaries) secondaries of ZONE and wait for the transfer."""
    _options(session, **options)
    ops.add_slave(session, zone, servers)


@main.command("configure-client")
@click.argument("clients", nargs=-1)
@click.option(
    "--dns",
    "dns_servers",
    multiple=True,
    help="DNS server address, repeat in order (default: the zones' servers).",
)
@click.option("--dns-options", help="Resolver options, e.g. timeout:1,attempts:1.")
@click.option("--dry-run", is_flag=True, help="Show the change and make none.")
@click.option("-y", "--yes", is_flag=True, help="Apply without asking.")
@run_op("configure-client")
def configure_client(
    session: ops.Session,
    clients: tuple[str, ...],
    dns_servers: tuple[str, ...],
    dns_options: str | None,
    dry_run: bool,
    yes: bool,
) -> None:
    """Point CLIENTS (default: all) at the zones' primary then secondaries with NetworkManager."""
    _options(session, dry_run=dry_run, yes=yes)
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
@click.argument("zone")
@click.option("--name", help="The name to resolve (default: the zone's first A record).")
@click.option("--client", help="The client that resolves (default: the first client).")
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
@run_op("failover-test")
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
    _options(session, yes=yes, timeout=timeout)
    ops.failover_test(session, zone, name=name, client=client, mode=mode)


@main.group("record")
def record_group() -> None:
    """Add, delete or list a zone's records: the inventory file is edited, then the zone applied."""


record_change_options = [
    click.option("--dry-run", is_flag=True, help="Show the plan (diffs and actions) and change nothing."),
    click.option("-y", "--yes", is_flag=True, help="Apply without asking."),
    click.option("--no-wait", is_flag=True, help="Return once the primary serves the change."),
    click.option(
        "--timeout",
        default=30.0,
        type=click.FloatRange(min=1, max=3600),
        show_default=True,
        help="Seconds to wait for the primary, then for every secondary, to serve the change.",
    ),
]


def with_record_change_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(record_change_options):
        function = option(function)
    return function


@record_group.command("add")
@click.argument("zone")
@click.argument("name")
@click.argument("rdtype", metavar="TYPE")
@click.argument("value")
@click.option("--ttl", type=click.IntRange(0, 2_147_483_647), help="The record's TTL (default the zone's).")
@with_record_change_options
@run_op("record add")
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
    _options(session, **options)
    ops.record_add(session, zone, name, rdtype, value, ttl, wait=not no_wait)


@record_group.command("del")
@click.argument("zone")
@click.argument("name")
@click.argument("rdtype", metavar="TYPE")
@click.argument("value", required=False)
@with_record_change_options
@run_op("record del")
def record_del(
    session: ops.Session, zone: str, name: str, rdtype: str, value: str | None, no_wait: bool, **options: Any
) -> None:
    """Delete NAME TYPE (only VALUE, when given) from ZONE; return when every secondary serves that."""
    _options(session, **options)
    ops.record_del(session, zone, name, rdtype, value, wait=not no_wait)


@record_group.command("list")
@click.argument("zone")
@run_op("record list")
def record_list(session: ops.Session, zone: str) -> None:
    """List ZONE's records as the inventory has them; touches no host."""
    ops.record_list(session, zone)


@main.command("status")
@click.argument("zones", nargs=-1)
@run_op("status")
def status(session: ops.Session, zones: tuple[str, ...]) -> None:
    """Ask each server of ZONES (default: all) for the SOA by DNS: served, authoritative, in sync?"""
    ops.status(session, zones)


@main.command("check")
@run_op("check")
def check(session: ops.Session) -> None:
    """Validate the inventory and show what it describes; touches no host."""
    ops.check(session)


@main.group("lab")
def lab_group() -> None:
    """A disposable lab of real hosts (systemd-nspawn containers) on this machine."""


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the lab keeps its inventory, SSH key and known_hosts (default /var/lib/dnsctl/lab).",
)


def run_lab(command: str) -> Callable[..., Callable[..., None]]:
    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            from dnsctl import lab

            report = Report(command, json_mode=ctx.obj["json"])
            if kwargs.get("state_dir") is None:
                kwargs["state_dir"] = lab.DEFAULT_STATE_DIR
            _finish(
                ctx,
                report,
                lambda: function(lab, report, **kwargs),
                interrupted="interrupted; run `dnsctl lab down` to clean up",
            )

        return wrapper

    return decorate


def _progress(report: Report) -> Callable[[str], None]:
    def say(text: str) -> None:
        if not report.json_mode:
            click.echo(f"lab: {text}", err=True)

    return say


@lab_group.command("up")
@state_dir_option
@click.option(
    "--secondaries",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="How many secondaries (ns2, ns3, ...).",
)
@run_lab("lab up")
def lab_up(lab: Any, report: Report, state_dir: Path, secondaries: int) -> None:
    """Start ns1, ns2.. and client1 with BIND, sshd, firewalld and NetworkManager."""
    hosts = lab.lab_up(state_dir, secondaries=secondaries, progress=_progress(report))
    for host in hosts:
        report.add(host.name, f"{host.role} {host.address}")
    report.data["inventory"] = str(state_dir / "inventory.toml")
    report.text(f"inventory: {state_dir / 'inventory.toml'}")


@lab_group.command("down")
@state_dir_option
@run_lab("lab down")
def lab_down(lab: Any, report: Report, state_dir: Path) -> None:
    """Stop every lab host and remove everything the lab made on this machine."""
    lab.lab_down(state_dir, progress=_progress(report))
    report.add("lab", "down")


@lab_group.command("status")
@state_dir_option
@run_lab("lab status")
def lab_status(lab: Any, report: Report, state_dir: Path) -> None:
    """Show the lab's hosts and whether they run."""
    hosts = lab.lab_status(state_dir)
    for host in hosts:
        report.add(
            host["name"],
            f"{host['role']} {host['address']}",
            "ok" if host.get("running") else "fail",
            detail="running" if host.get("running") else "stopped",
        )
    report.data["hosts"] = hosts
