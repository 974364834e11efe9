"""The inventory: what loads, and that every rejection names its field."""

from __future__ import annotations

import pytest

from dnsctl.errors import InventoryError
from dnsctl.models import format_path, load_inventory, parse_inventory

from .conftest import TUTORIAL


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


@pytest.mark.parametrize(
    ("first", "second"), [("EXAMPLE.com.", "example.com"), ("example.com", "EXAMPLE.com.")]
)
def test_a_zone_listed_twice_is_named_as_written_both_times(first, second):
    zones = {first: {"primary": "ns1"}, second: {"primary": "ns1"}}
    raw = {"servers": {"ns1": {"address": "198.51.100.10"}}, "zones": zones}
    assert rejected(raw).endswith(f'zones."{second}": zone listed twice (also as zones."{first}")')


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
    raw["zones"]["example.com"]["records"].append({"name": "PC1", "type": "A", "value": "198.51.100.50"})
    assert "records[8]: duplicate record: the same as records[0]" in rejected(raw)


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


# --- every problem at once, in the file's order ---------------------------------------


def problems_of(raw: dict, source: str = "inv.toml") -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(raw, source=source)
    assert caught.value.exit_code == 2
    assert str(caught.value).splitlines() == caught.value.problems
    return caught.value.problems


def test_every_problem_is_reported_at_once_in_file_order(raw):
    raw["servers"]["ns1"]["port"] = "22"
    raw["servers"]["ns1"]["colour"] = "blue"
    raw["zones"]["example.com"]["secondaries"] = ["ns2", "ns9"]
    records = raw["zones"]["example.com"]["records"]
    records[0]["value"] = "198.51.100.500"
    records[2]["value"] = "pc1; rm -rf /"
    records.append({"name": "a_b", "type": "A", "value": "198.51.100.9"})
    raw["zones"]["100.51.198.in-addr.arpa"]["records"][0]["value"] = "a_b.example.com."
    assert problems_of(raw) == [
        "inv.toml: servers.ns1.port: must be an integer, not a string '22'",
        "inv.toml: servers.ns1.colour: unknown key "
        "(allowed: address, ssh_host, user, port, key, layout, nameserver)",
        "inv.toml: zones.\"example.com\".secondaries[1]: unknown server 'ns9'",
        "inv.toml: zones.\"example.com\".records[0].value: '198.51.100.500' is not an IPv4 address",
        "inv.toml: zones.\"example.com\".records[2].value: 'pc1; rm -rf /' is not a valid CNAME value "
        "(letters, digits, '.', '-', '_', ':', '*' and spaces only)",
        'inv.toml: zones."example.com".records[8].name: a_b.example.com. is not a host name '
        "(only letters, digits and inner '-' in each label), which BIND requires as the owner of A records",
        'inv.toml: zones."100.51.198.in-addr.arpa".records[0].value: a_b.example.com. is not a host name '
        "(only letters, digits and inner '-' in each label), which BIND requires in PTR records",
    ]


def test_problems_in_a_broken_record_do_not_hide_those_of_the_others(raw):
    records = raw["zones"]["example.com"]["records"]
    records[1]["ttl"] = "300"  # refused by pydantic: the record is set aside
    records.append({"name": "mail", "type": "A", "value": "198.51.100.52", "ttl": 600})  # found after
    lines = problems_of(raw)
    assert len(lines) == 2
    assert "records[1].ttl: must be an integer, not a string '300'" in lines[0]
    assert "records[8].ttl: TTL 600 differs from the TTL 300 of records[4]" in lines[1]


def test_a_broken_server_is_not_also_reported_as_unknown(raw):
    raw["servers"]["ns2"]["port"] = 0
    assert problems_of(raw) == ["inv.toml: servers.ns2.port: must be >= 1, not 0"]


def test_problems_are_capped_but_all_kept(raw):
    raw["zones"]["example.com"]["records"] = [
        {"name": f"h{i}", "type": "A", "value": f"10.0.0.{256 + i}"} for i in range(120)
    ]
    with pytest.raises(InventoryError) as caught:
        parse_inventory(raw, source="inv.toml")
    lines = str(caught.value).splitlines()
    assert len(lines) == 51
    assert lines[-1] == "inv.toml: ... and 70 more problems"
    assert len(caught.value.problems) == 120


