"""Catalog zones: the inventory's rules, the catalog's text, the consumer's configuration, planning."""

from __future__ import annotations

import copy
import datetime as dt
import re

import dns.zone
import pytest

from dnsctl import apply, catalog, namedconf, plan, render
from dnsctl.errors import InventoryError, PreconditionError
from dnsctl.facts.host import parse_host_facts
from dnsctl.facts.named_config import parse_zone_status
from dnsctl.models import parse_inventory
from dnsctl.ops import add_slave, init_primary
from dnsctl.platform import DEBIAN, RHEL

from .conftest import DATA, TUTORIAL
from .fakes import exactly, script
from .simulated import DEBIAN_FILES, Scene, configured_files
from .test_facts import DEBIAN_HOST

TODAY = dt.date(2026, 11, 25)
CATALOG_FILE = "/var/lib/bind/catalog.example.db"
OPTIONS = "/etc/bind/named.conf.options"


def with_catalog(raw=None, **zones):
    raw = copy.deepcopy(raw or TUTORIAL)
    raw["catalog"] = "Catalog.Example."
    for name, settings in zones.items():
        raw["zones"][name.replace("_", ".")] = settings
    return parse_inventory(raw)


NEW = {
    "primary": "ns1",
    "secondaries": ["ns2"],
    "records": [{"name": "www", "type": "A", "value": "198.51.100.9"}],
}


# --- the inventory ---------------------------------------------------------------------


def test_members_primary_and_consumers():
    inventory = with_catalog(new_test=NEW)
    assert inventory.catalog == "catalog.example"
    assert inventory.catalog_members() == ["example.com", "100.51.198.in-addr.arpa", "new.test"]
    assert inventory.catalog_primary() == "ns1" and inventory.catalog_consumers() == ["ns2"]
    alone = dict(NEW, secondaries=[])
    out = dict(NEW, in_catalog=False, secondaries=["ns2"])
    assert "new.test" not in with_catalog(new_test=alone).catalog_members()
    assert "new.test" not in with_catalog(new_test=out).catalog_members()
    assert parse_inventory(copy.deepcopy(TUTORIAL)).catalog_members() == []


@pytest.mark.parametrize(
    ("zone", "catalog_name", "field"),
    [
        (dict(NEW, primary="ns2", secondaries=["ns1"]), None, 'zones."new.test".primary'),
        (dict(NEW, allow_query=["localnets"]), None, 'zones."new.test".allow_query'),
        (dict(NEW, tsig=True), None, 'zones."new.test".tsig: the catalog\'s consumers ask for all members'),
        (NEW, "example.com", "catalog: example.com is a zone of the inventory"),
        (NEW, "not a name", "catalog"),
    ],
)
def test_bad_catalog_settings_name_the_field(zone, catalog_name, field):
    raw = copy.deepcopy(TUTORIAL)
    raw["zones"]["new.test"] = zone
    raw["catalog"] = catalog_name or "catalog.example"
    with pytest.raises(InventoryError) as error:
        parse_inventory(raw)
    assert field in str(error.value)


def test_a_catalog_without_members_loads_and_lists_nothing():
    raw = copy.deepcopy(TUTORIAL)
    for zone in raw["zones"].values():
        zone["secondaries"] = []
    raw["catalog"] = "catalog.example"
    inventory = parse_inventory(raw)
    assert inventory.catalog_members() == [] and inventory.catalog_primary() is None


def test_other_secondaries_are_refused_unless_out_of_the_catalog():
    three = copy.deepcopy(TUTORIAL)
    three["servers"]["ns3"] = {"address": "198.51.100.12"}
    with pytest.raises(InventoryError, match=re.escape('zones."new.test".secondaries: every consumer')):
        with_catalog(three, new_test=dict(NEW, secondaries=["ns3"]))
    inventory = with_catalog(three, new_test=dict(NEW, secondaries=["ns3"], in_catalog=False))
    assert "new.test" not in inventory.catalog_members()


# --- the catalog and the consumer's configuration ---------------------------------------


def test_member_id_is_the_sha1_of_the_wire_name():
    # The example in BIND's documentation of catalog zones.
    assert catalog.member_id("domain.example") == "5960775ba382e7a4e09263fc06e7c00569b6a05c"


def test_catalog_golden_and_readable():
    inventory = with_catalog()
    text = catalog.render_catalog(inventory, inventory.catalog_members(), 2026112500)
    assert text == (DATA / "catalog.zone").read_text()
    zone = dns.zone.from_text(text, origin="catalog.example.", relativize=False)
    assert zone.find_rdataset("version.catalog.example.", "TXT")[0].to_text() == '"2"'
    assert catalog.listed(text) == sorted(inventory.catalog_members(), key=catalog.member_id)
    assert render.zone_serial(text) == 2026112500  # rollback renews it like any zone's


