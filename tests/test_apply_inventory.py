"""apply without root: the activation order, one read per host when nothing changes, --check,
and --prune, on simulated BIND servers (tests/simulated.py on the recorded double)."""

from __future__ import annotations

import pytest

from dnsctl import apply, render
from dnsctl.errors import InventoryError, VerifyError
from dnsctl.models import parse_inventory
from dnsctl.ops import apply_inventory
from dnsctl.ops.inventory import activation_order, desired_state
from dnsctl.platform import DEBIAN

from .simulated import Scene, configured_files

NS1, NS2 = "198.51.100.10", "198.51.100.11"
SERIAL = 2026112500
MANAGED = DEBIAN.managed_conf


def zone(primary: str, secondaries: list[str], *records: tuple[str, str, str]) -> dict:
    return {
        "primary": primary,
        "secondaries": secondaries,
        "records": [{"name": n, "type": t, "value": v} for n, t, v in records],
    }


ADDRESSES = {"ns1": NS1, "ns2": NS2, "ns3": "198.51.100.12"}


def inventory(servers: tuple[str, ...] = ("ns1", "ns2"), **zones: dict) -> object:
    return parse_inventory(
        {
            "servers": {name: {"address": ADDRESSES[name]} for name in servers},
            "zones": {name.replace("_", "."): spec for name, spec in zones.items()},
        }
    )


# Each server is primary of one zone and secondary of the other's.
MUTUAL = inventory(
    example_com=zone("ns1", ["ns2"], ("pc1", "A", "198.51.100.50")),
    peer_test=zone("ns2", ["ns1"], ("host", "A", "198.51.100.62")),
)


@pytest.fixture
def scene(monkeypatch):
    scene = Scene(monkeypatch, MUTUAL)
    yield scene
    scene.fleet.verify()


def configured(scene: Scene, wants: dict[str, dict[str, str]], inventory=MUTUAL) -> dict:
    """Servers as an earlier apply of inventory left them, serving every zone."""
    servers = {}
    for name, zones in wants.items():
        server = scene.server(name, files=configured_files(inventory, zones, SERIAL), dns_open=True)
        server.host.dirs.add(DEBIAN.secondary_dir)
        servers[name] = server
    for server in servers.values():
        server.load()  # secondaries transfer once every primary serves
    return servers


MUTUAL_WANTS = {
    "ns1": {"example.com": "primary", "peer.test": "secondary"},
    "ns2": {"example.com": "secondary", "peer.test": "primary"},
}


# --- what each server carries, and in which order servers are activated ---------------------


def test_desired_state_gives_each_server_its_zones_and_roles():
    assert desired_state(MUTUAL, ["example.com", "peer.test"]) == MUTUAL_WANTS
    assert desired_state(MUTUAL, ["example.com"], ["ns1", "ns2", "ns3"]) == {
        "ns1": {"example.com": "primary"},
        "ns2": {"example.com": "secondary"},
        "ns3": {},
    }


def test_primaries_are_activated_before_their_secondaries():
    chain = inventory(
        ("ns1", "ns2", "ns3"),
        a_test=zone("ns1", ["ns2", "ns3"], ("x", "A", "198.51.100.60")),
        b_test=zone("ns3", ["ns2"], ("y", "A", "198.51.100.61")),
    )
    assert activation_order(chain, desired_state(chain, ["a.test", "b.test"])) == [["ns1"], ["ns3"], ["ns2"]]
    assert activation_order(chain, desired_state(chain, ["b.test"], ["ns1", "ns2", "ns3"])) == [
        ["ns1", "ns3"],
        ["ns2"],
    ]


def test_servers_that_are_each_others_primary_share_a_stage():
    assert activation_order(MUTUAL, MUTUAL_WANTS) == [["ns1", "ns2"]]


# --- a first run ---------------------------------------------------------------------------------


def test_a_first_run_with_mutual_primaries_prompts_the_late_secondaries(scene):
    ns1, ns2 = scene.server("ns1"), scene.server("ns2")
    for server, primary_zone in (
        (ns1, "example.com"),
        (ns2, "peer.test"),
    ):
        server.preflight()
        server.stage((primary_zone,), create_dir=True)
    for server in (ns1, ns2):
        server.activate()
        server.reload()
        server.open_firewall()
    for server, secondary_zone in ((ns1, "peer.test"), (ns2, "example.com")):
        server.refresh()
        server.transferred(secondary_zone)

    apply_inventory(scene.session())

    for address in (NS1, NS2):
        assert scene.dns.zones(address) == {"example.com": SERIAL, "peer.test": SERIAL}
    assert "refresh peer.test now that the primary serves it" in scene.output
    assert f"verify example.com SOA at {NS1}: serial {SERIAL}, authoritative" in scene.output


