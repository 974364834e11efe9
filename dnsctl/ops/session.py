"""What one dnsctl run shares: the inventory, one connection per host, the report, the options."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from dnsctl.errors import UsageError
from dnsctl.models import Inventory, load_inventory
from dnsctl.remote import Connection, Fleet, Target
from dnsctl.report import Report


@dataclass
class Options:
    dry_run: bool = False
    restart: bool = False
    no_firewall: bool = False
    timeout: float = 30.0
    allow_unsigning: bool = False  # turn DNSSEC off on a signed zone (its DS must be gone first)
    today: Callable[[], dt.date] = dt.date.today
    # Asks before a change; raises to abort. The CLI asks only on a terminal without --yes.
    confirm: Callable[[str], None] = lambda question: None


@dataclass
class Session:
    """Everything one dnsctl run shares: the inventory, its connections and its report."""

    inventory: Inventory
    report: Report
    fleet: Fleet
    options: Options = field(default_factory=Options)
    inventory_path: Path | None = None  # where the inventory was read, for commands that edit it
    locked: set[str] = field(default_factory=set)  # hosts whose dnsctl lock this run holds
    # Called once before the first connection: the CLI refuses a change nobody can confirm
    # there, after the command's own arguments were checked against the inventory.
    before_connect: Callable[[], None] | None = None

    def target(self, name: str) -> Target:
        inventory = self.inventory
        host = inventory.servers.get(name) or inventory.clients.get(name)
        if host is None:
            raise UsageError(f"unknown host {name!r}")
        ssh = inventory.ssh
        return Target(
            name=name,
            hostname=host.ssh_host or host.address,
            port=host.port or ssh.port,
            user=host.user or ssh.user,
            key=host.key or ssh.key,
            known_hosts=ssh.known_hosts,
            connect_timeout=ssh.connect_timeout,
            command_timeout=ssh.command_timeout,
        )

    def connect(self, names: Sequence[str]) -> dict[str, Connection]:
        """Connect to each host not connected yet in this run (a run may converge twice)."""
        todo = [name for name in names if name not in self.fleet]
        if not todo:
            return self.fleet.connect([])
        if self.before_connect is not None:
            gate, self.before_connect = self.before_connect, None
            gate()
        started = time.monotonic()
        with self.report.waiting(",".join(todo), "ssh connect"):
            connections = self.fleet.connect([self.target(name) for name in todo])
        self.report.add(",".join(todo), "ssh connect", seconds=time.monotonic() - started)
        return connections

    def lock(self, names: Sequence[str]) -> None:
        """Hold each host's dnsctl lock for the rest of the run; fail at once if held.

        A host this run already holds is not locked again (a run may converge twice).
        """
        holder = f"dnsctl pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"
        todo = [name for name in names if name not in self.locked]
        self.fleet.each(todo, lambda name: self.fleet[name].lock(holder))
        self.locked.update(todo)


@contextmanager
def open_session(
    inventory_path: str | Path, report: Report, *, accept_new_host_keys: bool = False, forks: int = 32
) -> Iterator[Session]:
    """Load the inventory and open a session whose connections all close when it ends;
    at most `forks` hosts are worked on at once."""
    inventory = load_inventory(inventory_path)
    with Fleet(accept_new_host_keys=accept_new_host_keys, workers=forks) as fleet:
        yield Session(inventory, report, fleet, inventory_path=Path(inventory_path))
