"""status against the lab: a healthy zone is reported healthy; a record added by hand to the
primary's zone file, a closed firewall and a zone transfer open to anyone are each named, with
exit 1. Every break is made by hand on the host, checked independently by DNS, and undone."""

from __future__ import annotations

import re
import time

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.xfr
import dns.zone
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json

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


def serial_at(server: str, zone: str) -> int | None:
    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, server, timeout=1)
    except (dns.exception.DNSException, OSError):
        return None
    if not response.flags & dns.flags.AA or not response.answer:
        return None
    return response.answer[0][0].serial


def wait_for_serial(server: str, zone: str, serial: int) -> None:
    deadline = time.monotonic() + 10
    while serial_at(server, zone) != serial:
        assert time.monotonic() < deadline, f"{server} never served {zone} serial {serial}"
        time.sleep(0.05)


def a_records(server: str, name: str) -> set[str]:
    response = dns.query.udp(dns.message.make_query(name, "A"), server, timeout=2)
    return {rdata.to_text() for rrset in response.answer for rdata in rrset}


def add_by_hand(the_lab, zone: str, line: str) -> int:
    """Append a record to the primary's zone file, bump its serial, reload: the new serial."""
    path = f"/var/lib/bind/{zone}.db"
    text = the_lab.read("ns1", path)
    serial = int(re.search(r"^\s+(\d+) ; serial$", text, re.MULTILINE).group(1)) + 1
    text = re.sub(r"^(\s+)\d+( ; serial)$", rf"\g<1>{serial}\2", text, count=1, flags=re.MULTILINE)
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1"', "sh", path, input=text + line + "\n")
    the_lab.exec("ns1", "rndc", "reload", zone)
    wait_for_serial(NS1, zone, serial)
    return serial


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("status") / "status.toml", extra=ZONES)
    for command, zone in (
        ("init-primary", "status.test"),
        ("add-slave", "status.test"),
        ("init-primary", "solo.test"),
    ):
        result = dnsctl(command, zone, "--yes", inventory=path)
        assert result.returncode == 0, result.stdout + result.stderr
    return path


def test_a_healthy_zone(the_lab, inventory):
    code, document = dnsctl_json("status", "status.test", inventory=inventory)
    assert code == 0, document
    copies = document["zones"]["status.test"]
    serial = serial_at(NS1, "status.test")
    assert copies["ns1"]["serial"] == copies["ns2"]["serial"] == serial == serial_at(NS2, "status.test")
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
    assert a_records(NS1, "hand.status.test") == {"198.51.100.71"}
    code, document = dnsctl_json("status", "status.test", inventory=inventory)
    assert code == 1, document
    assert document["drift"]["status.test"]["extra"] == ["hand.status.test. A 198.51.100.71"]
    assert "served but not in the inventory: hand.status.test. A 198.51.100.71" in document["error"]
    # What dnsctl wrote wins again: the record is gone everywhere, the serial moved on.
    result = dnsctl("add-slave", "status.test", "--yes", inventory=inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert serial_at(NS1, "status.test") > serial
    assert a_records(NS1, "hand.status.test") == a_records(NS2, "hand.status.test") == set()
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
    result = dnsctl("init-primary", "solo.test", "--yes", inventory=inventory)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_closed_firewall_is_named(the_lab, inventory):
    the_lab.exec("ns2", "firewall-cmd", "--remove-service=dns")
    try:
        assert serial_at(NS2, "status.test") is None
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