def test_load_names_the_file_on_every_line(tmp_path):
    path = tmp_path / "inv.toml"
    path.write_text('[servers.ns1]\naddress = "198.51.100.10"\nport = "22"\nuser = "Root"\n')
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 2
    assert all(line.startswith(f"{path}: servers.ns1.") for line in lines)


def test_the_callers_dict_is_not_changed_and_zone_order_is_kept(raw):
    import copy

    raw["zones"] = {"Example.COM": raw["zones"]["example.com"], **raw["zones"]}
    del raw["zones"]["example.com"]
    raw["zones"]["example.net"] = {"primary": "ns1"}
    before = copy.deepcopy(raw)
    inventory = parse_inventory(raw)
    assert raw == before
    assert list(inventory.zones) == ["example.com", "100.51.198.in-addr.arpa", "example.net"]
    assert inventory.nameserver("ns1") == "ns1.example.com"


def test_a_zone_key_is_shown_as_written(raw):
    raw["zones"]["Example.NET."] = {"primary": "nosuch"}
    assert problems_of(raw) == ["inv.toml: zones.\"Example.NET.\".primary: unknown server 'nosuch'"]


def test_control_characters_in_keys_keep_the_message_on_one_line(raw):
    raw["zones"]["a\nb.test"] = {"primary": "ns1"}
    lines = problems_of(raw)
    assert lines == ["inv.toml: zones.\"a\\nb.test\": 'a\\nb.test' is not a valid DNS name"]


@pytest.mark.parametrize(
    "inventory_text",
    [{}, {"ssh": {"user": "root"}}, {"clients": {"c": {"address": "198.51.100.20"}}}],
)
def test_an_empty_inventory_says_so(inventory_text):
    lines = problems_of(inventory_text)
    assert lines[0] == (
        "inv.toml: the inventory is empty: it has no servers and no zones (see inventory.example.toml)"
    )


def test_unknown_keys_suggest_the_likely_one(raw):
    raw["zones"]["example.com"]["secondary"] = ["ns2"]
    assert "unknown key (did you mean 'secondaries'?" in rejected(raw)


# --- strict types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key", "value", "expected"),
    [
        (("ssh",), "port", "22", "ssh.port: must be an integer, not a string '22'"),
        (("servers", "ns1"), "port", 22.0, "servers.ns1.port: must be an integer, not a float (22.0)"),
        (("ssh",), "connect_timeout", "5", "ssh.connect_timeout: must be a number, not a string '5'"),
        (("ssh",), "command_timeout", True, "ssh.command_timeout: must be a number, not a boolean (True)"),
        (("zones", "example.com"), "ttl", "3600", 'zones."example.com".ttl: must be an integer'),
        (("zones", "example.com"), "secondaries", "ns2", 'zones."example.com".secondaries: must be an array'),
        (("zones", "example.com"), "allow_query", "any", 'zones."example.com".allow_query: must be an array'),
        (
            ("zones", "example.com"),
            "primary",
            1,
            'zones."example.com".primary: must be a string, not an integer',
        ),
        (("servers", "ns1"), "address", 3325256714, "servers.ns1.address: must be a string"),
        (("servers", "ns1"), "layout", "arch", "servers.ns1.layout: must be one of 'debian' or 'rhel'"),
        (("servers", "ns1"), "port", 65536, "servers.ns1.port: must be <= 65535, not 65536"),
    ],
)
def test_no_type_is_coerced(raw, where, key, value, expected):
    table = raw
    for part in where:
        table = table.setdefault(part, {})
    table[key] = value
    assert expected in rejected(raw)


def test_record_fields_are_strict_too(raw):
    raw["zones"]["example.com"]["records"][0]["ttl"] = "300"
    assert "records[0].ttl: must be an integer, not a string '300'" in rejected(raw)
    raw["zones"]["example.com"]["records"][0]["ttl"] = 300
    raw["zones"]["example.com"]["records"][0]["type"] = "SOA"
    assert "records[0].type: must be one of A, AAAA, CNAME, MX, TXT, PTR, SRV, NS" in rejected(raw)


def test_timeouts_take_integers_and_types_any_case(raw):
    raw["ssh"]["connect_timeout"] = 3
    raw["zones"]["example.com"]["records"][2]["type"] = "cname"
    inventory = parse_inventory(raw)
    assert inventory.ssh.connect_timeout == 3.0
    assert inventory.zones["example.com"].records[2].type == "CNAME"


