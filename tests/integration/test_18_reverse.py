"""Reverse zones derived from a forward zone's A and AAAA records, on the lab: init-primary
and add-slave of the forward zone and of its in-addr.arpa and ip6.arpa zones, PTR answers
from each server by address, and `record add` / `record del` keeping the PTRs in step.

The addresses in the records are documentation prefixes (203.0.113.0/24, 2001:db8::/48):
they are only data; every query goes over IPv4 to a lab server's address.
"""

from __future__ import annotations

import dns.reversename
import pytest

from .conftest import NS1, NS2, digest, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import authoritative_answer

pytestmark = pytest.mark.lab

FORWARD, V4, V6 = "reverse.test", "113.0.203.in-addr.arpa", "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"

ZONE = """
[zones."reverse.test"]
primary = "ns1"
secondaries = ["ns2"]
reverse = ["203.0.113.0/24", "2001:db8::/48"]   # PTRs for the addresses below

[[zones."reverse.test".records]]
name = "www"
type = "A"
value = "203.0.113.10"

[[zones."reverse.test".records]]
name = "www"
type = "AAAA"
value = "2001:db8::10"

[[zones."reverse.test".records]]
name = "mail"
type = "A"
value = "203.0.113.25"

[[zones."reverse.test".records]]
name = "mail"
type = "AAAA"
value = "2001:db8:0:1::25"

[[zones."reverse.test".records]]
name = "elsewhere"
type = "A"
value = "192.0.2.7"
"""


def ptr(server: str, address: str) -> tuple[str, set[str]]:
    """The PTR answer of one server for an address: rcode and names, authoritative only."""
    return authoritative_answer(server, dns.reversename.from_address(address), "PTR")


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("reverse") / "reverse.toml", extra=ZONE)
    for zone in (FORWARD, V4, V6):
        set_up(path, zone)
    return path


def test_both_servers_answer_the_forward_names(inventory):
    for server in (NS1, NS2):
        assert ptr(server, "203.0.113.10") == ("NOERROR", {"www.reverse.test."})
        assert ptr(server, "203.0.113.25") == ("NOERROR", {"mail.reverse.test."})
        assert ptr(server, "2001:db8::10") == ("NOERROR", {"www.reverse.test."})
        assert ptr(server, "2001:db8:0:1::25") == ("NOERROR", {"mail.reverse.test."})
        assert ptr(server, "203.0.113.99")[0] == "NXDOMAIN"


def test_the_zone_files_on_the_hosts(the_lab, inventory):
    primary = the_lab.read("ns1", f"/var/lib/bind/{V4}.db")
    assert "\n10\tIN PTR www.reverse.test.\n25\tIN PTR mail.reverse.test.\n" in primary
    assert "\n@\tIN NS ns1.example.com.\n@\tIN NS ns2.example.com.\n" in primary
    assert "192.0.2.7" not in primary and "7\tIN PTR" not in primary  # outside the networks
    the_lab.exec("ns2", "test", "-s", f"/var/cache/bind/slaves/{V6}.db")


def test_record_add_and_del_keep_the_ptrs_in_step(inventory):
    result = dnsctl_ok("record", "add", FORWARD, "new", "A", "203.0.113.77", "--yes", inventory=inventory)
    # record add returns once every secondary serves the change: no waiting here.
    for server in (NS1, NS2):
        assert ptr(server, "203.0.113.77") == ("NOERROR", {"new.reverse.test."})
    assert f"wait for {V4} serial" in result.stdout and "77\tIN PTR new.reverse.test." in result.stdout

    result = dnsctl_ok("record", "add", FORWARD, "new", "AAAA", "2001:db8::77", "--yes", inventory=inventory)
    for server in (NS1, NS2):
        assert ptr(server, "2001:db8::77") == ("NOERROR", {"new.reverse.test."})

    dnsctl_ok("record", "del", FORWARD, "new", "A", "--yes", inventory=inventory)
    for server in (NS1, NS2):
        assert ptr(server, "203.0.113.77")[0] == "NXDOMAIN"
        assert ptr(server, "2001:db8::77") == ("NOERROR", {"new.reverse.test."})


def test_conflicts_are_refused_and_change_nothing(the_lab, inventory):
    before = digest(inventory)
    zone_file = the_lab.read("ns1", f"/var/lib/bind/{V4}.db")
    result = dnsctl("record", "add", FORWARD, "web", "A", "203.0.113.10", "--yes", inventory=inventory)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "203.0.113.10 is also the address of www.reverse.test." in (
        result.stderr
    )
    # The new record's argument is named, and the record it clashes with by its field.
    assert result.stderr.startswith("dnsctl: error: value: 203.0.113.10 ")
    assert 'zones."reverse.test".records[0].value' in result.stderr
    result = dnsctl("record", "add", V4, "10", "PTR", "web.reverse.test.", "--yes", inventory=inventory)
    assert result.returncode == 2 and f"{V4} is derived from the A and AAAA records of" in result.stderr
    assert digest(inventory) == before
    assert the_lab.read("ns1", f"/var/lib/bind/{V4}.db") == zone_file
    assert ptr(NS1, "203.0.113.10") == ("NOERROR", {"www.reverse.test."})


def test_status_and_check_show_the_derived_zones(inventory):
    code, document = dnsctl_json("status", FORWARD, V4, V6, inventory=inventory)
    assert code == 0, document
    assert set(document["zones"]) == {FORWARD, V4, V6}
    result = dnsctl("check", inventory=inventory)
    assert result.returncode == 0, result.stderr
    assert f"zone {V6}" in result.stdout and "PTRs derived from reverse.test" in result.stdout
