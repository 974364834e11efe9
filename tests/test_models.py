"""The inventory: what loads, and that every rejection names its field."""

from __future__ import annotations

import pytest

from dnsctl.errors import InventoryError
from dnsctl.models import load_inventory, parse_inventory


def rejected(raw: dict) -> str:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(raw)
    assert caught.value.exit_code == 2
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_tutorial_inventory_loads(inventory):
    assert inventory.ssh.port == 22
    assert inventory.zones["example.com"].secondaries == ["ns2"]
    assert inventory.clients["client1"].connection == "lab"
    assert {r.type for r in inventory.records("example.com")} == {
        "A",
        "AAAA",
        "CNAME",
        "MX",
        "TXT",
        "SRV",
        "NS",
    }


def test_records_are_resolved_to_absolute_canonical_form(inventory):
    records = {(r.owner, r.type): r.value for r in inventory.records("example.com")}
    assert records[("www.example.com", "CNAME")] == "pc1.example.com."
    assert records[("example.com", "MX")] == "10 mail.example.com."
    assert records[("pc1.example.com", "AAAA")] == "2001:db8::50"
    assert inventory.records("100.51.198.in-addr.arpa")[0].owner == "50.100.51.198.in-addr.arpa"


def test_zone_names_are_normalised(raw):
    raw["zones"]["Example.NET."] = {"primary": "ns1"}
    inventory = parse_inventory(raw)
    assert "example.net" in inventory.zones
    assert inventory.zone_name("EXAMPLE.net.") == "example.net"


def test_reverse_zone_ns_names_point_at_the_forward_zone(inventory):
    assert inventory.nameserver("ns1") == "ns1.example.com"


@pytest.mark.parametrize(
    "zone",
    ["ex;ample", "a b.com", "$(reboot).com", "x" * 64 + ".com", ("a" * 60 + ".") * 5 + "com", "-bad.com"],
)
def test_invalid_zone_names(raw, zone):
    raw["zones"][zone] = {"primary": "ns1"}
    message = rejected(raw)
    quoted = zone.replace("\\", "\\\\").replace('"', '\\"')
    assert f'zones."{quoted}"' in message


@pytest.mark.parametrize(
    ("index", "field", "value"),
    [
        (0, "value", "198.51.100.500"),
        (0, "value", "2001:db8::1"),  # an IPv6 address in an A record
        (1, "value", "198.51.100.1"),  # an IPv4 address in an AAAA record
        (3, "value", "mail"),  # MX without preference
        (2, "value", "pc1; rm -rf /"),
        (2, "value", 'pc1"'),
        (2, "value", "$(reboot)"),
        (0, "name", "a b"),
        (0, "name", "pc1.other.test."),  # outside the zone
        (0, "name", "x" * 64),
    ],
)
def test_invalid_records_name_their_field(raw, index, field, value):
    raw["zones"]["example.com"]["records"][index][field] = value
    message = rejected(raw)
    assert f'zones."example.com".records[{index}].{field}:' in message


def test_bad_addresses(raw):
    raw["servers"]["ns1"]["address"] = "198.51.100.300"
    assert "servers.ns1.address" in rejected(raw)


def test_duplicate_host_address(raw):
    raw["clients"]["client1"]["address"] = "198.51.100.10"
    assert "clients.client1.address" in rejected(raw)


def test_unknown_primary_and_secondary(raw):
    raw["zones"]["example.com"]["primary"] = "nosuch"
    assert 'zones."example.com".primary: unknown server' in rejected(raw)


def test_unknown_secondary(raw):
    raw["zones"]["example.com"]["secondaries"] = ["ns2", "ns7"]
    assert 'zones."example.com".secondaries[1]: unknown server' in rejected(raw)


def test_server_primary_and_secondary_of_one_zone(raw):
    raw["zones"]["example.com"]["secondaries"] = ["ns1"]
    assert 'zones."example.com".secondaries[0]' in rejected(raw)


def test_secondary_listed_twice(raw):
    raw["zones"]["example.com"]["secondaries"] = ["ns2", "ns2"]
    assert "listed twice" in rejected(raw)


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda r: r, "colour"),
        (lambda r: r["ssh"], "ssh.colour"),
        (lambda r: r["servers"]["ns1"], "servers.ns1.colour"),
        (lambda r: r["zones"]["example.com"], 'zones."example.com".colour'),
        (lambda r: r["zones"]["example.com"]["records"][0], 'zones."example.com".records[0].colour'),
    ],
)
def test_unknown_keys(raw, where, path):
    where(raw)["colour"] = "blue"
    assert path in rejected(raw)


def test_cname_beside_other_data(raw):
    raw["zones"]["example.com"]["records"].append({"name": "www", "type": "A", "value": "198.51.100.9"})
    assert 'zones."example.com".records[8].name: CNAME' in rejected(raw)


def test_cname_at_the_apex(raw):
    raw["zones"]["example.com"]["records"].append({"name": "@", "type": "CNAME", "value": "pc1"})
    assert "CNAME" in rejected(raw)


def test_cname_on_a_name_server_name(raw):
    raw["zones"]["example.com"]["records"].append({"name": "ns1", "type": "CNAME", "value": "pc1"})
    assert "name server" in rejected(raw)


def test_duplicate_record(raw):
    raw["zones"]["example.com"]["records"].append({"name": "pc1", "type": "A", "value": "198.51.100.50"})
    assert "duplicate record" in rejected(raw)


def test_bad_server_and_client_names(raw):
    raw["servers"]["ns;1"] = {"address": "198.51.100.12"}
    assert 'servers."ns;1"' in rejected(raw)


def test_allow_query_entries(raw):
    raw["zones"]["example.com"]["allow_query"] = ["198.51.100.0/24", "localnets", "10.0.0.1"]
    parse_inventory(raw)
    raw["zones"]["example.com"]["allow_query"] = ["everyone"]
    assert 'zones."example.com".allow_query[0]' in rejected(raw)


@pytest.mark.parametrize("text", ['tricky "quotes" and \\backslash\\', "ünïcödé ✓", "x" * 600])
def test_txt_values_render_as_valid_character_strings(raw, text):
    import dns.rdata

    raw["zones"]["example.com"]["records"] = [{"name": "t", "type": "TXT", "value": text}]
    inventory = parse_inventory(raw)
    value = inventory.records("example.com")[0].value
    rdata = dns.rdata.from_text("IN", "TXT", value)
    assert b"".join(rdata.strings) == text.encode()
    assert all(len(chunk) <= 255 for chunk in rdata.strings)


def test_txt_control_characters_rejected(raw):
    raw["zones"]["example.com"]["records"] = [{"name": "t", "type": "TXT", "value": "a\nb"}]
    assert "records[0].value" in rejected(raw)


def test_load_missing_and_non_toml_files(tmp_path):
    with pytest.raises(InventoryError, match="not found"):
        load_inventory(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[servers.ns1\naddress=")
    with pytest.raises(InventoryError, match="not valid TOML"):
        load_inventory(bad)


def test_lookup_errors_are_usage_errors(inventory):
    for lookup, name in (
        (inventory.zone, "nosuch.test"),
        (inventory.server, "ns9"),
        (inventory.client, "c9"),
    ):
        with pytest.raises(InventoryError, match=name):
            lookup(name)


def test_contact_as_email(raw):
    raw["zones"]["example.com"]["contact"] = "dns-admin@example.com"
    assert parse_inventory(raw).zones["example.com"].contact == "dns-admin.example.com"
    raw["zones"]["example.com"]["contact"] = "first.last@example.com"
    assert "contact" in rejected(raw)