# --- addresses: no scope, canonical text only -------------------------------------------

INJECTION = "fe80::1%1; any; }; allow-update { any; }; #"


@pytest.mark.parametrize(
    ("place", "path"),
    [
        (lambda r, v: r["servers"]["ns1"].__setitem__("address", v), "servers.ns1.address"),
        (lambda r, v: r["clients"]["client1"].__setitem__("address", v), "clients.client1.address"),
        (lambda r, v: r["servers"]["ns2"].__setitem__("ssh_host", v), "servers.ns2.ssh_host"),
        (
            lambda r, v: r["zones"]["example.com"]["allow_query"].append(v),
            'zones."example.com".allow_query[1]',
        ),
    ],
)
@pytest.mark.parametrize("value", [INJECTION, "fe80::1%eth0", "fe80::%1/64", "fe80::1%25"])
def test_scoped_addresses_are_refused_everywhere(raw, place, path, value):
    place(raw, value)
    message = rejected(raw)
    assert f"{path}: " in message
    assert "scoped IPv6" in message


def test_scoped_aaaa_values_are_refused(raw):
    raw["zones"]["example.com"]["records"][1]["value"] = "fe80::1%1"
    assert 'zones."example.com".records[1].value' in rejected(raw)


def test_only_canonical_address_text_is_kept(raw):
    raw["servers"]["ns2"]["address"] = "2001:DB8:0:0::11"
    raw["servers"]["ns2"]["ssh_host"] = "2001:0db8::0011"
    raw["zones"]["example.com"]["allow_query"] = ["2001:DB8::/32", "198.51.100.7/24", "10.0.0.1", "localnets"]
    raw["zones"]["example.com"]["records"][1]["value"] = "2001:DB8:0:0:0:0:0:50"
    inventory = parse_inventory(raw)
    assert inventory.servers["ns2"].address == "2001:db8::11"
    assert inventory.servers["ns2"].ssh_host == "2001:db8::11"
    assert inventory.zones["example.com"].allow_query == [
        "2001:db8::/32",
        "198.51.100.0/24",
        "10.0.0.1",
        "localnets",
    ]
    assert ("pc1.example.com", "AAAA", "2001:db8::50") in {
        (r.owner, r.type, r.value) for r in inventory.records("example.com")
    }


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("0.0.0.0", "not the unicast address"),
        ("::", "not the unicast address"),
        ("224.0.0.1", "not the unicast address"),
        ("255.255.255.255", "not the unicast address"),
        ("::ffff:198.51.100.10", "write 198.51.100.10"),
        ("198.051.100.10", "not an IP address"),
    ],
)
def test_host_addresses_are_unicast_and_plain(raw, address, why):
    raw["servers"]["ns1"]["address"] = address
    assert why in rejected(raw)


# --- every other free-text field ------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        (("ssh",), "user", "root; reboot"),
        (("ssh",), "user", "-oProxyCommand=x"),
        (("servers", "ns1"), "user", "Admin"),
        (("ssh",), "key", "id\x00rsa"),
        (("ssh",), "known_hosts", "kh\nx"),
        (("ssh",), "known_hosts", ""),
        (("servers", "ns1"), "key", "k\x1b[31m"),
        (("servers", "ns1"), "ssh_host", "ns1 -oProxyCommand=x"),
        (("servers", "ns1"), "ssh_host", "-oProxyCommand=x"),
        (("servers", "ns1"), "nameserver", "ns_1.example.com"),
        (("servers", "ns1"), "nameserver", "ns1.example.com; x"),
        (("clients", "client1"), "connection", "--help"),
        (("clients", "client1"), "connection", "id"),
        (("clients", "client1"), "connection", "la\nb"),
        (("clients", "client1"), "connection", "la\tb"),
        (("zones", "example.com"), "contact", "root@exa mple.com"),
        (("zones", "example.com"), "contact", "root@_dmarc.example.com"),
        (("zones", "example.com"), "contact", "hostmaster"),
        (("zones", "example.com"), "primary", "ns1; x"),
    ],
)
def test_free_text_fields_are_validated(raw, where, key, value):
    table = raw
    for part in where:
        table = table.setdefault(part, {})
    table[key] = value
    assert f"{format_path((*where, key))}: " in rejected(raw)