def test_allow_query_as_apl():
    assert catalog.apl(["any"]) is None
    assert catalog.apl(["localhost", "198.51.100.0/24", "2001:db8::1"]) == (
        "1:127.0.0.0/8 2:::1/128 1:198.51.100.0/24 2:2001:db8::1/128"
    )
    assert catalog.apl(["none"]) == "!1:0.0.0.0/0 !2:::/0"


def test_what_a_consumer_carries_does_not_depend_on_the_members():
    before, after = with_catalog(), with_catalog(new_test=NEW)
    assert catalog.consumer_stanza(before, DEBIAN) == catalog.consumer_stanza(after, DEBIAN)
    block = catalog.catalog_zones_block(before, DEBIAN, (9, 18))
    assert block == catalog.catalog_zones_block(after, DEBIAN, (9, 18))
    assert 'zone "catalog.example" default-primaries { 198.51.100.10; }' in block
    assert 'zone-directory "/var/cache/bind/slaves/catalog"' in block
    assert "default-masters" in catalog.catalog_zones_block(before, DEBIAN, (9, 16))
    assert catalog.directory(RHEL) == "/var/named/slaves/catalog"


def test_catalog_zones_block_goes_into_options_once():
    block = catalog.catalog_zones_block(with_catalog(), DEBIAN, (9, 18))
    options = DEBIAN_FILES[OPTIONS]
    once = catalog.ensure_catalog_zones(options, block, OPTIONS)
    assert once.count("catalog-zones {") == 1 and once.startswith(options[: options.rindex("};")])
    assert once.endswith(block + "};\n")
    assert catalog.ensure_catalog_zones(once, block, OPTIONS) == once
    one_line = 'options { directory "/var/named"; };\n'
    assert catalog.ensure_catalog_zones(one_line, block, "/etc/named.conf").endswith(block + "};\n")
    foreign = options.replace("};", '\tcatalog-zones { zone "x" default-primaries { 192.0.2.1; }; };\n};')
    with pytest.raises(PreconditionError, match="catalog-zones statement dnsctl did not write"):
        catalog.ensure_catalog_zones(foreign, block, OPTIONS)


def test_zonestatus_serial():
    assert parse_zone_status("name: catalog.example\ntype: secondary\nserial: 7\n", 0).serial == 7
    assert parse_zone_status("rndc: 'zonestatus' failed: not found\n", 1).serial is None


# --- planning --------------------------------------------------------------------------


def host_plan(current) -> plan.HostPlan:
    host_facts = parse_host_facts(DEBIAN_HOST + "@@named-version\nBIND 9.18.49\n")
    return plan.HostPlan("ns1", "198.51.100.10", DEBIAN, host_facts, current=dict(current))


def test_primary_lists_the_members_it_carries_and_drops_what_the_inventory_dropped():
    both = with_catalog(new_test=NEW)
    current = configured_files(both, {"example.com": "primary", "new.test": "primary"}, 2026112400)
    current[CATALOG_FILE] = catalog.render_catalog(both, ["example.com", "new.test"], 2026112400)
    current["/etc/bind/named.conf.dnsctl"] = render.render_managed(
        {
            **render.parse_managed(current["/etc/bind/named.conf.dnsctl"]),
            "catalog.example": catalog.primary_stanza(both, DEBIAN, ["example.com", "new.test"]),
            "mine.test": 'zone "mine.test" {\n\ttype master;\n\tfile "/var/lib/bind/mine.test.db";\n};\n',
        }
    )
    inventory = with_catalog()  # new.test removed from the inventory
    wants = {"example.com": "primary", "catalog.example": "catalog"}
    result = plan.plan_server(inventory, host_plan(current), wants, {}, TODAY)
    files = {change.path: change.new for change in result.changes}
    assert catalog.listed(files[CATALOG_FILE]) == ["example.com"]
    managed = render.parse_managed(files["/etc/bind/named.conf.dnsctl"])
    assert "new.test" not in managed  # dnsctl listed it: it goes
    assert "mine.test" in managed  # never in the catalog: not dnsctl's to remove
    assert result.expect_serials["catalog.example"] > 2026112400


