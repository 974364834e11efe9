"""One real lab for the whole integration session: brought up once, torn down at the end.
A module that needs other hosts reshapes it with `Lab.reshaped` and gives it back after.

Tests drive dnsctl as a user would (a subprocess with an inventory file) and check
results independently: dnspython queries to a specific address, and files or
services read inside the lab host through nsenter, not through dnsctl's SSH.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dnsctl import lab

pytestmark = pytest.mark.lab

# The lab's address plan (dnsctl.lab): servers from .10, clients from .200.
NS1, NS2, CLIENT = "198.51.100.10", "198.51.100.11", "198.51.100.200"
# ns2 as the lab's inventory describes it: where a server's settings (such as its layout) go.
NS2_TABLE = '[servers.ns2]\naddress = "198.51.100.11"'


@dataclass
class Lab:
    state_dir: Path

    @property
    def inventory(self) -> Path:
        return self.state_dir / "inventory.toml"

    def exec(
        self, host: str, *argv: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess:
        result = lab.host_exec(host, list(argv), input=input)
        if check and result.returncode != 0:
            raise AssertionError(f"{host}: {argv} failed: {result.stderr or result.stdout}")
        return result

    def read(self, host: str, path: str) -> str:
        return self.exec(host, "cat", path).stdout

    def leftovers(self, host: str) -> str:
        """Staged or check copies dnsctl would have left behind on host."""
        return self.exec(
            host, "sh", "-c", "find /etc/bind /var/lib/bind /var/cache/bind -name '*.dnsctl-*'"
        ).stdout.strip()

    def rhel_layout(self) -> bool:
        """Whether an earlier test (test_04) left ns2 with named started from /etc/named.conf."""
        return "-c /etc/named.conf" in self.exec("ns2", "cat", "/etc/default/named").stdout

    def ns2_layout(self) -> dict[str, str]:
        """The write_inventory replacement that gives ns2 the layout it runs now."""
        return {NS2_TABLE: NS2_TABLE + '\nlayout = "rhel"'} if self.rhel_layout() else {}

    def inventory_data(self) -> dict[str, Any]:
        return tomllib.loads(self.inventory.read_text())

    def write_inventory(self, path: Path, extra: str = "", **replace: str) -> Path:
        """The lab inventory plus extra TOML, written to path."""
        text = self.inventory.read_text()
        for old, new in replace.items():
            text = text.replace(old, new)
        path.write_text(text + "\n" + extra)
        return path

    @contextlib.contextmanager
    def reshaped(self, *lab_up_options: str) -> Iterator[subprocess.CompletedProcess]:
        """The lab replaced by `dnsctl lab up OPTIONS` (the real command), then the
        session's lab again, fresh: the machine holds one lab at a time."""
        try:
            result = dnsctl("lab", "up", "--state-dir", str(self.state_dir), *lab_up_options)
            assert result.returncode == 0, result.stdout + result.stderr
            yield result
        finally:
            start_session_lab(self.state_dir)


def dnsctl(
    *args: str, inventory: Path | None = None, timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as an administrator's shell would."""
    argv = [sys.executable, "-m", "dnsctl"]
    if inventory is not None:
        argv += ["-i", str(inventory)]
    return subprocess.run(
        [*argv, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def dnsctl_json(
    *args: str, inventory: Path | None = None, timeout: float = 180
) -> tuple[int, dict[str, Any]]:
    result = dnsctl("--json", *args, inventory=inventory, timeout=timeout)
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"not one JSON document (exit {result.returncode}): {result.stdout!r} {result.stderr!r}"
        ) from None
    return result.returncode, document


def dnsctl_ok(
    *args: str, inventory: Path | None = None, timeout: float = 180, input: str | None = None
) -> subprocess.CompletedProcess:
    """dnsctl, which must succeed; its output is the failure's message."""
    result = dnsctl(*args, inventory=inventory, timeout=timeout, input=input)
    assert result.returncode == 0, f"{' '.join(args)}: {result.stdout}{result.stderr}"
    return result


def set_up(inventory: Path, zone: str, *options: str) -> list[subprocess.CompletedProcess]:
    """The tutorial's two steps for zone, each of which must succeed: init-primary, then
    add-slave."""
    return [
        dnsctl_ok(command, zone, *options, "--yes", inventory=inventory)
        for command in ("init-primary", "add-slave")
    ]


def interrupt_at(marker: str, inventory: Path, *args: str) -> tuple[int, str]:
    """Run dnsctl -v and send it Ctrl-C when its log shows the remote command marker."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dnsctl", "-v", "-i", str(inventory), *args, "--yes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if marker in line:  # logged just before the command is sent
            process.send_signal(signal.SIGINT)
            break
    rest = process.communicate(timeout=60)[1]
    return process.returncode, rest


def record_toml(zone: str, name: str, value: str, rdtype: str = "A") -> str:
    """One more record of zone, as inventory TOML."""
    return f'\n[[zones."{zone}".records]]\nname = "{name}"\ntype = "{rdtype}"\nvalue = "{value}"\n'


def with_record(
    inventory: Path, directory: Path, zone: str, name: str, value: str, rdtype: str = "A"
) -> Path:
    """A copy of inventory, NAME.toml in directory, with one more record in zone."""
    path = directory / f"{name}.toml"
    path.write_text(inventory.read_text() + record_toml(zone, name, value, rdtype))
    return path


def digest(path: Path) -> str:
    """A local file's content, to prove a failed or refused run left it alone."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def start_session_lab(state_dir: Path) -> None:
    lab.lab_up(state_dir, secondaries=1, progress=lambda text: print(f"lab: {text}", file=sys.stderr))


@pytest.fixture(scope="session")
def the_lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    state_dir = Path("/var/lib/dnsctl/test-lab")
    start_session_lab(state_dir)
    try:
        yield Lab(state_dir)
    finally:
        lab.lab_down(state_dir)
