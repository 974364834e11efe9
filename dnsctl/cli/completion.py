"""Shell completion of the inventory's names (zones, servers, clients) for arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import CompletionItem

from dnsctl.cli.options import global_options_of

if TYPE_CHECKING:
    from dnsctl.models import Inventory


def _complete_inventory(ctx: click.Context) -> Inventory | None:
    """The inventory the command would use, for completion: nothing when it cannot be read."""
    from dnsctl.models import load_inventory  # pydantic: only when completing an inventory name

    try:
        return load_inventory(global_options_of(ctx).inventory_path())
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
