"""Catalog zones through dnsctl: ns2 consumes ns1's catalog, so a new zone reaches it with
ns2's configuration untouched, and a removed zone leaves it.

Checked without dnsctl: dnspython queries to each server's address (the catalog's own
records on the primary, the members on the secondary), the files inside the hosts, and
a prober that asks ns2 every 20 ms while its explicit stanza gives way to the catalog.
"""

from __future__ import annotations

import hashlib

import dns.flags
import dns.name
import dns.rcode
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import Prober, ask, wait_until

pytestmark = pytest.mark.lab

CATALOG = "catalog.test"
NEW_ZONE = """
[zones."newcat.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]

[[zones."newcat.test".records]]
name = "www"
type = "A"
value = "198.51.100.95"
"""
MOVED_ZONE = """
[zones."moved.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]

[[zones."moved.test".records]]
name = "www"
type = "A"
value = "198.51.100.96"
"""
CONFIG_FILES = "/etc/bind/* /etc/named.conf /etc/named.dnsctl.conf"


def inventory(the_lab, path, extra: str = "", catalog: bool = True):
    replace = the_lab.ns2_layout()
    if catalog:
        replace["[ssh]"] = f'catalog = "{CATALOG}"\n\n[ssh]'
    return the_lab.write_inventory(path, extra=extra, **replace)


def answered_serial(server: str, zone: str) -> int | None:
    """The serial the server serves with authority, None if it does not serve the zone; a
    server that does not answer at all fails the test."""
    response = ask(server, zone, "SOA", timeout=3)
    if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA or not response.answer:
        return None
    return response.answer[0][0].serial


def config_hash(the_lab, host: str) -> str:
    """sha256 of every configuration file, as `sha256sum` sees them inside the host."""
    listing = the_lab.exec(host, "sh", "-c", f"sha256sum {CONFIG_FILES} 2>/dev/null; true").stdout
    assert "named.conf" in listing
    return listing


def member_id(zone: str) -> str:
    return hashlib.sha1(dns.name.from_text(zone).to_digestable()).hexdigest()


def catalog_members(server: str, extra: tuple[str, ...] = ()) -> set[str]:
    """The members ns1's catalog lists, asked record by record as a consumer would read them."""
    response = ask(server, f"version.{CATALOG}", "TXT", timeout=3)
    assert [rdata.to_text() for rrset in response.answer for rdata in rrset] == ['"2"']
    members = set()
    for zone in ("example.com", "moved.test", "newcat.test", *extra):
        answer = ask(server, f"{member_id(zone)}.zones.{CATALOG}", "PTR", timeout=3).answer
        members |= {rdata.target.to_text().rstrip(".") for rrset in answer for rdata in rrset}
    return members


UNDO_CONSUMER = r"""
for options in /etc/bind/named.conf.options /etc/named.conf; do
  [ -f "$options" ] && sed -i '/BEGIN dnsctl catalog-zones/,/END dnsctl catalog-zones/d' "$options"
done
for managed in /etc/bind/named.conf.dnsctl /etc/named.dnsctl.conf; do
  [ -f "$managed" ] && python3 -c '
import re, sys
path, zone = sys.argv[1], sys.argv[2]
text = open(path).read()
open(path, "w").write(re.sub(r"\nzone \"%s\" \{\n.*?^\};\n" % re.escape(zone), "", text, flags=re.S | re.M))
' "$managed" "$1"
done
rndc reconfig
"""


@pytest.fixture(scope="module", autouse=True)
def leave_no_catalog(the_lab):
    """Later tests set zones up as explicit secondaries, which named refuses for a zone its
    catalog added: take the catalog away from both servers when this module is done."""
    yield
    for host in ("ns2", "ns1"):
        the_lab.exec(host, "sh", "-c", UNDO_CONSUMER, "undo-catalog", CATALOG)
    wait_until(
        lambda: answered_serial(NS2, "example.com") is None,
        "ns2 to stop serving example.com from the catalog",
    )