def test_free_text_fields_that_pass(raw):
    raw["ssh"].update(user="deploy_1", key="~/.ssh/id ed25519 (2)", known_hosts="/etc/ssh/ssh_known_hosts")
    raw["servers"]["ns1"].update(ssh_host="ns1.admin.example.", nameserver="NS1.Example.COM.")
    raw["clients"]["client1"]["connection"] = "Wired connection 1"
    raw["zones"]["example.com"]["contact"] = "dns-admin@Example.COM"
    inventory = parse_inventory(raw)
    assert inventory.servers["ns1"].ssh_host == "ns1.admin.example"
    assert inventory.nameserver("ns1") == "ns1.example.com"
    assert inventory.zones["example.com"].contact == "dns-admin.example.com"


# --- what named-checkzone and named accept: BIND 9.18's check-names and integrity checks -----


def with_zone(name: str, records: list[dict], **settings) -> dict:
    """The tutorial inventory plus one zone on ns1 and ns2."""
    import copy

    raw = copy.deepcopy(TUTORIAL)
    raw["zones"][name] = {"primary": "ns1", "secondaries": ["ns2"], **settings, "records": records}
    return raw


def rr(name: str, rtype: str, value: str, ttl: int | None = None) -> dict:
    record = {"name": name, "type": rtype, "value": value}
    return record if ttl is None else {**record, "ttl": ttl}


