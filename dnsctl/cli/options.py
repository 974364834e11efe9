"""The options: the global ones every command takes (-i, --json, -v, --accept-new-host-keys,
--forks), merged from before and after the subcommand, and the change options of the
commands that change servers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

INVENTORY_ENV = "DNSCTL_INVENTORY"
DEFAULT_INVENTORY = "inventory.toml"
# Hosts worked on at once: a fleet of 32 secondaries in one wave; each host costs a thread
# and an SSH connection (~2 MB).
DEFAULT_FORKS = 32


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


def global_options_of(ctx: click.Context) -> GlobalOptions:
    found = ctx.find_object(GlobalOptions)
    return found if found is not None else ctx.find_root().ensure_object(GlobalOptions)


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a global option given on the command line; a later one (nearer the command) wins."""
    if param.name and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE:
        setattr(global_options_of(ctx), param.name, value)


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


def with_options(*options: Callable[..., Any]) -> Callable[..., Any]:
    """One decorator for a set of options, listed in the order --help shows them."""

    def apply(function: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Show the plan (diffs and actions) and change nothing."
)
yes_option = click.option("-y", "--yes", is_flag=True, help="Apply without asking.")

with_change_options = with_options(
    dry_run_option,
    click.option("--restart", is_flag=True, help="Restart named instead of reloading it."),
    click.option("--no-firewall", is_flag=True, help="Leave firewalld alone."),
    yes_option,
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
)