# --- nothing to do -------------------------------------------------------------------------------


def test_nothing_to_do_is_one_read_per_host_and_no_write(scene):
    servers = configured(scene, MUTUAL_WANTS)
    before = {name: dict(server.host.files) for name, server in servers.items()}
    for server in servers.values():
        server.preflight(writes=False)

    apply_inventory(scene.session())

    for name, server in servers.items():
        assert len(server.host.calls) == 1, server.host.commands()  # the preflight read, nothing else
        assert server.host.files == before[name] and server.host.writes == []
        assert len(server.host.locks) == 1
    assert scene.output.count("plan: no changes") == 2
    assert f"verify the SOA of 2 zones at {NS2}: authoritative, at the expected serials" in (
        scene.output
    )


def test_nothing_to_do_still_fails_when_a_secondary_is_behind(scene):
    servers = configured(scene, MUTUAL_WANTS)
    scene.dns.serve(NS2, "example.com", SERIAL - 1)
    for server in servers.values():
        server.preflight(writes=False)

    with pytest.raises(VerifyError, match=f"ns2: example.com: expected serial {SERIAL} with AA"):
        apply_inventory(scene.session())


# --- --check ---------------------------------------------------------------------------------------


def test_check_passes_when_nothing_would_change(scene):
    for server in configured(scene, MUTUAL_WANTS).values():
        server.preflight(writes=False)

    apply_inventory(scene.session(), check=True)

    assert scene.output.rstrip().endswith("check: nothing would change")


def test_check_fails_on_a_change_and_makes_none(scene):
    servers = configured(scene, MUTUAL_WANTS)
    scene.inventory = inventory(
        example_com=zone("ns1", ["ns2"], ("pc1", "A", "198.51.100.50"), ("www", "A", "198.51.100.51")),
        peer_test=zone("ns2", ["ns1"], ("host", "A", "198.51.100.62")),
    )
    before = {name: dict(server.host.files) for name, server in servers.items()}
    servers["ns1"].preflight()
    servers["ns2"].preflight(writes=False)

    with pytest.raises(VerifyError, match=r"^ns1 would change; `dnsctl apply` converges them$"):
        apply_inventory(scene.session(), check=True)

    assert {name: server.host.files for name, server in servers.items()} == before
    assert "+www\tIN A 198.51.100.51" in scene.output


# --- --prune ---------------------------------------------------------------------------------------

WITH_GONE = inventory(
    example_com=zone("ns1", ["ns2"], ("pc1", "A", "198.51.100.50")),
    gone_test=zone("ns1", ["ns2"], ("b", "A", "198.51.100.64")),
)
WITHOUT_GONE = inventory(example_com=zone("ns1", ["ns2"], ("pc1", "A", "198.51.100.50")))
GONE_WANTS = {
    "ns1": {"example.com": "primary", "gone.test": "primary"},
    "ns2": {"example.com": "secondary", "gone.test": "secondary"},
}


def dropped_zone_scene(scene: Scene) -> dict:
    servers = configured(scene, GONE_WANTS, WITH_GONE)
    scene.inventory = WITHOUT_GONE
    return servers


def test_without_prune_a_dropped_zone_is_named_and_kept(scene):
    servers = dropped_zone_scene(scene)
    for server in servers.values():
        server.preflight(writes=False)

    apply_inventory(scene.session())

    assert "gone.test (primary) is dnsctl's but not in the inventory for ns1" in scene.output
    assert "gone.test (secondary) is dnsctl's but not in the inventory for ns2" in scene.output
    assert scene.dns.zones(NS2) == {"example.com": SERIAL, "gone.test": SERIAL}


