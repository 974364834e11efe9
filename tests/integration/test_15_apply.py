"""apply against the lab: one run converges several zones on both servers (derived reverse
zones included), a second run changes nothing, --check reports drift without touching
anything, and --prune removes what the inventory dropped, keeping the files in the backup.
Every result is checked by DNS at each server's own address and by reading files inside
the lab hosts."""

from __future__ import annotations

import ipaddress
import json

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from dnsctl.models import load_inventory

from .conftest import NS1, NS2, dnsctl, dnsctl_ok

pytestmark = pytest.mark.lab

V4_NETWORK, V4_ZONE = "198.51.100.0/24", "100.51.198.in-addr.arpa"
V6_NETWORK, V6_ZONE = "2001:db8::/48", "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
LONG_TEXT = "v=DKIM1; k=rsa; p=" + "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA" * 7  # > 255 octets


def zone(
    name: str, primary: str = "ns1", secondaries: tuple[str, ...] = ("ns2",), records=(), reverse=()
) -> str:
    lines = [f'[zones."{name}"]', f'primary = "{primary}"', f"secondaries = {json.dumps(list(secondaries))}"]
    if reverse:
        lines.append(f"reverse = {json.dumps(list(reverse))}")
    for owner, rdtype, value in records:
        lines += [f'[[zones."{name}".records]]', f'name = "{owner}"', f'type = "{rdtype}"']
        lines.append(f"value = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


FORWARD = (
    ("www", "A", "198.51.100.60"),
    ("www", "AAAA", "2001:db8::60"),
    ("@", "MX", "10 mail"),
    ("mail", "A", "198.51.100.61"),
    ("_sip._tcp", "SRV", "10 5 5060 www.apply.test."),
    ("web", "CNAME", "www"),
    ("@", "TXT", LONG_TEXT),
    ("@", "TXT", "v=spf1 mx -all"),
)


def inventory_text(
    extra_record: bool = False, with_gone: bool = True, shrink_secondaries: tuple[str, ...] = ("ns2",)
) -> str:
    """Zones of every kind, the IPv4 and IPv6 reverse zones derived from the forward one, name
    servers named outside most of them, and a zone whose primary is ns2 (so each server is
    primary of one zone and secondary of another)."""
    forward = FORWARD + ((("late", "A", "198.51.100.69"),) if extra_record else ())
    zones = [
        zone("apply.test", records=forward, reverse=(V4_NETWORK, V6_NETWORK)),
        zone("peer.test", primary="ns2", secondaries=("ns1",), records=[("host", "A", "198.51.100.62")]),
        zone("shrink.test", secondaries=shrink_secondaries, records=[("a", "A", "198.51.100.63")]),
    ]
    if with_gone:
        zones.append(zone("gone.test", records=[("b", "A", "198.51.100.64")]))
    return "\n".join(zones)


@pytest.fixture(scope="module")
def write(the_lab, tmp_path_factory):
    """Write a variant of the test inventory (name servers called ns1/ns2.apply.test) and
    return its path."""
    path = tmp_path_factory.mktemp("apply") / "inventory.toml"

    def write_variant(**variant) -> object:
        return the_lab.write_inventory(
            path,
            extra=inventory_text(**variant),
            **{
                '[servers.ns1]\naddress = "198.51.100.10"': (
                    '[servers.ns1]\naddress = "198.51.100.10"\nnameserver = "ns1.apply.test"'
                ),
                '[servers.ns2]\naddress = "198.51.100.11"': (
                    '[servers.ns2]\naddress = "198.51.100.11"\nnameserver = "ns2.apply.test"'
                ),
            },
        )

    return write_variant


@pytest.fixture(scope="module")
def applied(write):
    path = write()
    result = dnsctl_ok("apply", "--yes", inventory=path)
    return path, result


def ask(server: str, name: str, rdtype: str) -> tuple[str, bool, list[str]]:
    """rcode, AA and the answer section as text, sorted: what a resolver would get."""
    query = dns.message.make_query(name, rdtype)
    query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, server, timeout=2)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(query, server, timeout=2)
    lines = sorted(line for rrset in response.answer for line in rrset.to_text().splitlines())
    return dns.rcode.to_text(response.rcode()), bool(response.flags & dns.flags.AA), lines