@pytest.fixture(scope="module")
def catalog(the_lab, tmp_path_factory):
    return inventory(the_lab, tmp_path_factory.mktemp("catalog") / "catalog.toml")


def test_explicit_secondaries_move_to_the_catalog_without_a_gap(the_lab, catalog, tmp_path):
    plain = inventory(the_lab, tmp_path / "plain.toml", extra=MOVED_ZONE, catalog=False)
    for zone in ("example.com", "moved.test"):
        set_up(plain, zone)
    moving = inventory(the_lab, tmp_path / "moving.toml", extra=MOVED_ZONE)
    with Prober(NS2, "example.com") as prober, Prober(NS2, "moved.test") as moved:
        result = dnsctl("catalog", "sync", "--yes", inventory=moving)
    assert result.returncode == 0, result.stdout + result.stderr
    assert prober.asked > 20 and prober.misses == [] and moved.misses == [], prober.misses + moved.misses
    assert catalog_members(NS1) == {"example.com", "moved.test"}
    assert answered_serial(NS2, "example.com") == answered_serial(NS1, "example.com")
    managed = the_lab.read(
        "ns2", "/etc/named.dnsctl.conf" if the_lab.rhel_layout() else "/etc/bind/named.conf.dnsctl"
    )
    assert f'zone "{CATALOG}"' in managed and 'zone "example.com"' not in managed
    assert 'zone "moved.test"' not in managed
    options = the_lab.read(
        "ns2", "/etc/named.conf" if the_lab.rhel_layout() else "/etc/bind/named.conf.options"
    )
    assert f'catalog-zones {{\n\t\tzone "{CATALOG}" default-primaries {{ {NS1}; }}' in options
    directory = "/var/named/slaves/catalog" if the_lab.rhel_layout() else "/var/cache/bind/slaves/catalog"
    owner = the_lab.exec("ns2", "stat", "-c", "%a %G", directory).stdout.split()
    assert owner[0] == "775" and owner[1] in ("bind", "named")


def test_catalog_sync_again_changes_nothing(the_lab, tmp_path):
    moving = inventory(the_lab, tmp_path / "moving.toml", extra=MOVED_ZONE)
    before = config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2")
    code, document = dnsctl_json("catalog", "sync", "--yes", inventory=moving)
    assert code == 0, document
    assert all(not host["actions"] for host in document["plan"].values()), document["plan"]
    assert config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2") == before


def test_apply_finds_the_catalog_as_the_inventory_says(the_lab, tmp_path):
    moving = inventory(the_lab, tmp_path / "moving.toml", extra=MOVED_ZONE)
    code, document = dnsctl_json("apply", "example.com", "moved.test", "--check", inventory=moving)
    assert code == 0, document
    assert document["changes"] is False


def test_new_zone_reaches_the_secondary_with_its_configuration_untouched(the_lab, catalog, tmp_path):
    before = config_hash(the_lab, "ns2")
    added = inventory(the_lab, tmp_path / "added.toml", extra=MOVED_ZONE + NEW_ZONE)
    dnsctl_ok("init-primary", "newcat.test", "--yes", inventory=added)
    served = wait_until(lambda: answered_serial(NS2, "newcat.test"), "ns2 to serve newcat.test")
    assert served == answered_serial(NS1, "newcat.test")
    assert {r.to_text() for rrset in ask(NS2, "www.newcat.test", "A", timeout=3).answer for r in rrset} == {
        "198.51.100.95"
    }
    assert catalog_members(NS1) == {"example.com", "moved.test", "newcat.test"}
    code, document = dnsctl_json("add-slave", "newcat.test", "--yes", inventory=added)
    assert code == 0, document
    assert document["plan"]["ns2"]["actions"] == []
    assert config_hash(the_lab, "ns2") == before  # byte for byte


APPLIED_ZONE = NEW_ZONE.replace("newcat.test", "applied.test").replace("198.51.100.95", "198.51.100.97")


