"""record add | del on a zone with derived reverse zones, on simulated servers: the reverse
zones are converged in the same run, and derived PTRs are not edited as records."""

from __future__ import annotations

import tomllib

import pytest

from dnsctl import render
from dnsctl.errors import UsageError
from dnsctl.models import parse_inventory
from dnsctl.ops import record_add, record_del

from .simulated import Scene, configured_files

NS1, NS2 = "198.51.100.10", "198.51.100.11"
ZONE, V4, V6 = "example.com", "100.51.198.in-addr.arpa", "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
ZONES = (ZONE, V4, V6)
SERIAL = 2026112003
TODAY_SERIAL = 2026112500

INVENTORY_TEXT = """\
[servers.ns1]
address = "198.51.100.10"
[servers.ns2]
address = "198.51.100.11"

[zones."example.com"]
primary = "ns1"
secondaries = ["ns2"]
reverse = ["198.51.100.0/24", "2001:db8::/48"]   # PTRs for the addresses in these

[[zones."example.com".records]]
name = "pc1"
type = "A"
value = "198.51.100.50"
"""


@pytest.fixture
def scene(monkeypatch, tmp_path):
    scene = Scene.editing(monkeypatch, tmp_path / "inventory.toml", INVENTORY_TEXT)
    yield scene
    scene.fleet.verify()


def served_pair(scene: Scene):
    """ns1 and ns2 serving the three zones at SERIAL, as init-primary and add-slave left them."""
    inventory = scene.inventory
    primary = configured_files(inventory, dict.fromkeys(ZONES, "primary"), SERIAL)
    ns1 = scene.server("ns1", files=primary, dns_open=True)
    secondary = configured_files(inventory, dict.fromkeys(ZONES, "secondary"), SERIAL)
    ns2 = scene.server("ns2", files=secondary, dns_open=True)  # transfers from ns1 as it starts
    ns2.host.dirs.add(ns2.layout.secondary_dir)
    return ns1, ns2


def test_record_add_converges_the_derived_reverse_zone_with_the_forward_zone(scene):
    ns1, ns2 = served_pair(scene)
    ns1.preflight()
    ns2.preflight(writes=False)  # nothing to write on the secondary: no named-checkconf there
    ns1.stage((ZONE, V4))  # the IPv6 reverse zone does not change
    ns1.activate()

    def reload_and_notify(call):
        result = ns1.on_rndc_reload(call, loads=True, fails=False)
        ns2.load()  # the NOTIFY: ns2 transfers what ns1 now serves
        return result

    ns1.host.expect(("rndc", "reload"), respond=reload_and_notify)
    for zone in ZONES:  # each secondary zone is confirmed, changed or not
        ns2.transferred(zone)

    record_add(scene.session(), ZONE, "www", "A", "198.51.100.52")

    new = parse_inventory(tomllib.loads(scene.path.read_text()))
    zone_file = ns1.host.files[ns1.layout.primary_file(V4)]
    assert zone_file == render.render_zone(new, V4, TODAY_SERIAL)
    assert "52\tIN PTR www.example.com.\n" in zone_file
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL, V4: TODAY_SERIAL, V6: SERIAL}
    assert scene.dns.zones(NS2) == scene.dns.zones(NS1)
    assert f"verify {V4} SOA at {NS1}: serial {TODAY_SERIAL}" in scene.output
    assert f"wait for {V4} serial {TODAY_SERIAL} at {NS2}" in scene.output
    assert f"verify {V6} SOA" not in scene.output  # the change did not reach it
    assert "# PTRs for the addresses in these" in scene.path.read_text()


def test_a_zone_that_exists_only_by_derivation_takes_no_records(scene):
    before = scene.path.read_text()
    with pytest.raises(UsageError, match=f"^{V4} is derived from the A and AAAA records of example.com: "):
        record_add(scene.session(), V4, "52", "PTR", "www.example.com.")
    assert scene.path.read_text() == before
    assert scene.fleet.connected == []  # no host was contacted


def test_a_derived_ptr_is_deleted_through_its_address_record(scene):
    with pytest.raises(UsageError) as caught:
        record_del(scene.session(), V4, "50", "PTR")
    assert str(caught.value) == (
        "50.100.51.198.in-addr.arpa. PTR pc1.example.com. is derived from "
        'zones."example.com".records[0].value: delete or change that record instead'
    )
    assert scene.fleet.connected == []