def served_values(server: str, name: str, rdtype: str) -> set[str]:
    rcode, authoritative, lines = ask(server, name, rdtype)
    assert authoritative, (server, name, rdtype, rcode)
    return {line.split(None, 4)[4] for line in lines if line.split()[3] == rdtype}


def soa_serial(server: str, name: str) -> int:
    (line,) = ask(server, name, "SOA")[2]
    return int(line.split()[6])


def test_apply_makes_both_servers_answer_every_record_identically(applied):
    path, result = applied
    inventory = load_inventory(path)
    assert "peer.test" in result.stdout and "in sync" in result.stdout
    for zone_name in inventory.zones:
        asked = [(zone_name, "SOA"), (zone_name, "NS")]
        asked += [(record.owner, record.type) for record in inventory.records(zone_name)]
        for owner, rdtype in dict.fromkeys(asked):
            assert ask(NS1, owner, rdtype) == ask(NS2, owner, rdtype), (owner, rdtype)
        for record in inventory.records(zone_name):
            assert record.value in served_values(NS1, record.owner, record.type), record
    # The long TXT is two character-strings, as the inventory's text cut at 255 octets.
    (long_txt,) = [value for value in served_values(NS2, "apply.test", "TXT") if "DKIM" in value]
    assert long_txt.count('" "') == 1 and long_txt.replace('" "', "").strip('"') == LONG_TEXT
    # The derived reverse zones, named by both servers, point at the forward names.
    assert {V4_ZONE, V6_ZONE} <= set(inventory.zones)
    assert served_values(NS2, f"60.{V4_ZONE}", "PTR") == {"www.apply.test."}
    v6_ptr = ipaddress.ip_address("2001:db8::60").reverse_pointer
    assert v6_ptr.endswith(V6_ZONE) and served_values(NS2, v6_ptr, "PTR") == {"www.apply.test."}
    # Out-of-zone name servers: the reverse zones name the servers by their forward names.
    assert served_values(NS2, V4_ZONE, "NS") == {"ns1.apply.test.", "ns2.apply.test."}
    assert served_values(NS1, "peer.test", "NS") == {"ns2.apply.test.", "ns1.apply.test."}


def test_second_apply_changes_nothing(the_lab, applied):
    path, _ = applied
    files = "/etc/bind/named.conf.dnsctl /var/lib/bind/apply.test.db /var/cache/bind/slaves/peer.test.db"
    stat = ["sh", "-c", f"stat -c '%n %Y %s' {files} 2>/dev/null"]
    before = the_lab.exec("ns1", *stat).stdout
    result = dnsctl_ok("--json", "apply", "--yes", inventory=path)
    document = json.loads(result.stdout)
    assert document["changes"] is False
    assert all(not plan["actions"] for plan in document["plan"].values())
    actions = [step["action"] for step in document["steps"]]
    assert not [action for action in actions if "activate" in action or "stage" in action], actions
    assert the_lab.exec("ns1", *stat).stdout == before
    check = dnsctl_ok("apply", "--check", inventory=path)
    assert "check: nothing would change" in check.stdout


def test_check_reports_a_change_and_makes_none(the_lab, applied, write):
    path, _ = applied
    zone_file = the_lab.read("ns1", "/var/lib/bind/apply.test.db")
    write(extra_record=True)
    try:
        for flag in ("--check", "--expect-no-changes"):
            result = dnsctl("apply", flag, inventory=path)
            assert result.returncode == 1, result.stdout + result.stderr
            assert "+late\tIN A 198.51.100.69" in result.stdout
            assert result.stderr.startswith("dnsctl: error: ns1 would change")
        assert the_lab.read("ns1", "/var/lib/bind/apply.test.db") == zone_file
        assert ask(NS1, "late.apply.test", "A")[0] == "NXDOMAIN"
    finally:
        write()


