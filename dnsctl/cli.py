"""Click commands only: parse arguments, call one function in ops, print, map errors to exit codes.

The global options (-i, --json, -v, --accept-new-host-keys) are defined once and
attached to the group and to every command, so they work before and after the
subcommand; given twice, the one nearer the command wins. Every outcome, a usage
error included, ends in `_fail` or `_finish`: one line per problem on stderr and,
with --json, exactly one JSON document on stdout carrying the exit code.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
import json
import logging
import os
import re
import signal
import sys
import textwrap
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from click.shell_completion import CompletionItem

from dnsctl import __version__, interrupt, ops, secrets
from dnsctl.errors import EXIT_CODES, Aborted, DnsctlError, UsageError
from dnsctl.report import LiveLine, Report

if TYPE_CHECKING:
    from dnsctl.models import Inventory

INVENTORY_ENV = "DNSCTL_INVENTORY"
DEFAULT_INVENTORY = "inventory.toml"
PROG_NAME = "dnsctl"
# Hosts worked on at once: a fleet of 32 secondaries in one wave; each host costs a thread
# and an SSH connection (~2 MB).
DEFAULT_FORKS = 32
# Click 8.2+ raises this for a bare `dnsctl`; older Click prints the help itself.
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())


@dataclass
class GlobalOptions:
    """The options every command takes, merged from before and after the subcommand."""

    inventory: Path | None = None
    json: bool = False
    verbose: bool = False
    accept_new_host_keys: bool = False
    forks: int = DEFAULT_FORKS
    # Seen among the raw arguments: a usage error can stop parsing before --json is reached.
    json_in_args: bool = False

    def inventory_path(self) -> Path:
        return self.inventory or Path(os.environ.get(INVENTORY_ENV) or DEFAULT_INVENTORY)

    @property
    def json_output(self) -> bool:
        return self.json or self.json_in_args


def _global_options(ctx: click.Context) -> GlobalOptions:
    found = ctx.find_object(GlobalOptions)
    return found if found is not None else ctx.find_root().ensure_object(GlobalOptions)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a global option given on the command line; a later one (nearer the command) wins."""
    if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        setattr(_global_options(ctx), param.name, value)


def global_options() -> list[click.Option]:
    return [
        click.Option(
            ["-i", "--inventory"],
            type=click.Path(dir_okay=False, path_type=Path),
            expose_value=False,
            callback=_remember,
            help=f"The TOML inventory of servers, clients and zones "
            f"[default: ${INVENTORY_ENV}, else ./{DEFAULT_INVENTORY}].",
        ),
        click.Option(
            ["--json"],
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Print one JSON document on stdout (exit code included), nothing else.",
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Log every remote command on stderr.",
        ),
        click.Option(
            ["--accept-new-host-keys"],
            is_flag=True,
            expose_value=False,
            callback=_remember,
            help="Record SSH host keys not yet in known_hosts (a changed key is always refused).",
        ),
        click.Option(
            ["--forks"],
            type=click.IntRange(1, 256),
            metavar="N",
            expose_value=False,
            callback=_remember,
            help=f"Work on at most N hosts at once [default: {DEFAULT_FORKS}].",
        ),
    ]


def _command_name(ctx: click.Context | None) -> str | None:
    """`add-slave`, `lab up`: the command path without the program name."""
    if ctx is None:
        return None
    return " ".join(ctx.command_path.split()[1:]) or None


def _say(ctx: click.Context, key: str, text: str) -> None:
    """Help or version: plain text, or with --json one document holding it."""
    if _global_options(ctx).json_output:
        document = {"command": _command_name(ctx), "ok": True, "exit_code": 0, "error": None, "errors": []}
        click.echo(json.dumps({**document, key: text}, indent=2))
    else:
        click.echo(text, color=ctx.color)


