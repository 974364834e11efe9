"""lab up | down | status: the disposable lab of real hosts on this machine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from dnsctl.cli.program import main
from dnsctl.cli.runner import run_lab
from dnsctl.report import Report


@main.group("lab")
def lab_group() -> None:
    """A disposable lab of real hosts (systemd-nspawn containers) on this machine."""


state_dir_option = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the lab keeps its inventory, SSH key and known_hosts (default /var/lib/dnsctl/lab).",
)


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
