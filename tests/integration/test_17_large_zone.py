"""A zone far larger than the tutorial's: init-primary and add-slave stay correct and quick.

Records are checked on a sample (README: Verification), the transferred file is waited
for, and every answer here is checked independently at each server's address.
"""

from __future__ import annotations

import json

import dns.flags
import dns.message
import dns.query
import pytest

from .conftest import NS1, NS2, dnsctl_json, dnsctl_ok

pytestmark = pytest.mark.lab

COUNT = 20_000
OTHERS = [
    ("mail", "MX", "10 host1.large.test."),
    ("text", "TXT", "large zone"),
    ("www", "CNAME", "host2.large.test."),
    ("_sip._udp", "SRV", "0 5 5060 host3.large.test."),
]


def zone_toml() -> str:
    records = [(f"host{i}", "A", f"10.1.{i >> 8 & 255}.{i & 255}") for i in range(COUNT)] + OTHERS
    # json.dumps writes each string as a valid TOML basic string.
    lines = [
        f"  {{name = {json.dumps(name)}, type = {json.dumps(rdtype)}, value = {json.dumps(value)}}},"
        for name, rdtype, value in records
    ]
    head = '[zones."large.test"]\nprimary = "ns1"\nsecondaries = ["ns2"]\nrecords = [\n'
    return head + "\n".join(lines) + "\n]\n"


def answer(server: str, name: str, rdtype: str) -> set[str]:
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, server, timeout=2)
    assert response.flags & dns.flags.AA, (server, name)
    wanted = query.question[0].rdtype
    return {rdata.to_text() for rrset in response.answer if rrset.rdtype == wanted for rdata in rrset}


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    return the_lab.write_inventory(tmp_path_factory.mktemp("large") / "large.toml", extra=zone_toml())


def test_init_primary_checks_a_sample_and_the_serial(inventory):
    code, document = dnsctl_json("init-primary", "large.test", "--yes", inventory=inventory)
    assert code == 0, document
    actions = [step["action"] for step in document["steps"]]
    assert f"verify a sample of the {COUNT + len(OTHERS)} inventory records at {NS1}" in actions
    for i in (0, 4_321, COUNT - 1):
        assert answer(NS1, f"host{i}.large.test", "A") == {f"10.1.{i >> 8 & 255}.{i & 255}"}
    for name, rdtype, value in OTHERS:
        shown = f'"{value}"' if rdtype == "TXT" else value
        assert answer(NS1, f"{name}.large.test", rdtype) == {shown}


def test_add_slave_waits_for_the_transferred_file(the_lab, inventory):
    dnsctl_ok("add-slave", "large.test", "--yes", inventory=inventory)
    assert answer(NS2, "host19999.large.test", "A") == {"10.1.78.31"}
    size = the_lab.exec("ns2", "stat", "-c", "%s", "/var/cache/bind/slaves/large.test.db").stdout
    assert int(size) > 0


def test_a_second_run_changes_nothing(inventory):
    code, document = dnsctl_json("init-primary", "large.test", "--yes", inventory=inventory)
    assert code == 0, document
    assert document["plan"]["ns1"]["actions"] == []
