"""Reverse zones derived from a zone's A and AAAA records: what loads, what is refused
(each problem at its field, naming the other side), and the zone text named gets."""

from __future__ import annotations

import copy

import dns.name
import dns.reversename
import dns.zone
import pytest

from dnsctl import render
from dnsctl.errors import InventoryError
from dnsctl.models import parse_inventory
from dnsctl.reverse import ptr_owner, zone_of_network

V4, V6 = "100.51.198.in-addr.arpa", "0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"

FORWARD = {
    "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
    "zones": {
        "example.com": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "allow_query": ["198.51.100.0/24"],
            "reverse": ["198.51.100.0/24", "2001:db8::/48"],
            "records": [
                {"name": "pc1", "type": "A", "value": "198.51.100.50"},
                {"name": "pc1", "type": "AAAA", "value": "2001:db8::50"},
                {"name": "mail", "type": "A", "value": "198.51.100.51", "ttl": 300},
                {"name": "away", "type": "A", "value": "192.0.2.1"},  # outside both networks
                {"name": "*.apps", "type": "A", "value": "198.51.100.70"},  # no single host to name
                {"name": "far", "type": "AAAA", "value": "2001:db8:1::1"},  # outside the /48
            ],
        }
    },
}


@pytest.fixture
def raw() -> dict:
    return copy.deepcopy(FORWARD)


def problems_of(raw: dict) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(raw, source="inv.toml")
    assert caught.value.exit_code == 2
    return caught.value.problems


def ptrs(inventory, zone: str) -> dict[str, str]:
    return {record.owner: record.value for record in inventory.records(zone) if record.type == "PTR"}


# --- the networks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("network", "zone"),
    [
        ("198.51.100.0/24", V4),
        ("10.0.0.0/8", "10.in-addr.arpa"),
        ("172.16.0.0/16", "16.172.in-addr.arpa"),
        ("2001:db8::/48", V6),
        ("2001:db8::/32", "8.b.d.0.1.0.0.2.ip6.arpa"),
        ("2001:db8:0:10::/60", "1.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"),
    ],
)
def test_reverse_zone_of_a_network(network, zone):
    assert zone_of_network(network) == zone
    # dnspython agrees on the name of the network's first address
    first = network.split("/")[0]
    assert dns.reversename.from_address(first).is_subdomain(dns.name.from_text(zone))


@pytest.mark.parametrize("address", ["198.51.100.50", "2001:db8::50", "2001:db8:ffff::1:0"])
def test_ptr_owner_is_dnspythons_reverse_name(address):
    assert ptr_owner(address) == dns.reversename.from_address(address).to_text(omit_final_dot=True)


@pytest.mark.parametrize(
    ("given", "why"),
    [
        ("198.51.100.0/25", "not on an octet boundary"),
        ("198.51.100.64/26", "RFC 2317 classless delegation"),
        ("198.51.100.1/32", "not on an octet boundary"),
        ("0.0.0.0/0", "not on an octet boundary"),
        ("2001:db8::/50", "not on a nibble boundary"),
        ("2001:db8::1/128", "not on a nibble boundary"),
        ("198.51.100.7/24", "has host bits set: did you mean 198.51.100.0/24?"),
        ("198.51.100.0", "give its prefix length"),
        ("example.com/24", "not an IPv4 or IPv6 network"),
        ("fe80::%1/64", "scoped"),
    ],
)
def test_networks_that_are_not_whole_reverse_zones(raw, given, why):
    raw["zones"]["example.com"]["reverse"] = ["2001:db8::/48", given]
    [problem] = problems_of(raw)
    assert problem.startswith('inv.toml: zones."example.com".reverse[1]: ') and why in problem


def test_networks_are_kept_in_canonical_form(raw):
    raw["zones"]["example.com"]["reverse"] = ["2001:DB8:0::/48"]
    assert parse_inventory(raw).zones["example.com"].reverse == ["2001:db8::/48"]


# --- what is derived ---------------------------------------------------------------------


def test_derived_zones_are_ordinary_zones_of_the_inventory(raw):
    inventory = parse_inventory(raw)
    assert list(inventory.zones) == ["example.com", V4, V6]
    assert inventory.reverse_zones("example.com") == [V4, V6]
    for zone in (V4, V6):
        spec = inventory.zone(zone)
        assert (spec.primary, spec.secondaries, spec.allow_query) == ("ns1", ["ns2"], ["198.51.100.0/24"])
        assert spec.records == [] and spec.contact == "hostmaster.example.com"
        assert inventory.derived_from(zone) == ["example.com"] and inventory.is_generated(zone)
    assert inventory.reverse_zones(V4) == [] and inventory.derived_from("example.com") == []