def test_a_named_zone_brings_its_derived_reverse_zones(the_lab, applied, write):
    """`apply apply.test` after a new address: its PTR is served by both servers too."""
    path, _ = applied
    write(extra_record=True)
    try:
        dnsctl_ok("apply", "apply.test", "--yes", inventory=path)
        for server in (NS1, NS2):
            assert served_values(server, "late.apply.test", "A") == {"198.51.100.69"}
            assert served_values(server, f"69.{V4_ZONE}", "PTR") == {"late.apply.test."}
    finally:
        write()
        dnsctl_ok("apply", "apply.test", "--yes", inventory=path)
    assert ask(NS2, f"69.{V4_ZONE}", "PTR")[0] == "NXDOMAIN"


def test_prune_removes_what_the_inventory_dropped(the_lab, applied, write):
    path, _ = applied
    kept_serial = soa_serial(NS2, "apply.test")
    write(with_gone=False, shrink_secondaries=())
    # Without --prune the dropped zone stays, and the plan says so.
    result = dnsctl_ok("apply", "--yes", inventory=path)
    assert "gone.test (primary) is dnsctl's but not in the inventory for ns1" in result.stdout
    assert "`dnsctl apply --prune` removes it" in result.stdout
    assert soa_serial(NS1, "gone.test") and soa_serial(NS2, "gone.test")
    # shrink.test no longer names ns2: its NS set loses it at once, ns2 keeps a stale copy.
    assert served_values(NS1, "shrink.test", "NS") == {"ns1.apply.test."}
    assert ask(NS2, "shrink.test", "SOA")[1]
    check = dnsctl("apply", "--check", "--prune", inventory=path)
    assert check.returncode == 1, check.stdout + check.stderr

    dnsctl_ok("apply", "--prune", "--yes", inventory=path)
    for server in (NS1, NS2):
        assert ask(server, "gone.test", "SOA")[0] == "REFUSED"
    assert ask(NS2, "shrink.test", "SOA")[0] == "REFUSED"
    assert ask(NS1, "shrink.test", "SOA")[1]  # its primary still serves it
    backed_up = "ls /var/backups/dnsctl/*{}"
    assert the_lab.exec("ns1", "sh", "-c", backed_up.format("/var/lib/bind/gone.test.db")).stdout
    assert the_lab.exec("ns2", "sh", "-c", backed_up.format("/var/cache/bind/slaves/gone.test.db")).stdout
    assert the_lab.exec("ns2", "sh", "-c", backed_up.format("/var/cache/bind/slaves/shrink.test.db")).stdout
    assert the_lab.exec("ns1", "test", "-e", "/var/lib/bind/gone.test.db", check=False).returncode == 1
    assert 'zone "gone.test"' not in the_lab.read("ns1", "/etc/bind/named.conf.dnsctl")
    # A zone still in the inventory is untouched: same serial, same answers on both.
    assert soa_serial(NS1, "apply.test") == soa_serial(NS2, "apply.test") == kept_serial
    assert ask(NS1, "www.apply.test", "AAAA") == ask(NS2, "www.apply.test", "AAAA")
    dnsctl_ok("apply", "--check", "--prune", inventory=path)


def test_more_changed_zones_than_sshd_allows_sessions(applied, tmp_path):
    """Twelve new zones on each server: staging writes and checks them side by side, more
    than the 10 sessions sshd allows one connection by default (one held by the lock)."""
    path, _ = applied
    many = [f"z{i}.many.test" for i in range(12)]
    extra = [zone(name, records=[("a", "A", f"198.51.100.{100 + i}")]) for i, name in enumerate(many)]
    bigger = tmp_path / "many.toml"
    bigger.write_text(path.read_text() + "\n" + "\n".join(extra))
    dnsctl_ok("apply", "--yes", inventory=bigger)
    for i, name in enumerate(many):
        assert served_values(NS1, f"a.{name}", "A") == {f"198.51.100.{100 + i}"}
        assert soa_serial(NS2, name) == soa_serial(NS1, name)
    # Back to the module's inventory: the twelve zones go again.
    dnsctl_ok("apply", "--prune", "--yes", inventory=path)
    for server in (NS1, NS2):
        assert ask(server, many[0], "SOA")[0] == "REFUSED"
