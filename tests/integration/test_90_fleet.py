"""A fleet: `dnsctl lab up --secondaries 32` gives 34 hosts on the address plan, each
reachable at its own address with the host key the lab recorded, the farthest
secondary serves a zone, and `dnsctl lab down` leaves nothing of them."""

from __future__ import annotations

import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import pytest

from dnsctl import lab
from dnsctl.remote import Connection, Target

from .conftest import NS1, dnsctl, dnsctl_json, dnsctl_ok

pytestmark = pytest.mark.lab

SECONDARIES = 32
LAST = "ns33"
LAST_ADDRESS = "198.51.100.42"


@pytest.fixture(scope="module")
def inotify_limit_before(the_lab) -> str:
    return lab.INOTIFY_LIMIT.read_text()


@pytest.fixture(scope="module")
def fleet(the_lab, inotify_limit_before):
    started = time.monotonic()
    with the_lab.reshaped("--secondaries", str(SECONDARIES)):
        print(f"lab up --secondaries {SECONDARIES}: {time.monotonic() - started:.1f} s")
        yield the_lab


def test_every_host_runs_at_its_planned_address(fleet):
    code, document = dnsctl_json("lab", "status", "--state-dir", str(fleet.state_dir))
    assert code == 0, document
    hosts = {host["name"]: host for host in document["hosts"]}
    expected = {f"ns{n}": f"198.51.100.{9 + n}" for n in range(1, SECONDARIES + 2)}
    expected["client1"] = "198.51.100.200"
    assert {name: host["address"] for name, host in hosts.items()} == expected
    assert all(host["running"] and host["ssh"] == "active" for host in hosts.values())
    assert all(hosts[name]["named"] == "active" for name in expected if name != "client1")
    secondaries = fleet.inventory_data()["zones"]["example.com"]["secondaries"]
    assert secondaries == [f"ns{n}" for n in range(2, SECONDARIES + 2)]

    def identity(address: str) -> tuple[str, str]:
        target = Target(
            name=address,
            hostname=address,
            key=str(fleet.state_dir / "id_ed25519"),
            known_hosts=str(fleet.state_dir / "known_hosts"),
            connect_timeout=5,
        )
        with Connection(target).connect() as connection:
            hostname = connection.run(["cat", "/etc/hostname"]).stdout.strip()
            interface = connection.run(["ip", "-4", "-o", "addr", "show", "dev", "host0"]).stdout
        return hostname, interface

    with ThreadPoolExecutor(8) as pool:
        identities = dict(zip(expected, pool.map(identity, expected.values()), strict=True))
    for name, (hostname, interface) in identities.items():
        assert hostname == name
        assert f" {expected[name]}/24 " in interface


def test_the_farthest_secondary_serves(fleet):
    for command in (("init-primary", "example.com"), ("add-slave", "example.com", LAST)):
        dnsctl_ok(*command, "--yes", inventory=fleet.inventory)
    answers = [
        dns.query.udp(dns.message.make_query("example.com", "SOA"), address, timeout=3)
        for address in (NS1, LAST_ADDRESS)
    ]
    assert answers[0].answer[0][0].serial == answers[1].answer[0][0].serial
    assert all(answer.flags & dns.flags.AA for answer in answers)


def test_lab_down_leaves_nothing_of_the_fleet(fleet, inotify_limit_before):
    result = dnsctl("lab", "down", "--state-dir", str(fleet.state_dir))
    assert result.returncode == 0, result.stderr
    assert not Path("/sys/class/net/ctllab0").exists()
    assert not list(Path("/sys/class/net").glob("vb-*"))
    assert not list(Path("/sys/fs/cgroup").glob("*/dnslab-*"))
    assert "dnslab-" not in Path("/proc/mounts").read_text()
    processes = subprocess.run(["ps", "-eo", "stat=,args="], capture_output=True, text=True).stdout
    assert not [line for line in processes.splitlines() if "systemd-nspawn" in line and line[0] != "Z"]
    assert not fleet.state_dir.exists()
    # lab up raised the inotify limit if 34 hosts needed it; lab down put it back.
    assert lab.INOTIFY_LIMIT.read_text() == inotify_limit_before and not lab.INOTIFY_SAVED.exists()