# Tricky, and accepted: tests/integration/test_05_inventory_safety.py renders each and
# runs named-checkzone on it in a lab host, so what is accepted here is what named loads.
ACCEPTED = {
    "active-directory-and-spf": with_zone(
        "ad.test",
        [
            rr("dc1", "A", "198.51.100.80"),
            rr("gc._msdcs", "A", "198.51.100.80"),
            rr("gc._msdcs", "AAAA", "2001:db8::80"),
            rr("a.b._spf", "A", "198.51.100.81"),
            rr("x._spf_verify", "A", "198.51.100.82"),
            rr("_ldap._tcp.dc._msdcs", "SRV", "0 100 389 dc1"),
            rr("_kerberos._udp", "SRV", "0 100 88 DC1.ad.test."),
            rr("_dmarc", "TXT", "v=DMARC1; p=none"),
            rr("_x_y", "CNAME", "dc1"),
        ],
    ),
    "wildcards-and-null-targets": with_zone(
        "wild.test",
        [
            rr("*", "A", "198.51.100.90"),
            rr("*", "MX", "10 mx"),
            rr("mx", "A", "198.51.100.91"),
            rr("*.deep", "AAAA", "2001:db8::90"),
            rr("@", "MX", "20 anything.deep"),
            rr("nomail", "MX", "0 ."),
            rr("_none._tcp", "SRV", "0 0 0 ."),
            rr("*.alias", "CNAME", "mx"),
        ],
    ),
    "delegations-and-glue": with_zone(
        "deleg.test",
        [
            rr("child", "NS", "ns.child"),
            rr("child", "NS", "ns.other.test."),
            rr("ns.child", "A", "198.51.100.100"),
            rr("ns.child", "AAAA", "2001:db8::100"),
            rr("self", "NS", "self"),
            rr("self", "A", "198.51.100.101"),
            rr("@", "NS", "ns3"),
            rr("ns3", "A", "198.51.100.102"),
            rr("mail.child", "A", "198.51.100.100"),
            rr("child", "NS", "mail.child"),
            rr("@", "MX", "10 mail.child"),
        ],
    ),
    "case-and-canonical-forms": with_zone(
        "Case.Test.",
        [
            rr("Host", "A", "198.51.100.110"),
            rr("HOST.case.test.", "A", "198.51.100.111"),
            rr("host", "AAAA", "2001:DB8:0:0::110"),
            rr("www", "CNAME", "HOST"),
            rr("@", "MX", "010 Host.Case.Test."),
            rr("_sip._tcp", "SRV", "010 05 05060 host"),
            rr("Ns1", "A", "198.51.100.10"),
        ],
    ),
    "long-names-ttls-and-sizes": with_zone(
        "size.test",
        [
            rr("a" * 63, "A", "198.51.100.120"),
            rr(".".join(["b" * 61] * 3) + ".c" * 11, "A", "198.51.100.121"),
            rr("zero", "TXT", "ttl zero", ttl=0),
            rr("max", "TXT", "largest ttl", ttl=2_147_483_647),
            rr("same", "A", "198.51.100.122", ttl=60),
            rr("same", "A", "198.51.100.123", ttl=60),
            rr("default", "A", "198.51.100.124"),
            rr("default", "A", "198.51.100.125", ttl=600),
            rr("big", "TXT", "x" * 65248),
            rr("quotes", "TXT", 'a "quoted" \\back\\slash; (parens) $ORIGIN @ ünï ✓'),
            rr("1", "A", "198.51.100.126"),
            rr("xn--bcher-kva", "A", "198.51.100.127"),
            rr("a-b-c", "A", "198.51.100.128"),
        ],
        ttl=600,
    ),
    "underscore-zone-with-contact-and-foreign-name-servers": with_zone(
        "_msdcs.example.com",
        [rr("_ldap._tcp", "SRV", "0 100 389 pc1.example.com."), rr("gc", "A", "198.51.100.130")],
        contact="hostmaster@example.com",
    ),
    "reverse-zones": with_zone(
        "113.0.203.in-addr.arpa",
        [
            rr("5", "PTR", "pc1.example.com."),
            rr("6", "PTR", "Mail.Example.Com."),
            rr("b._dns-sd._udp", "PTR", "printer_1.example.com."),
            rr("_x", "TXT", "service note"),
        ],
    ),
}
ACCEPTED["caa-sshfp-tlsa-ds-and-unicode-names"] = with_zone(
    "sec.test",
    [
        rr("@", "CAA", '0 issue "letsencrypt.org"'),
        rr("@", "CAA", '128 tbs "a\\"b\\\\c ( ) $ @ ; ü"'),
        rr("@", "CAA", '0 iodef "mailto:security@sec.test"'),
        rr("@", "CAA", '0 issuewild ";"'),
        rr("host", "A", "198.51.100.140"),
        rr("host", "SSHFP", "4 2 " + "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
        rr("host", "SSHFP", "1 1 A94A8FE5CC B19BA61C4C0873D391E987982FBBD3"),
        rr("_443._tcp.host", "TLSA", "3 1 1 " + "AB" * 32),
        rr("_443._tcp.host", "TLSA", "2 0 0 " + "CD" * 150),
        rr("child", "NS", "ns.child"),
        rr("ns.child", "A", "198.51.100.141"),
        rr("child", "DS", "12345 13 2 " + "EF" * 32),
        rr("child", "DS", "12345 13 4 " + "EF" * 48),
        rr("bücher", "A", "198.51.100.142"),
        rr("*.bücher", "SSHFP", "4 2 " + "01" * 32),
        rr("www", "CNAME", "Bücher"),
        rr("@", "MX", "10 bücher"),
    ],
)
ACCEPTED["ipv6-name-server"] = with_zone("v6.test", [rr("host", "AAAA", "2001:db8::140")])
ACCEPTED["ipv6-name-server"]["servers"]["ns2"]["address"] = "2001:DB8::11"
ACCEPTED["explicit-name-servers"] = with_zone("ns.test", [rr("www", "CNAME", "ns-a")])
ACCEPTED["explicit-name-servers"]["servers"]["ns1"]["nameserver"] = "NS-A.ns.test."
ACCEPTED["explicit-name-servers"]["servers"]["ns2"]["nameserver"] = "ns-b.elsewhere.test"
ACCEPTED["explicit-name-servers"]["zones"]["ns.test"]["records"].append(rr("ns-a", "A", "198.51.100.10"))


@pytest.mark.parametrize("name", ACCEPTED)
def test_tricky_inventories_that_named_loads_are_accepted(name):
    inventory = parse_inventory(ACCEPTED[name])
    assert all(inventory.records(zone) is not None for zone in inventory.zones)


def test_the_name_server_names_are_lower_case_host_names():
    inventory = parse_inventory(ACCEPTED["explicit-name-servers"])
    assert inventory.nameserver("ns1") == "ns-a.ns.test"
    raw = with_zone("up.test", [])
    raw["servers"]["NS3"] = {"address": "198.51.100.12"}
    raw["zones"]["up.test"]["secondaries"] = ["NS3"]
    assert parse_inventory(raw).nameserver("NS3") == "ns3.up.test"


REJECTED = [
    # BIND's check-names: owners of A, AAAA and MX, targets of NS, MX, SRV and reverse PTR
    ([rr("a_b", "A", "198.51.100.1")], "records[0].name", "not a host name"),
    ([rr("a_b", "AAAA", "2001:db8::1")], "records[0].name", "not a host name"),
    ([rr("x._spf", "AAAA", "2001:db8::1")], "records[0].name", "not a host name"),
    ([rr("-x", "A", "198.51.100.1")], "records[0].name", "not a valid DNS name"),
    ([rr("gc._msdcs.a_b", "A", "198.51.100.1")], "records[0].name", "not a host name"),
    ([rr("mx_1", "MX", "10 mail.other.test.")], "records[0].name", "not a host name"),
    ([rr("x.*", "A", "198.51.100.1")], "records[0].name", "not a valid DNS name"),
    ([rr("m", "MX", "10 a_b.other.test.")], "records[0].value", "not a host name"),
    ([rr("m", "MX", "10 *.other.test.")], "records[0].value", "not a valid DNS name"),
    ([rr("s", "NS", "ns_1.other.test.")], "records[0].value", "not a host name"),
    ([rr("_s._tcp", "SRV", "0 0 1 a_b.other.test.")], "records[0].value", "not a host name"),
    ([rr("_s._tcp", "SRV", "0 0 1 b-.other.test.")], "records[0].value", "not a valid DNS name"),
    # named refuses the zone
    ([rr("x", "CNAME", "pc1"), rr("X", "TXT", "t")], "records[1].name", "CNAME at x.t.test."),
    ([rr("x", "TXT", "t"), rr("x", "CNAME", "pc1")], "records[1].name", "CNAME at x.t.test."),
    ([rr("@", "CNAME", "pc1.example.com.")], "records[0].name", "CNAME at t.test."),
    ([rr("*", "NS", "ns.other.test.")], "records[0].name", "wildcard owner"),
    ([rr("@", "NS", "ns3")], "records[0].value", "ns3.t.test. has no A or AAAA record in zone t.test"),
    (
        [rr("@", "NS", "a"), rr("a", "CNAME", "b"), rr("b", "A", "198.51.100.1")],
        "records[0].value",
        "is a CNAME",
    ),
    ([rr("t", "TXT", "x" * 65249)], "records[0].value", "65512 octets"),
    ([rr("t", "TXT", "x" * 40000), rr("t", "TXT", "y" * 40000)], "records[1].value", "65512 octets"),
    # named loads it, but would not serve what the inventory says
    (
        [rr("sub", "NS", "ns.other.test."), rr("x.sub", "A", "198.51.100.1")],
        "records[1].name",
        "below the delegation",
    ),
    ([rr("sub", "NS", "ns.other.test."), rr("sub", "TXT", "t")], "records[1].name", "at the delegation"),
    ([rr("sub", "NS", "ns.sub")], "records[0].value", "ns.sub.t.test. has no A or AAAA record"),
    ([rr("m", "MX", "10 nowhere")], "records[0].value", "nowhere.t.test. has no A or AAAA record"),
    (
        [rr("m", "MX", "10 w"), rr("w", "CNAME", "pc1.example.com.")],
        "records[0].value",
        "w.t.test. is a CNAME",
    ),
    (
        [rr("_s._tcp", "SRV", "0 0 1 w"), rr("w", "CNAME", "x"), rr("x", "A", "198.51.100.1")],
        "records[0].value",
        "CNAME",
    ),
    ([rr("m", "MX", "10 198.51.100.1.")], "records[0].value", "is an address"),
    ([rr("s", "NS", "198.51.100.1.")], "records[0].value", "is an address"),
    (
        [rr("x", "A", "198.51.100.1", ttl=60), rr("x", "A", "198.51.100.2")],
        "records[1].ttl",
        "differs from the TTL 60",
    ),
    ([rr("@", "NS", "ns.other.test.", ttl=60)], "records[0].ttl", "of the zone's name servers"),
    (
        [rr("m", "MX", "10 MAIL.t.test."), rr("m", "MX", "10 mail"), rr("mail", "A", "198.51.100.1")],
        "records[1]",
        "duplicate record",
    ),
    ([rr("ns1", "A", "198.51.100.99")], "records[0].name", "must include that address"),
    ([rr("NS1", "CNAME", "pc1.example.com.")], "records[0].name", "cannot be a CNAME"),
]


@pytest.mark.parametrize(("records", "path", "why"), REJECTED)
def test_what_named_would_refuse_or_not_serve_is_rejected(records, path, why):
    raw = with_zone("t.test", records)
    raw["servers"]["ns1"]["nameserver"] = "ns1.t.test"
    message = rejected(raw)
    assert f'inventory: zones."t.test".{path}' in message
    assert why in message


def add_server(raw: dict, name: str, address: str) -> None:
    raw["servers"][name] = {"address": address}
    raw["zones"]["example.com"]["secondaries"].append(name)


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        (lambda r: add_server(r, "ns_3", "198.51.100.12"), "servers.ns_3", "set nameserver"),
        (lambda r: add_server(r, "NS2", "198.51.100.12"), "servers.NS2", "same name as servers.ns2"),
        (lambda r: r["clients"].update(NS1={"address": "198.51.100.30"}), "clients.NS1", "same name as"),
        (lambda r: r["zones"].update({"_x.test": {"primary": "ns1"}}), 'zones."_x.test"', "set contact"),
        (
            lambda r: r["zones"].update({"EXAMPLE.com": {"primary": "ns1"}}),
            'zones."EXAMPLE.com"',
            "listed twice",
        ),
        (
            lambda r: r["servers"]["ns2"].update(nameserver="NS1.example.com"),
            'zones."example.com".secondaries[0]',
            "'ns2' has the same NS name ns1.example.com as 'ns1'",
        ),
        (
            lambda r: (
                r["servers"]["ns2"].update(nameserver="ns2.example.net"),
                r["zones"].update({"example.net": {"primary": "ns1"}}),
            ),
            "servers.ns2",
            "its NS name: ns2.example.net. has no A or AAAA record in zone example.net",
        ),
    ],
)
def test_servers_and_zones_that_named_would_refuse(raw, change, path, why):
    change(raw)
    assert any(line.startswith(f"inv.toml: {path}: ") and why in line for line in problems_of(raw))


