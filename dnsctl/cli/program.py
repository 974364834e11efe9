"""The `dnsctl` group itself: the Click classes that give every command the global options,
--help and --version that honour --json, and the last net that turns a usage error, an
interrupt or a bug outside a command into one line (and one document) with its exit code.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
import textwrap
from typing import Any

import click

from dnsctl import __version__, secrets
from dnsctl.cli.options import GlobalOptions, global_options, global_options_of
from dnsctl.errors import EXIT_CODES
from dnsctl.report import Report

PROG_NAME = "dnsctl"
# Click 8.2+ raises this for a bare `dnsctl`; older Click prints the help itself.
NO_ARGS_IS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())

# Python's last garbage collection at exit walks every object the run made (pydantic's
# schemas, the paramiko and dnspython modules, the inventory): about 30 ms of every run.
# Nothing dnsctl made needs collecting by then (its connections are closed and its files
# written before it exits), so the objects still alive at exit are frozen out of it.
atexit.register(gc.freeze)


def _command_name(ctx: click.Context | None) -> str | None:
    """`add-slave`, `lab up`: the command path without the program name."""
    if ctx is None:
        return None
    return " ".join(ctx.command_path.split()[1:]) or None


def _say(ctx: click.Context, key: str, text: str) -> None:
    """Help or version: plain text, or with --json one document holding it."""
    if global_options_of(ctx).json_output:
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
    message = secrets.mask(message)  # a bug's text may quote a secret; the document masks it too
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

    The options -i, --json, -v, --accept-new-host-keys and --forks work before or
    after the command.
    """
