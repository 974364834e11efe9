"""The tutorial, through dnsctl: init-primary, add-slave, configure-client, failover-test.

Every result is checked without dnsctl: dnspython queries sent to one server's
address, and files and services read inside the lab hosts.
"""

from __future__ import annotations

import hashlib

import dns.reversename
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import answer_data, ask, soa

pytestmark = pytest.mark.lab

SECOND_ZONES = """
[zones."example.net"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."example.net".records]]
name = "www"
type = "A"
value = "198.51.100.60"

[[zones."example.net".records]]
name = "@"
type = "MX"
value = "10 mail.example.net."

[[zones."example.net".records]]
name = "mail"
type = "A"
value = "198.51.100.61"

[[zones."example.net".records]]
name = "note"
type = "TXT"
value = "v=spf1 -all; \\"quoted\\" text"

[zones."100.51.198.in-addr.arpa"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."100.51.198.in-addr.arpa".records]]
name = "50"
type = "PTR"
value = "pc1.example.com."

[[zones."100.51.198.in-addr.arpa".records]]
name = "60"
type = "PTR"
value = "www.example.net."

[zones."lonely.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."lonely.test".records]]
name = "host"
type = "A"
value = "198.51.100.70"
"""


EDGE_ZONE = """
[zones."edge.test"]
primary = "ns1"
secondaries = ["ns2"]
ttl = 600

[[zones."edge.test".records]]
name = "@"
type = "NS"
value = "ns.external.example."

[[zones."edge.test".records]]
name = "sub"
type = "NS"
value = "ns.sub"

[[zones."edge.test".records]]
name = "ns.sub"
type = "A"
value = "198.51.100.99"

[[zones."edge.test".records]]
name = "*"
type = "A"
value = "198.51.100.98"

[[zones."edge.test".records]]
name = "Multi"
type = "A"
value = "198.51.100.1"

[[zones."edge.test".records]]
name = "multi.edge.test."
type = "A"
value = "198.51.100.2"

[[zones."edge.test".records]]
name = "@"
type = "A"
value = "198.51.100.3"

[[zones."edge.test".records]]
name = "zero"
type = "TXT"
value = "ttl zero 'single' \\\\backslash ünï"
ttl = 0

[[zones."edge.test".records]]
name = "_ldap._tcp"
type = "SRV"
value = "0 100 389 multi"

[[zones."edge.test".records]]
name = "v6"
type = "AAAA"
value = "2001:DB8:0:0::1"
"""


def fingerprint(the_lab, host: str) -> str:
    """Content and mtime of every file dnsctl may touch, to prove a re-run writes nothing."""
    listing = the_lab.exec(
        host,
        "sh",
        "-c",
        "for f in /etc/bind/* /var/lib/bind/* /var/cache/bind/slaves/*; do "
        '[ -f "$f" ] && stat -c \'%n %Y %s\' "$f" && md5sum "$f"; done; '
        "systemctl show named -p MainPID -p ExecMainStartTimestamp; "
        "rndc status | grep -i 'last configured'; true",
    ).stdout
    return hashlib.sha256(listing.encode()).hexdigest() + "\n" + listing


@pytest.fixture(scope="module")
def more_zones(the_lab, tmp_path_factory):
    return the_lab.write_inventory(tmp_path_factory.mktemp("inv") / "more.toml", extra=SECOND_ZONES)


def test_init_primary(the_lab):
    code, document = dnsctl_json("init-primary", "example.com", "--yes", inventory=the_lab.inventory)
    assert code == 0, document
    serial, authoritative = soa(NS1, "example.com")
    assert authoritative
    assert next(step["data"]["serial"] for step in document["steps"] if "serial" in step["data"]) == serial
    assert answer_data(NS1, "pc1.example.com", "A") == {"198.51.100.50"}
    assert answer_data(NS1, "example.com", "NS") == {"ns1.example.com.", "ns2.example.com."}
    for flag in ([], ["--permanent"]):
        services = the_lab.exec("ns1", "firewall-cmd", *flag, "--zone=public", "--list-services").stdout
        assert "dns" in services.split()
    # The permanent change is firewalld's own zone file, read after every firewalld reload.
    assert '<service name="dns"/>' in the_lab.read("ns1", "/etc/firewalld/zones/public.xml")
    zone_file = the_lab.read("ns1", "/var/lib/bind/example.com.db")
    assert f"{serial} ; serial" in zone_file
    assert 'include "/etc/bind/named.conf.dnsctl";' in the_lab.read("ns1", "/etc/bind/named.conf.local")


def test_init_primary_again_changes_nothing(the_lab):
    before = fingerprint(the_lab, "ns1")
    serial = soa(NS1, "example.com")[0]
    code, document = dnsctl_json("init-primary", "example.com", "--yes", inventory=the_lab.inventory)
    assert code == 0, document
    assert document["plan"]["ns1"]["actions"] == []
    assert fingerprint(the_lab, "ns1") == before
    assert soa(NS1, "example.com")[0] == serial


def test_add_slave(the_lab):
    serial = soa(NS1, "example.com")[0]
    result = dnsctl_ok("add-slave", "example.com", "--yes", inventory=the_lab.inventory)
    assert "zone transferred, in sync" in result.stdout
    assert soa(NS2, "example.com") == (serial, True)
    assert answer_data(NS2, "pc1.example.com", "A") == {"198.51.100.50"}
    assert the_lab.exec("ns2", "test", "-s", "/var/cache/bind/slaves/example.com.db").returncode == 0
    # The primary transfers to the secondary's address, and to no one else.
    allowed = the_lab.exec("ns2", "dig", "+time=2", "+tries=1", f"@{NS1}", "example.com", "AXFR").stdout
    assert "pc1.example.com." in allowed
    refused = the_lab.exec("client1", "dig", "+time=2", "+tries=1", f"@{NS1}", "example.com", "AXFR").stdout
    assert "pc1.example.com." not in refused and "Transfer failed" in refused