@pytest.mark.parametrize(
    ("rtype", "value"),
    [
        ("CNAME", "pc1"),
        ("CNAME", "PC1.Example.COM."),
        ("CNAME", "a-b.c_d"),
        ("NS", "ns.other.test."),
        ("PTR", "host.example.com."),
        ("MX", "0 ."),
        ("MX", "010 Mail"),
        ("SRV", "0 5 5060 sip"),
        ("SRV", "65535 65535 65535 ."),
        ("AAAA", "2001:DB8:0:0:0:0:0:1"),
        ("AAAA", "::ffff:198.51.100.1"),
        ("AAAA", "::"),
        ("A", "198.51.100.1"),
    ],
)
def test_values_are_written_as_dnspython_shows_answers(rtype, value):
    import dns.name
    import dns.rdata

    from dnsctl.zonedata import record_value

    canonical = record_value(rtype, value, "example.com")[0]
    expected = dns.rdata.from_text("IN", rtype, value, origin=dns.name.from_text("example.com"))
    assert canonical == expected.to_text(origin=dns.name.from_text("example.com"), relativize=False)


@pytest.mark.parametrize(
    ("rtype", "value"),
    [
        ("MX", "65536 mail"),
        ("MX", "-1 mail"),
        ("MX", "1x mail"),
        ("SRV", "1 2 mail"),
        ("CNAME", "a b"),
        ("MX", "\u0661 mail"),
    ],
)
def test_malformed_values(raw, rtype, value):
    raw["zones"]["example.com"]["records"] = [rr("x", rtype, value)]
    assert 'zones."example.com".records[0].value' in rejected(raw)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda r: r.update(servers=5), ["inv.toml: servers: must be a table, not an integer (5)"]),
        (lambda r: r.update(zones=[]), ["inv.toml: zones: must be a table, not an array"]),
        (
            lambda r: r["zones"]["example.com"].update(records="pc1"),
            ["inv.toml: zones.\"example.com\".records: must be an array, not a string 'pc1'"],
        ),
        (
            lambda r: r["zones"]["example.com"]["records"].insert(0, "pc1"),
            ["inv.toml: zones.\"example.com\".records[0]: must be a table, not a string 'pc1'"],
        ),
    ],
)
def test_a_broken_section_is_reported_once(raw, change, expected):
    change(raw)
    assert problems_of(raw) == expected