def test_a_ptr_for_every_address_inside_the_networks_and_the_name_servers_glue(raw):
    inventory = parse_inventory(raw)
    assert ptrs(inventory, V4) == {
        "10.100.51.198.in-addr.arpa": "ns1.example.com.",
        "11.100.51.198.in-addr.arpa": "ns2.example.com.",
        "50.100.51.198.in-addr.arpa": "pc1.example.com.",
        "51.100.51.198.in-addr.arpa": "mail.example.com.",
    }
    assert ptrs(inventory, V6) == {ptr_owner("2001:db8::50"): "pc1.example.com."}
    ttls = {record.owner: record.ttl for record in inventory.records(V4)}
    assert ttls["51.100.51.198.in-addr.arpa"] == 300 and ttls["50.100.51.198.in-addr.arpa"] is None
    assert inventory.derived_source(V4, 0) == ("servers", "ns1", "address")
    assert inventory.derived_source(V4, 2) == ("zones", "example.com", "records", 0, "value")


def test_a_name_server_with_its_own_record_is_derived_once_from_the_record(raw):
    raw["zones"]["example.com"]["records"].append({"name": "ns1", "type": "A", "value": "198.51.100.10"})
    inventory = parse_inventory(raw)
    assert ptrs(inventory, V4)["10.100.51.198.in-addr.arpa"] == "ns1.example.com."
    assert inventory.derived_source(V4, 0) == ("zones", "example.com", "records", 6, "value")


def test_rendered_reverse_zones_parse_and_answer_the_forward_names(raw):
    inventory = parse_inventory(raw)
    for zone_name in (V4, V6):
        text = render.render_zone(inventory, zone_name, 1)
        zone = dns.zone.from_text(text, origin=zone_name + ".", relativize=False, check_origin=True)
        assert {r.to_text() for r in zone.find_rdataset(zone_name + ".", "NS")} == {
            "ns1.example.com.",
            "ns2.example.com.",
        }
        for address, name in (("198.51.100.50", "pc1"), ("2001:db8::50", "pc1"), ("198.51.100.11", "ns2")):
            owner = dns.reversename.from_address(address)
            if owner.is_subdomain(dns.name.from_text(zone_name)):
                assert zone.find_rdataset(owner, "PTR")[0].to_text() == f"{name}.example.com."
    text = render.render_zone(inventory, V4, 1)
    assert "\n50\tIN PTR pc1.example.com.\n51\t300\tIN PTR mail.example.com.\n" in text


def test_two_zones_share_a_reverse_zone_on_the_same_servers(raw):
    raw["zones"]["example.net"] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "reverse": ["198.51.100.0/24"],
        "records": [{"name": "www", "type": "A", "value": "198.51.100.60"}],
    }
    inventory = parse_inventory(raw)
    assert inventory.derived_from(V4) == ["example.com", "example.net"]
    assert inventory.reverse_zones("example.net") == [V4]
    assert ptrs(inventory, V4)["60.100.51.198.in-addr.arpa"] == "www.example.net."
    # sorted by address, whichever zone it comes from
    assert [r.owner.split(".")[0] for r in inventory.records(V4)] == ["10", "11", "50", "51", "60"]


def test_a_listed_reverse_zone_gets_the_derived_ptrs_after_its_own(raw):
    raw["zones"][V4] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "ttl": 600,
        "records": [{"name": "99", "type": "PTR", "value": "printer.example.com."}],
    }
    inventory = parse_inventory(raw)
    assert not inventory.is_generated(V4) and inventory.derived_from(V4) == ["example.com"]
    assert list(inventory.zones) == ["example.com", V4, V6]
    assert inventory.zones[V4].ttl == 600 and len(inventory.zones[V4].records) == 1
    owners = [record.owner.split(".")[0] for record in inventory.records(V4)]
    assert owners == ["99", "10", "11", "50", "51"]
    assert inventory.derived_source(V4, 0) is None
    assert inventory.derived_source(V4, 3) == ("zones", "example.com", "records", 0, "value")


def test_explicit_ptr_records_still_work_without_reverse(raw):
    del raw["zones"]["example.com"]["reverse"]
    raw["zones"][V4] = {
        "primary": "ns1",
        "records": [{"name": "50", "type": "PTR", "value": "pc1.example.com."}],
    }
    inventory = parse_inventory(raw)
    assert list(inventory.zones) == ["example.com", V4]
    assert ptrs(inventory, V4) == {"50.100.51.198.in-addr.arpa": "pc1.example.com."}
    assert inventory.derived_from(V4) == [] and not inventory.is_generated(V4)


# --- what is refused -----------------------------------------------------------------------


def test_a_derived_ptr_beside_an_explicit_one_names_both(raw):
    raw["zones"][V4] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "records": [{"name": "50", "type": "PTR", "value": "other.example.com."}],
    }
    assert problems_of(raw) == [
        'inv.toml: zones."example.com".records[0].value: the PTR derived for 198.51.100.50 '
        "(50.100.51.198.in-addr.arpa.) clashes with the PTR record "
        'zones."100.51.198.in-addr.arpa".records[0] at the same name: remove one of them'
    ]


def test_an_explicit_ptr_in_a_parent_zone_clashes_too(raw):
    raw["zones"]["51.198.in-addr.arpa"] = {
        "primary": "ns1",
        "records": [{"name": "51.100", "type": "CNAME", "value": "51.64-127.100.51.198.in-addr.arpa."}],
    }
    [problem] = problems_of(raw)
    assert problem.startswith('inv.toml: zones."example.com".records[2].value: the PTR derived for ')
    assert 'the CNAME record zones."51.198.in-addr.arpa".records[0] at the same name' in problem


