"""Shared fixtures for unit tests: an inventory like the tutorial's, with every record type."""

from __future__ import annotations

from pathlib import Path

import pytest

from dnsctl.models import Inventory, parse_inventory

DATA = Path(__file__).parent / "data"

TUTORIAL = {
    "ssh": {"user": "root", "key": "~/.ssh/id_ed25519"},
    "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
    "clients": {"client1": {"address": "198.51.100.20", "connection": "lab"}},
    "zones": {
        "example.com": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "allow_query": ["198.51.100.0/24"],
            "records": [
                {"name": "pc1", "type": "A", "value": "198.51.100.50"},
                {"name": "pc1", "type": "AAAA", "value": "2001:db8::50"},
                {"name": "www", "type": "CNAME", "value": "pc1"},
                {"name": "@", "type": "MX", "value": "10 mail"},
                {"name": "mail", "type": "A", "value": "198.51.100.51", "ttl": 300},
                {"name": "@", "type": "TXT", "value": 'v=spf1 mx -all "quoted" \\ back'},
                {"name": "_sip._tcp", "type": "SRV", "value": "10 5 5060 pc1.example.com."},
                {"name": "sub", "type": "NS", "value": "ns.other.test."},
            ],
        },
        "100.51.198.in-addr.arpa": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "records": [{"name": "50", "type": "PTR", "value": "pc1.example.com."}],
        },
    },
}


@pytest.fixture
def raw() -> dict:
    import copy

    return copy.deepcopy(TUTORIAL)


@pytest.fixture
def inventory(raw) -> Inventory:
    return parse_inventory(raw)