def _show_help(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _say(ctx, "help", ctx.get_help())
        ctx.exit()


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        _say(ctx, "version", f"dnsctl {__version__}")
        ctx.exit()


class DnsctlCommand(click.Command):
    """Every command and group takes the global options, and --help honours --json."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(global_options())

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            option.callback = _show_help
        return option


class DnsctlGroup(DnsctlCommand, click.Group):
    command_class = DnsctlCommand
    group_class = type  # subgroups (lab) are DnsctlGroups too

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        """Run dnsctl; a usage error, an interrupt or a bug still ends in one line (and one document)."""
        args = list(sys.argv[1:] if args is None else args)
        given = args[: args.index("--")] if "--" in args else args
        options = GlobalOptions(json_in_args="--json" in given)
        extra.update(standalone_mode=False, obj=options)
        try:
            code = super().main(args, prog_name or PROG_NAME, **extra)
        except NO_ARGS_IS_HELP as exc:
            if not options.json_output:
                click.echo(exc.ctx.get_help(), err=True)
            _fail(options, None, 2, "missing command (dnsctl --help lists them)")
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            _fail(options, _command_name(ctx), exc.exit_code, exc.format_message())
        except click.Abort:
            _fail(options, None, 130, "interrupted")
        except Exception as exc:  # the last net: one line, never a traceback
            _fail(options, None, 70, f"internal error (a bug in dnsctl): {exc!r}")
        sys.exit(code if isinstance(code, int) else 0)


def _fail(options: GlobalOptions, command: str | None, code: int, message: str) -> None:
    """An error before any command ran: one line, one document with --json, the exit code."""
    if options.json_output:
        report = Report(command, json_mode=True)
        report.emit(ok=False, error=message, exit_code=code)
    click.echo(f"dnsctl: error: {message}", err=True)
    sys.exit(code)


def _exit_codes_epilog() -> str:
    # \b keeps Click from rewrapping the table; it is wrapped here, meanings indented.
    lines = ["\b", "Exit codes:"]
    for code, meaning in EXIT_CODES.items():
        lines += textwrap.wrap(
            meaning, 74, break_on_hyphens=False, initial_indent=f"  {code:>3}  ", subsequent_indent=" " * 7
        )
    return "\n".join(lines)


@click.group(
    PROG_NAME,
    cls=DnsctlGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_exit_codes_epilog(),
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Print dnsctl's version and exit.",
)
def main() -> None:
    """Set up BIND primary/secondary DNS servers and their clients over SSH, and prove failover.

    The options -i, --json, -v and --accept-new-host-keys work before or after
    the command.
    """


class _LogLine(logging.Handler):
    """-v logging on stderr that does not run into the live line, with every secret hidden."""

    def __init__(self, report: Report) -> None:
        super().__init__()
        self.report = report
        self.setFormatter(logging.Formatter("dnsctl: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with self.report.paused():
            sys.stderr.write(secrets.mask(self.format(record)) + "\n")
            sys.stderr.flush()


def _begin(ctx: click.Context, command: str) -> tuple[GlobalOptions, Report]:
    """Once every option is parsed: the report, logging and the signal handlers of one run."""
    options = _global_options(ctx)
    live = LiveLine(sys.stderr) if _terminal() and not options.json else None
    report = Report(command, json_mode=options.json, live=live)
    logger = logging.getLogger("dnsctl")
    logger.handlers = [_LogLine(report)]
    logger.propagate = False
    logger.setLevel(logging.INFO if options.verbose else logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    interrupt.install()
    # A run is short and keeps what it builds: a 100,000-record inventory is about a
    # million objects, and the collector's passes over them (every 700 new objects by
    # default) took 40 % of loading it. Reference counting still frees what is dropped.
    gc.set_threshold(100_000, 50, 100)
    return options, report


def _finish(ctx: click.Context, report: Report, run: Callable[[], None], *, interrupted: str) -> None:
    """Run a command body; print its report; map every error to its lines and its exit code."""
    code, error, problems = 0, None, []
    try:
        run()
    except DnsctlError as exc:
        code, error = exc.exit_code, str(exc)
        problems = list(getattr(exc, "problems", None) or error.splitlines())
    except KeyboardInterrupt:
        code, error = 130, interrupted
    except Exception as exc:  # a bug: still one line, never a traceback
        code, error = 70, f"internal error (a bug in dnsctl): {exc.__class__.__name__}: {exc}"
    report.emit(ok=code == 0, error=error, exit_code=code, errors=problems or None)
    if error:
        with report.paused():
            for line in error.splitlines():
                click.echo(f"dnsctl: error: {line}", err=True)
    ctx.exit(code)


def _terminal() -> bool:
    """Someone watches the output: the live line may be drawn (on stderr, beside stdout)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


def _can_ask() -> bool:
    """A person is there to answer: stdin is a terminal."""
    return sys.stdin.isatty()


def _require_consent(command: str, options: GlobalOptions, kwargs: dict[str, Any]) -> None:
    """A change is made only when asked for: --yes, or an answer on a terminal (issue 8)."""
    if kwargs.get("yes") or kwargs.get("dry_run") or kwargs.get("check"):
        return
    see_plan = " (or --dry-run to only see the plan)" if "dry_run" in kwargs else ""
    if options.json:
        raise UsageError(f"{command} changes hosts and --json asks no question: pass --yes{see_plan}")
    if not _can_ask():
        raise UsageError(f"{command} changes hosts and there is no terminal to ask on: pass --yes{see_plan}")


def run_op(command: str, *, changes: bool = False) -> Callable[..., Callable[..., None]]:
    """Wrap a subcommand: load the inventory, build a session, map every error to one line.

    changes: the command changes servers or clients, so it runs only with --yes or
    after a yes on a terminal; it must then take -y/--yes.
    """

    def decorate(function: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(function)
        @click.pass_context
        def wrapper(ctx: click.Context, **kwargs: Any) -> None:
            options, report = _begin(ctx, command)

            def run() -> None:
                if changes:
                    _require_consent(command, options, kwargs)
                with ops.open_session(
                    options.inventory_path(),
                    report,
                    accept_new_host_keys=options.accept_new_host_keys,
                    forks=options.forks,
                ) as session:
                    function(session, **kwargs)

            _finish(ctx, report, run, interrupted="interrupted; nothing was left half-done")

        wrapper.changes_hosts = changes  # type: ignore[attr-defined]
        return wrapper

    return decorate


# Hosts run in parallel: one question at a time.
_asking = threading.Lock()


def _confirm(session: ops.Session, yes: bool) -> Callable[[str], None]:
    def ask(question: str) -> None:
        if yes:
            return
        # A command not marked changes=True gets here unchecked: it still never changes unasked.
        if session.report.json_mode or not _can_ask():
            raise UsageError("refusing to change anything without --yes")
        with _asking, session.report.paused():
            answer = _ask(question)
        if not answer:
            raise Aborted("aborted; nothing was changed")

    return ask


def _ask(question: str) -> bool:
    """The question on stderr (stdout is the report's); Ctrl-C answers it at once."""
    # Elsewhere Ctrl-C only takes effect between remote commands; nothing runs during the
    # question, so it may stop it at once (signal handlers belong to the main thread).
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.default_int_handler) if main_thread else None
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:  # Ctrl-C or end of input
        raise KeyboardInterrupt from None
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)