def test_the_same_address_from_two_zones(raw):
    raw["zones"]["example.net"] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "reverse": ["198.51.100.0/24"],
        "records": [{"name": "www", "type": "A", "value": "198.51.100.50"}],
    }
    assert problems_of(raw) == [
        'inv.toml: zones."example.net".records[0].value: 198.51.100.50 is also the address of '
        'pc1.example.com. (zones."example.com".records[0].value), and an address has one PTR '
        "(50.100.51.198.in-addr.arpa.): make one of the names a CNAME of the other"
    ]


def test_the_same_address_twice_in_one_zone_even_a_name_servers(raw):
    records = raw["zones"]["example.com"]["records"]
    records.append({"name": "www", "type": "AAAA", "value": "2001:db8::50"})
    records.append({"name": "web", "type": "A", "value": "198.51.100.10"})
    problems = problems_of(raw)
    assert problems[0].startswith(
        'inv.toml: zones."example.com".records[6].value: 2001:db8::50 is also the address of pc1.example.com.'
    )
    assert problems[1].startswith(
        'inv.toml: zones."example.com".records[7].value: 198.51.100.10 is also the address of '
        "ns1.example.com. (servers.ns1.address)"
    )


def test_an_address_outside_the_networks_may_repeat(raw):
    raw["zones"]["example.com"]["records"].append({"name": "www", "type": "A", "value": "192.0.2.1"})
    parse_inventory(raw)


@pytest.mark.parametrize(
    ("reverse", "index", "why"),
    [
        (
            ["198.51.100.0/24", "198.51.0.0/16"],
            1,
            'overlaps zones."example.com".reverse[0] (198.51.100.0/24)',
        ),
        (["198.51.100.0/24", "198.51.100.0/24"], 1, 'listed twice (also zones."example.com".reverse[0])'),
        (["2001:db8::/32", "2001:db8::/48"], 1, "overlaps"),
    ],
)
def test_networks_of_one_zone_may_not_overlap(raw, reverse, index, why):
    raw["zones"]["example.com"]["reverse"] = reverse
    [problem] = problems_of(raw)
    assert problem.startswith(f'inv.toml: zones."example.com".reverse[{index}]: ') and why in problem


def test_networks_of_two_zones_may_not_overlap(raw):
    raw["zones"]["example.net"] = {"primary": "ns1", "secondaries": ["ns2"], "reverse": ["198.51.0.0/16"]}
    [problem] = problems_of(raw)
    assert problem.startswith('inv.toml: zones."example.net".reverse[0]: 198.51.0.0/16 overlaps ')


def test_a_shared_reverse_zone_needs_the_same_servers(raw):
    raw["zones"]["example.net"] = {"primary": "ns2", "reverse": ["198.51.100.0/24"]}
    [problem] = problems_of(raw)
    assert problem.startswith('inv.toml: zones."example.net".reverse[0]: its reverse zone ' + V4)
    assert "primary ns1, secondaries ns2; this zone: primary ns2, secondaries none" in problem


def test_a_listed_reverse_zone_needs_the_forward_zones_servers(raw):
    raw["zones"][V4] = {"primary": "ns2"}
    [problem] = problems_of(raw)
    assert problem.startswith('inv.toml: zones."example.com".reverse[0]: its reverse zone ')
    assert f'also listed as zones."{V4}", on other servers' in problem


def test_a_derived_ptr_below_a_delegation_of_a_listed_zone(raw):
    raw["zones"]["example.com"]["reverse"] = ["198.51.0.0/16"]
    raw["zones"]["51.198.in-addr.arpa"] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "records": [{"name": "100", "type": "NS", "value": "ns.other.test."}],
    }
    why = "is below the delegation 100.51.198.in-addr.arpa. in 51.198.in-addr.arpa (listed in the inventory)"
    assert [problem.split(": ")[1] for problem in problems_of(raw) if why in problem] == [
        "servers.ns1.address",  # its glue in example.com
        "servers.ns2.address",
        'zones."example.com".records[0].value',
        'zones."example.com".records[2].value',
    ]


def test_a_bad_network_does_not_hide_the_zones_other_problems(raw):
    records = raw["zones"]["example.com"]["records"]
    records.insert(0, {"name": "bad name", "type": "A", "value": "198.51.100.9"})
    raw["zones"]["example.com"]["reverse"].append("198.51.100.0/25")
    raw["zones"]["example.net"] = {
        "primary": "ns1",
        "secondaries": ["ns2"],
        "reverse": ["198.51.100.0/24"],
        "records": [{"name": "www", "type": "A", "value": "198.51.100.77"}, {"name": "x", "type": "MX"}],
    }
    assert [problem.split(": ")[1] for problem in problems_of(raw)] == [
        'zones."example.com".reverse[2]',
        'zones."example.com".records[0].name',
        'zones."example.net".records[1].value',
    ]