def test_apply_adds_and_removes_a_member_through_the_catalog(the_lab, tmp_path):
    """`dnsctl apply` after a zone is added to the inventory: only the primary changes, and
    apply returns once the consumer serves the zone; after it is deleted, once it does not."""
    before = config_hash(the_lab, "ns2")
    grown = inventory(the_lab, tmp_path / "grown.toml", extra=MOVED_ZONE + NEW_ZONE + APPLIED_ZONE)
    code, document = dnsctl_json("apply", "--yes", inventory=grown)
    assert code == 0, document
    assert document["plan"]["ns2"]["actions"] == []
    served = answered_serial(NS2, "applied.test")  # no waiting here: apply waited for it
    assert served is not None and served == answered_serial(NS1, "applied.test")
    assert {r.to_text() for rrset in ask(NS2, "www.applied.test", "A", timeout=3).answer for r in rrset} == {
        "198.51.100.97"
    }
    assert "applied.test" in catalog_members(NS1, extra=("applied.test",))
    assert config_hash(the_lab, "ns2") == before

    shrunk = inventory(the_lab, tmp_path / "shrunk.toml", extra=MOVED_ZONE + NEW_ZONE)
    result = dnsctl_ok("apply", "--yes", inventory=shrunk)
    assert "applied.test no longer served at 198.51.100.11" in result.stdout
    for server in (NS1, NS2):
        assert answered_serial(server, "applied.test") is None
    assert catalog_members(NS1, extra=("applied.test",)) == {"example.com", "moved.test", "newcat.test"}
    assert config_hash(the_lab, "ns2") == before


def test_record_add_to_a_member_reaches_the_consumer_with_its_configuration_untouched(the_lab, tmp_path):
    """A member's secondaries consume the catalog: a record change gives them no stanza of
    their own (named would refuse one for a zone its catalog added)."""
    before = config_hash(the_lab, "ns2")
    path = inventory(the_lab, tmp_path / "records.toml", extra=MOVED_ZONE + NEW_ZONE)
    result = dnsctl("record", "add", "newcat.test", "late", "A", "198.51.100.98", "--yes", inventory=path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert {r.to_text() for rrset in ask(NS2, "late.newcat.test", "A").answer for r in rrset} == {
        "198.51.100.98"
    }
    assert answered_serial(NS2, "newcat.test") == answered_serial(NS1, "newcat.test")
    assert config_hash(the_lab, "ns2") == before


def test_removed_zones_stop_everywhere(the_lab, catalog):
    """newcat.test came by the catalog; moved.test was an explicit stanza before it."""
    before = config_hash(the_lab, "ns2")
    assert answered_serial(NS2, "newcat.test") is not None and answered_serial(NS2, "moved.test") is not None
    result = dnsctl_ok("catalog", "sync", "--yes", inventory=catalog)
    for zone in ("newcat.test", "moved.test"):
        assert f"{zone} no longer served at 198.51.100.11" in result.stdout
        for server in (NS1, NS2):
            assert answered_serial(server, zone) is None
        assert f'zone "{zone}"' not in the_lab.read("ns1", "/etc/bind/named.conf.dnsctl")
    assert catalog_members(NS1) == {"example.com"}
    assert answered_serial(NS2, "example.com") == answered_serial(NS1, "example.com")
    assert config_hash(the_lab, "ns2") == before


def test_bad_catalog_settings_are_refused_at_load(the_lab, tmp_path):
    other = NEW_ZONE.replace('secondaries = ["ns2"]', "secondaries = []")
    apart = NEW_ZONE.replace(
        'primary = "ns1"\nsecondaries = ["ns2"]', 'primary = "ns2"\nsecondaries = ["ns1"]'
    )
    for extra, name, field in (
        (apart, "catalog.test", 'zones."newcat.test".primary'),
        (other, "example.com", "catalog: example.com is a zone of the inventory"),
    ):
        path = the_lab.write_inventory(
            tmp_path / "bad.toml", extra=extra, **{"[ssh]": f'catalog = "{name}"\n\n[ssh]'}
        )
        result = dnsctl("catalog", "sync", "--yes", inventory=path)
        assert result.returncode == 2, result.stdout + result.stderr
        assert field in result.stderr, result.stderr