def _options(session: ops.Session, **values: Any) -> None:
    yes = values.pop("yes", False)
    session.options = ops.Options(**values, confirm=_confirm(session, yes))


def _complete_inventory(ctx: click.Context) -> Inventory | None:
    """The inventory the command would use, for completion: nothing when it cannot be read."""
    from dnsctl.models import load_inventory  # pydantic: only when completing an inventory name

    try:
        return load_inventory(_global_options(ctx).inventory_path())
    except Exception:  # completion must never print an error into the shell
        return None


def _completer(names: Callable[[Inventory], Any]) -> Callable[..., list[CompletionItem]]:
    def complete(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
        inventory = _complete_inventory(ctx)
        if inventory is None:
            return []
        return [CompletionItem(name) for name in names(inventory) if name.startswith(incomplete)]

    return complete


complete_zones = _completer(lambda inventory: inventory.zones)
complete_servers = _completer(lambda inventory: inventory.servers)
complete_clients = _completer(lambda inventory: inventory.clients)


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
    click.option(
        "--allow-unsigning",
        is_flag=True,
        help="Turn DNSSEC off on a signed zone (remove its DS at the parent first).",
    ),
]


def with_change_options(function: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(change_options):
        function = option(function)
    return function


@main.command("init-primary")
@click.argument("zone", shell_complete=complete_zones)
@with_change_options
@run_op("init-primary", changes=True)
def init_primary(session: ops.Session, zone: str, **options: Any) -> None:
    """Write ZONE on its primary, add it to named.conf, open DNS in firewalld, verify."""
    _options(session, **options)
    ops.init_primary(session, zone)


@main.command("add-slave")
@click.argument("zone", shell_complete=complete_zones)
@click.argument("servers", nargs=-1, shell_complete=complete_servers)
@with_change_options
@run_op("add-slave", changes=True)
def add_slave(session: ops.Session, zone: str, servers: tuple[str, ...], **options: Any) -> None:
    """Make SERVERS (default: all the zone's secondaries) secondaries of ZONE and wait for the transfer."""
    _options(session, **options)
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
    _options(session, **options)
    ops.apply_inventory(session, zones, prune=prune, check=check)


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
@click.option("-y", "--yes", is_flag=True, help="Apply without asking.")
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
    _options(session, **options)
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
    _options(session, **options)
    ops.record_del(session, zone, name, rdtype, value, wait=not no_wait)


@record_group.command("list")
@click.argument("zone", shell_complete=complete_zones)
@run_op("record list")
def record_list(session: ops.Session, zone: str) -> None:
    """List ZONE's records as the inventory has them; touches no host."""
    ops.record_list(session, zone)


@main.group("tsig")
def tsig_group() -> None:
    """TSIG keys of zone transfers (a zone's `tsig` in the inventory)."""


@tsig_group.command("rotate")
@click.argument("target", metavar="ZONE|KEY", shell_complete=complete_zones)
@with_change_options
@run_op("tsig rotate", changes=True)
def tsig_rotate(session: ops.Session, target: str, **options: Any) -> None:
    """Replace the TSIG key of ZONE (or KEY and all its zones) with no failed transfer on the way."""
    _options(session, **options)
    ops.tsig_rotate(session, target)


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


@main.group("catalog")
def catalog_group() -> None:
    """The catalog zone (RFC 9432) of the inventory's top-level catalog."""


@catalog_group.command("sync")
@with_change_options
@run_op("catalog sync", changes=True)
def catalog_sync(session: ops.Session, **options: Any) -> None:
    """Bring the catalog, its members and its consumers to the inventory; remove dropped members."""
    _options(session, **options)
    ops.catalog_sync(session)


@main.group("dnssec")
def dnssec_group() -> None:
    """DNSSEC of signed zones (zones.NAME.dnssec in the inventory)."""


@dnssec_group.command("ds")
@click.argument("zone")
@run_op("dnssec ds")
def dnssec_ds(session: ops.Session, zone: str) -> None:
    """Print the DS records of ZONE's key-signing keys for its parent, read by DNS from the primary."""
    ops.dnssec_ds(session, zone)


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

            _, report = _begin(ctx, command)
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
    return lambda text: report.note("lab", text)


@lab_group.command("up")
@state_dir_option
@click.option(
    "--secondaries",
    type=int,
    default=1,
    show_default=True,
    help="How many secondaries (ns2, ns3, ...), 1 to 64.",
)
@click.option(
    "--bare",
    multiple=True,
    metavar="SERVER",
    help="A server without BIND, which apt can install from the lab (repeatable).",
)
@run_lab("lab up")
def lab_up(lab: Any, report: Report, state_dir: Path, secondaries: int, bare: tuple[str, ...]) -> None:
    """Start ns1, ns2.. and client1 with BIND, sshd, firewalld and NetworkManager."""
    hosts = lab.lab_up(state_dir, secondaries=secondaries, bare=bare, progress=_progress(report))
    for host in hosts:
        report.add(host.name, host.summary)
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