def test_status_sees_both_servers_in_sync(the_lab):
    code, document = dnsctl_json("status", "example.com", inventory=the_lab.inventory)
    assert code == 0, document
    copies = document["zones"]["example.com"]
    assert copies["ns1"]["serial"] == copies["ns2"]["serial"] == soa(NS1, "example.com")[0]
    assert copies["ns1"]["authoritative"] and copies["ns2"]["authoritative"]


def test_add_slave_again_changes_nothing(the_lab):
    before = fingerprint(the_lab, "ns1") + fingerprint(the_lab, "ns2")
    code, document = dnsctl_json("add-slave", "example.com", "--yes", inventory=the_lab.inventory)
    assert code == 0, document
    assert all(not host["actions"] for host in document["plan"].values())
    assert fingerprint(the_lab, "ns1") + fingerprint(the_lab, "ns2") == before


def test_configure_client(the_lab):
    dnsctl_ok("configure-client", "--yes", inventory=the_lab.inventory)
    resolv = the_lab.read("client1", "/etc/resolv.conf")
    servers = [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")]
    assert servers == [NS1, NS2]
    assert the_lab.exec("client1", "getent", "hosts", "pc1.example.com").stdout.split()[0] == "198.51.100.50"
    again = dnsctl("configure-client", "--yes", inventory=the_lab.inventory)
    assert again.returncode == 0 and "no changes" in again.stdout


@pytest.mark.parametrize("mode", ["stop", "drop"])
def test_failover(the_lab, mode):
    code, document = dnsctl_json(
        "failover-test", "example.com", "--mode", mode, "--yes", inventory=the_lab.inventory
    )
    assert code == 0, document
    answered = [step["data"].get("answered_by") for step in document["steps"] if "resolve" in step["action"]]
    assert answered == [NS1, NS2]
    assert the_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"
    assert the_lab.exec("ns1", "firewall-cmd", "--list-rich-rules").stdout.strip() == ""
    assert soa(NS1, "example.com")[1]


def test_second_forward_and_reverse_zone(the_lab, more_zones):
    for zone in ("example.net", "100.51.198.in-addr.arpa"):
        set_up(more_zones, zone)
    for server in (NS1, NS2):
        assert soa(server, "example.net")[1]
        assert answer_data(server, "www.example.net", "A") == {"198.51.100.60"}
        assert answer_data(server, "example.net", "MX") == {"10 mail.example.net."}
        assert answer_data(server, "note.example.net", "TXT") == {'"v=spf1 -all; \\"quoted\\" text"'}
        reverse = dns.reversename.from_address("198.51.100.50").to_text()
        assert answer_data(server, reverse, "PTR") == {"pc1.example.com."}
    # dig -x on the client, against each server by address
    for server in (NS1, NS2):
        answer = the_lab.exec("client1", "dig", "+short", f"@{server}", "-x", "198.51.100.60").stdout
        assert answer.strip() == "www.example.net."
    # The first zone is still served, untouched, by both.
    assert answer_data(NS2, "pc1.example.com", "A") == {"198.51.100.50"}
    result = dnsctl_ok(
        "failover-test", "example.net", "--name", "www", "--mode", "drop", "--yes", inventory=more_zones
    )
    assert "during: resolve www.example.net: 198.51.100.60 from 198.51.100.11" in result.stdout


def test_failover_fails_when_the_secondary_lacks_the_zone(the_lab, more_zones):
    dnsctl_ok("init-primary", "lonely.test", "--yes", inventory=more_zones)
    missing = dnsctl("status", "lonely.test", inventory=more_zones)
    assert missing.returncode == 1 and "ns2 lonely.test" in missing.stderr
    code, document = dnsctl_json("failover-test", "lonely.test", "--yes", inventory=more_zones)
    assert code == 1, document
    assert "failover failed" in document["error"]
    assert the_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"
    assert soa(NS1, "lonely.test")[1]


def test_unknown_zone_client_or_server(the_lab):
    for args in (
        ["init-primary", "nosuch.example"],
        ["add-slave", "example.com", "ns9"],
        ["configure-client", "nosuchclient"],
        ["failover-test", "example.com", "--client", "nosuchclient"],
    ):
        result = dnsctl(*args, "--yes", inventory=the_lab.inventory)
        assert result.returncode == 2, args
        assert len(result.stderr.strip().splitlines()) == 1


def test_edge_cases_of_records(the_lab, tmp_path):
    """Delegation with glue, an extra apex NS, a wildcard, mixed-case and absolute names,
    a TTL of 0, TXT with quotes, backslashes and UTF-8, SRV and AAAA: served by both."""
    inventory = the_lab.write_inventory(tmp_path / "edge.toml", extra=EDGE_ZONE)
    set_up(inventory, "edge.test")
    for server in (NS1, NS2):
        assert answer_data(server, "multi.edge.test", "A") == {"198.51.100.1", "198.51.100.2"}
        assert answer_data(server, "anything.edge.test", "A") == {"198.51.100.98"}
        assert answer_data(server, "v6.edge.test", "AAAA") == {"2001:db8::1"}
        assert "ns.external.example." in answer_data(server, "edge.test", "NS")
        referral = ask(server, "host.sub.edge.test", "A")
        assert {r.to_text() for rrset in referral.authority for r in rrset} == {"ns.sub.edge.test."}
        (txt,) = ask(server, "zero.edge.test", "TXT").answer
        assert txt.ttl == 0
        assert b"".join(txt[0].strings).decode() == "ttl zero 'single' \\backslash ünï"
