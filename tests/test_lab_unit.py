"""The lab's pure parts; the lab itself is exercised by every integration test."""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsctl import lab, lab_rootfs
from dnsctl.cli import main
from dnsctl.errors import UsageError
from dnsctl.models import parse_inventory


def test_hosts_and_addresses():
    hosts = lab.lab_hosts(3)
    assert [(h.name, h.address, h.role) for h in hosts] == [
        ("ns1", "198.51.100.10", "primary"),
        ("ns2", "198.51.100.11", "secondary"),
        ("ns3", "198.51.100.12", "secondary"),
        ("ns4", "198.51.100.13", "secondary"),
        ("client1", "198.51.100.200", "client"),
    ]


def test_address_plan_holds_the_largest_fleet():
    hosts = lab.lab_hosts(lab.MAX_SECONDARIES)
    assert lab.MAX_SECONDARIES >= 32
    addresses = [ipaddress.ip_address(host.address) for host in hosts]
    assert len(set(addresses)) == len(hosts) == lab.MAX_SECONDARIES + 2
    assert all(address in ipaddress.ip_network("198.51.100.0/24") for address in addresses)
    assert ipaddress.ip_address(lab.BRIDGE_ADDRESS) not in addresses
    servers = [host for host in hosts if host.role != "client"]
    assert hosts[-1].name == "client1" and hosts[-1].address == "198.51.100.200"
    # Servers stay below the clients' range, with room to spare.
    assert max(int(host.address.rsplit(".", 1)[1]) for host in servers) < lab.FIRST_CLIENT - 100


@pytest.mark.parametrize("secondaries", [0, lab.MAX_SECONDARIES + 1])
def test_bad_shapes_are_usage_errors(secondaries):
    with pytest.raises(UsageError, match="--secondaries must be between 1 and"):
        lab.lab_hosts(secondaries)


@pytest.mark.parametrize(
    "arguments",
    [["--secondaries", "65"], ["--secondaries", "0"]],
)
def test_lab_up_rejects_bad_arguments_before_touching_anything(monkeypatch, arguments):
    def must_not_run() -> None:
        raise AssertionError("lab up went past argument checks")

    monkeypatch.setattr(lab, "_preflight", must_not_run)
    result = CliRunner().invoke(main, ["lab", "up", "--state-dir", "/nonexistent/lab", *arguments])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert arguments[0] in result.output


def test_lab_up_help_states_the_fleet_limit():
    result = CliRunner().invoke(main, ["lab", "up", "--help"])
    assert f"1 to {lab.MAX_SECONDARIES}" in result.output


def test_inventory_is_valid_and_complete():
    state = Path("/var/lib/dnsctl/x")
    text = lab.render_inventory(state, lab.lab_hosts(2))
    inventory = parse_inventory(tomllib.loads(text))
    assert inventory.ssh.key == f"{state}/id_ed25519"
    assert inventory.zones["example.com"].secondaries == ["ns2", "ns3"]
    assert inventory.clients["client1"].connection == "lab"
    assert inventory.clients["client1"].address == "198.51.100.200"
    assert [r.value for r in inventory.records("example.com")] == ["198.51.100.50"]


def test_inventory_of_a_fleet():
    text = lab.render_inventory(Path("/x"), lab.lab_hosts(32))
    inventory = parse_inventory(tomllib.loads(text))
    assert inventory.zones["example.com"].secondaries == [f"ns{n}" for n in range(2, 34)]
    assert inventory.servers["ns33"].address == "198.51.100.42"


def test_mirror_from_deb822_and_one_line_sources():
    deb822 = (
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.test/debian-security\n"
        "Suites: bookworm-security\n"
    )
    assert lab_rootfs.parse_mirror(deb822) == "http://mirror.test/debian"
    assert (
        lab_rootfs.parse_mirror("deb http://other.test/debian bookworm main\n") == "http://other.test/debian"
    )
    assert lab_rootfs.parse_mirror("deb http://x.test/ubuntu jammy main\n") is None


def test_cache_key_follows_the_package_list(monkeypatch):
    key = lab_rootfs.cache_key()
    monkeypatch.setattr(lab_rootfs, "PACKAGES", (*lab_rootfs.PACKAGES, "vim"))
    assert lab_rootfs.cache_key() != key


def test_memory_shortfall():
    meminfo = "MemTotal:       24000000 kB\nMemAvailable:    4194304 kB\n"
    assert lab.memory_shortfall(meminfo, 3) is None
    assert lab.memory_shortfall(meminfo, 34) == (
        f"34 lab hosts need about {34 * lab.HOST_MEMORY_MIB} MiB of memory, 4096 MiB is available"
    )


def test_inotify_limit_is_raised_only_when_the_hosts_need_it():
    assert lab.inotify_limit_needed(in_use=20, hosts=3, limit=128) is None
    assert lab.inotify_limit_needed(in_use=20, hosts=34, limit=128) == 20 + 34 * lab.INOTIFY_PER_HOST
    assert lab.inotify_limit_needed(in_use=20, hosts=34, limit=8192) is None