def test_prune_removes_a_dropped_zone_and_keeps_its_files_in_the_backup(scene):
    servers = dropped_zone_scene(scene)
    for server in servers.values():
        server.preflight()
        server.stage()
    for server in servers.values():
        server.activate()
        server.reload()
    servers["ns2"].transferred("example.com")  # its other zone still follows its primary
    for server in servers.values():
        server.retire()

    apply_inventory(scene.session(), prune=True)

    ns1, ns2 = servers["ns1"], servers["ns2"]
    for server, address in ((ns1, NS1), (ns2, NS2)):
        assert scene.dns.zones(address) == {"example.com": SERIAL}
        assert 'zone "gone.test"' not in server.host.files[MANAGED]
        assert 'zone "example.com"' in server.host.files[MANAGED]
    for server, path in ((ns1, "/var/lib/bind/gone.test.db"), (ns2, "/var/cache/bind/slaves/gone.test.db")):
        assert path not in server.host.files
        (backup,) = [p for p in server.host.files if p.startswith(apply.BACKUP_ROOT) and p.endswith(path)]
        assert backup.startswith(apply.BACKUP_ROOT + "/") and server.host.files[backup]
    assert ns1.host.files["/var/lib/bind/example.com.db"] == render.render_zone(
        WITHOUT_GONE, "example.com", SERIAL
    )
    assert "remove zone gone.test (primary), keeping its file in the backup" in scene.output


def test_prune_of_named_zones_leaves_other_dropped_zones(scene):
    servers = dropped_zone_scene(scene)
    for server in servers.values():
        server.preflight(writes=False)

    apply_inventory(scene.session(), ["example.com"], prune=True)

    assert scene.dns.zones(NS1) == {"example.com": SERIAL, "gone.test": SERIAL}
    assert "`dnsctl apply --prune` removes it" in scene.output


def test_a_secondary_taken_off_a_zone_leaves_it_and_its_ns_set(scene):
    servers = configured(
        scene, {"ns1": {"example.com": "primary"}, "ns2": {"example.com": "secondary"}}, WITHOUT_GONE
    )
    scene.inventory = inventory(example_com=zone("ns1", [], ("pc1", "A", "198.51.100.50")))
    ns1, ns2 = servers["ns1"], servers["ns2"]
    ns1.preflight()
    ns2.preflight()
    ns1.stage(("example.com",))
    ns2.stage()
    for server in (ns1, ns2):
        server.activate()
        server.reload()
    ns2.retire()

    apply_inventory(scene.session(), prune=True)

    assert scene.dns.zones(NS1) == {"example.com": SERIAL + 1}
    assert scene.dns.zones(NS2) == {}
    assert "ns2.example.com" not in ns1.host.files["/var/lib/bind/example.com.db"]
    assert "198.51.100.11" not in ns1.host.files[MANAGED]  # no transfer to it, no NOTIFY
    assert 'zone "example.com"' not in ns2.host.files[MANAGED]


def test_a_server_with_no_zones_and_nothing_of_dnsctls_is_left_alone(scene):
    servers = configured(
        scene, {"ns1": {"example.com": "primary"}, "ns2": {"example.com": "secondary"}}, WITHOUT_GONE
    )
    scene.inventory = inventory(
        ("ns1", "ns2", "ns3"), example_com=zone("ns1", ["ns2"], ("pc1", "A", "198.51.100.50"))
    )
    ns3 = scene.server("ns3", installed=False, firewall="absent")
    for server in servers.values():
        server.preflight(writes=False)
    ns3.preflight()

    apply_inventory(scene.session(), prune=True)

    assert ns3.host.writes == [] and "install" not in scene.output
    assert "ns3" not in scene.output.split("pre-flight and plan", 1)[1]


def test_an_unknown_zone_is_a_usage_error_before_any_host(scene):
    with pytest.raises(InventoryError, match=r"unknown zone 'nope\.test'"):
        apply_inventory(scene.session(), ["nope.test"])
    assert scene.fleet.connected == []


# --- derived reverse zones go with their zone ----------------------------------------------------


def test_a_named_zone_brings_its_derived_reverse_zone(scene):
    def with_reverse(address: str) -> object:
        spec = zone("ns1", ["ns2"], ("pc1", "A", address))
        return inventory(example_com={**spec, "reverse": ["198.51.100.0/24"]})

    before = with_reverse("198.51.100.50")
    wants = desired_state(before, ["example.com", "100.51.198.in-addr.arpa"])
    servers = configured(scene, wants, before)
    scene.inventory = with_reverse("198.51.100.70")
    servers["ns1"].preflight()
    servers["ns2"].preflight(writes=False)

    with pytest.raises(VerifyError, match=r"^ns1 would change"):
        apply_inventory(scene.session(), ["example.com"], check=True)

    assert "+70\tIN PTR pc1.example.com." in scene.output
    assert "-50\tIN PTR pc1.example.com." in scene.output