def test_consumer_plan():
    inventory = with_catalog()
    result = plan.plan_server(inventory, host_plan(DEBIAN_FILES), {"catalog.example": "consumer"}, {}, TODAY)
    assert result.directories == ["/var/cache/bind/slaves", "/var/cache/bind/slaves/catalog"]
    assert result.relabel == ["/var/cache/bind/slaves/catalog"]
    files = {change.path: change.new for change in result.changes}
    assert 'zone "catalog.example" {\n\ttype slave;' in files["/etc/bind/named.conf.dnsctl"]
    assert catalog.BLOCK_BEGIN in files[OPTIONS]


# --- the engine, on simulated hosts --------------------------------------------------------


def test_init_primary_of_a_member_writes_the_catalog_too(monkeypatch):
    inventory = with_catalog()
    scene = Scene(monkeypatch, inventory)
    ns1 = scene.server("ns1")
    ns1.preflight()
    ns1.stage(("example.com", "catalog.example"))
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()

    init_primary(scene.session(), "example.com")

    scene.fleet.verify()
    assert catalog.listed(ns1.host.files[CATALOG_FILE]) == ["example.com"]
    assert scene.dns.zones("198.51.100.10") == {"example.com": 2026112500, "catalog.example": 2026112500}


def test_add_slave_of_a_member_makes_the_secondary_a_consumer(monkeypatch):
    inventory = with_catalog()
    scene = Scene(monkeypatch, inventory)
    ns1 = scene.server("ns1", files=configured_files(inventory, {"example.com": "primary"}, 2026112500))
    ns2 = scene.server("ns2")
    ns1.preflight()
    ns2.preflight()
    ns1.stage(("catalog.example",))
    for _ in ("/var/cache/bind/slaves", "/var/cache/bind/slaves/catalog"):
        ns2.host.expect(script(apply.PREPARE_DIR_SCRIPT), respond=ns2.on_make_dir)
    ns2.host.expect(script(apply.RELABEL_SCRIPT))
    ns2.stage()
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()
    ns2.activate()

    def reload_and_add_the_members(call):
        result = ns2.on_rndc_reload(call, True, False)
        scene.dns.serve("198.51.100.11", "example.com", 2026112500)  # named's catalog-zones at work
        return result

    ns2.host.expect(exactly("rndc", "reload"), respond=reload_and_add_the_members)
    ns2.open_firewall()
    ns2.host.expect(exactly("rndc", "zonestatus", "catalog.example"), "serial: 2026112500\n")

    add_slave(scene.session(), "example.com")

    scene.fleet.verify()
    assert "catalog-zones {" in ns2.host.files[OPTIONS]
    assert 'zone "example.com"' not in ns2.host.files["/etc/bind/named.conf.dnsctl"]
    assert "wait for catalog catalog.example serial 2026112500 (rndc zonestatus): serial 2026112500" in (
        scene.output
    )
    assert "transferred file" not in scene.output  # named names a member's file itself


def named_view(text: str) -> tuple:
    """Configuration text as the guard reads it: comments gone, parsed."""
    return namedconf.parse(re.sub(r"//[^\n]*", "", text))


def test_the_guard_takes_the_consumer_configuration_dnsctl_plans():
    inventory = with_catalog()
    layout = DEBIAN
    options = DEBIAN_FILES[OPTIONS]
    block = catalog.catalog_zones_block(inventory, layout, (9, 18))
    stanza = catalog.consumer_stanza(inventory, layout)
    old_stanza = render.secondary_stanza(inventory, "example.com", layout)
    before = named_view(options + old_stanza)
    after = named_view(catalog.ensure_catalog_zones(options, block, OPTIONS) + stanza)
    expected = {"catalog.example": namedconf.expected_catalog(inventory, "consumer", layout, [])}
    consumes = ("catalog.example", "198.51.100.10", None)
    removed = frozenset({"example.com"})
    assert (
        namedconf.compare(before, after, expected, "198.51.100.11", {}, removed=removed, consumes=consumes)
        == []
    )
    assert namedconf.compare(before, after, expected, "198.51.100.11", {}, removed=removed)  # not planned
    elsewhere = named_view(
        catalog.ensure_catalog_zones(options, block.replace("198.51.100.10", "192.0.2.9"), OPTIONS)
    )
    problems = namedconf.compare(
        before, elsewhere + after[1:], expected, "198.51.100.11", {}, removed=removed, consumes=consumes
    )
    assert any("not the catalog-zones statement dnsctl planned" in problem for problem in problems)
    # The primary's catalog zone, listing what it carries.
    primary = {"catalog.example": namedconf.expected_catalog(inventory, "catalog", layout, ["example.com"])}
    written = named_view(catalog.primary_stanza(inventory, layout, ["example.com"]))
    assert namedconf.compare((), written, primary, "198.51.100.10", {}) == []
