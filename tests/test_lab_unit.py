"""The lab's pure parts; the lab itself is exercised by every integration test."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from dnsctl import lab, lab_rootfs
from dnsctl.errors import LabError
from dnsctl.models import parse_inventory


def test_hosts_and_addresses():
    hosts = lab.lab_hosts(3)
    assert [(h.name, h.address, h.role) for h in hosts] == [
        ("ns1", "198.51.100.10", "primary"),
        ("ns2", "198.51.100.11", "secondary"),
        ("ns3", "198.51.100.12", "secondary"),
        ("ns4", "198.51.100.13", "secondary"),
        ("client1", "198.51.100.20", "client"),
    ]
    assert all(h.address.startswith("198.51.100.") for h in lab.lab_hosts(9))
    with pytest.raises(LabError):
        lab.lab_hosts(10)


def test_inventory_is_valid_and_complete():
    state = Path("/var/lib/dnsctl/x")
    text = lab.render_inventory(state, lab.lab_hosts(2))
    inventory = parse_inventory(tomllib.loads(text))
    assert inventory.ssh.key == f"{state}/id_ed25519"
    assert inventory.zones["example.com"].secondaries == ["ns2", "ns3"]
    assert inventory.clients["client1"].connection == "lab"
    assert [r.value for r in inventory.records("example.com")] == ["198.51.100.50"]


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
