"""status against the lab: a healthy zone is reported healthy; a record added by hand to the
primary's zone file, a closed firewall and a zone transfer open to anyone are each named, with
exit 1. Every break is made by hand on the host, checked independently by DNS, and undone."""

from __future__ import annotations

import re

import dns.query
import dns.xfr
import dns.zone
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import answer_data, served_serial, wait_until

pytestmark = pytest.mark.lab

ZONES = """
[zones."status.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."status.test".records]]
name = "www"
type = "A"
value = "198.51.100.70"

[zones."solo.test"]
primary = "ns1"

[[zones."solo.test".records]]
name = "www"
type = "A"
value = "198.51.100.72"
"""
MANAGED = "/etc/bind/named.conf.dnsctl"


def add_by_hand(the_lab, zone: str, line: str) -> int:
    """Append a record to the primary's zone file, bump its serial, reload: the new serial."""
    path = f"/var/lib/bind/{zone}.db"
    text = the_lab.read("ns1", path)
    serial = int(re.search(r"^\s+(\d+) ; serial$", text, re.MULTILINE).group(1)) + 1
    text = re.sub(r"^(\s+)\d+( ; serial)$", rf"\g<1>{serial}\2", text, count=1, flags=re.MULTILINE)
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1"', "sh", path, input=text + line + "\n")
    the_lab.exec("ns1", "rndc", "reload", zone)
    wait_until(lambda: served_serial(NS1, zone) == serial, f"ns1 to serve {zone} serial {serial}", seconds=10)
    return serial


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("status") / "status.toml", extra=ZONES)
    set_up(path, "status.test")
    dnsctl_ok("init-primary", "solo.test", "--yes", inventory=path)
    return path


def test_a_healthy_zone(the_lab, inventory):
    code, document = dnsctl_json("status", "status.test", inventory=inventory)
    assert code == 0, document
    copies = document["zones"]["status.test"]
    serial = served_serial(NS1, "status.test")
    assert copies["ns1"]["serial"] == copies["ns2"]["serial"] == serial == served_serial(NS2, "status.test")
    assert set(copies["ns1"]["checks"].values()) == {"ok"}
    assert copies["ns2"]["checks"] == {**copies["ns1"]["checks"], "drift": "-"}
    assert document["drift"]["status.test"] == {
        "checked": True,
        "how": "AXFR of ns1 from ns2",
        "extra": [],
        "missing": [],
    }
    for server in ("ns1", "ns2"):
        assert copies[server]["transfer"] == {
            "this machine": "refused (REFUSED)",
            "client1": "refused (Transfer failed)",
        }
    # Independently: neither this machine nor the client gets the zone.
    with pytest.raises(dns.xfr.TransferError):
        dns.query.inbound_xfr(NS1, dns.zone.Zone("status.test"), timeout=2)
    refused = the_lab.exec("client1", "dig", "+time=2", "+tries=1", f"@{NS1}", "status.test", "AXFR").stdout
    assert "Transfer failed" in refused and "www.status.test." not in refused
    people = dnsctl("status", "status.test", inventory=inventory)
    assert people.returncode == 0
    assert re.search(
        rf"^status.test +ns1 +primary +{serial} +ok +ok +ok +ok +ok +ok$", people.stdout, re.MULTILINE
    )


def test_a_record_added_by_hand_is_named(the_lab, inventory):
    serial = add_by_hand(the_lab, "status.test", "hand\tIN A 198.51.100.71")
    assert answer_data(NS1, "hand.status.test", "A") == {"198.51.100.71"}
    code, document = dnsctl_json("status", "status.test", inventory=inventory)
    assert code == 1, document
    assert document["drift"]["status.test"]["extra"] == ["hand.status.test. A 198.51.100.71"]
    assert "served but not in the inventory: hand.status.test. A 198.51.100.71" in document["error"]
    # What dnsctl wrote wins again: the record is gone everywhere, the serial moved on.
    dnsctl_ok("add-slave", "status.test", "--yes", inventory=inventory)
    assert served_serial(NS1, "status.test") > serial
    assert answer_data(NS1, "hand.status.test", "A") == answer_data(NS2, "hand.status.test", "A") == set()
    assert dnsctl("status", "status.test", inventory=inventory).returncode == 0


def test_a_zone_without_secondaries_is_read_from_its_file(the_lab, inventory):
    code, document = dnsctl_json("status", "solo.test", inventory=inventory)
    assert code == 0, document
    assert (
        document["drift"]["solo.test"]["how"] == "the zone file on ns1 (no secondary may transfer the zone)"
    )
    add_by_hand(the_lab, "solo.test", 'hand\tIN TXT "edited"')
    code, document = dnsctl_json("status", "solo.test", inventory=inventory)
    assert code == 1 and document["drift"]["solo.test"]["extra"] == ['hand.solo.test. TXT "edited"']
    dnsctl_ok("init-primary", "solo.test", "--yes", inventory=inventory)


def test_a_closed_firewall_is_named(the_lab, inventory):
    the_lab.exec("ns2", "firewall-cmd", "--remove-service=dns")
    try:
        assert served_serial(NS2, "status.test") is None
        code, document = dnsctl_json("status", "status.test", inventory=inventory)
        assert code == 1, document
        assert document["firewall"]["ns2"] == {
            "state": "running",
            "zone": "public",
            "dns_runtime": False,
            "dns_permanent": True,
            "ok": False,
        }
        assert {
            "host": "ns2",
            "zone": None,
            "check": "firewall",
            "detail": "firewalld zone public does not allow the dns service",
        } in document["problems"]
        assert document["zones"]["status.test"]["ns2"]["checks"]["firewall"] == "FAIL"
    finally:
        the_lab.exec("ns2", "firewall-cmd", "--add-service=dns")
    assert dnsctl("status", "status.test", inventory=inventory).returncode == 0


def test_a_transfer_open_to_anyone_is_named(the_lab, inventory):
    managed = the_lab.read("ns1", MANAGED)
    stanza = re.search(r'^zone "status.test" \{\n.*?^\};\n', managed, re.MULTILINE | re.DOTALL).group(0)
    opened = managed.replace(
        stanza, stanza.replace(f"allow-transfer {{ {NS2}; }}", "allow-transfer { any; }")
    )
    assert opened != managed
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reconfig', "sh", MANAGED, input=opened)
    try:
        dns.query.inbound_xfr(NS1, dns.zone.Zone("status.test"), timeout=2)  # independently: it is open
        code, document = dnsctl_json("status", "status.test", inventory=inventory)
        assert code == 1, document
        problem = next(p for p in document["problems"] if p["check"] == "axfr-refused")
        assert problem["host"] == "ns1"
        assert (
            problem["detail"] == "transfers the zone to this machine and client1, which are not secondaries"
        )
    finally:
        the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reconfig', "sh", MANAGED, input=managed)
    with pytest.raises(dns.xfr.TransferError):
        dns.query.inbound_xfr(NS1, dns.zone.Zone("status.test"), timeout=2)
    assert dnsctl("status", "status.test", inventory=inventory).returncode == 0
