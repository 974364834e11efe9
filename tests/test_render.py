"""Pure rendering: golden files, and properties the administrator relies on."""

from __future__ import annotations

import dns.rdatatype
import dns.zone
import pytest

from dnsctl import render
from dnsctl.platform import DEBIAN, RHEL

from .conftest import DATA

RHEL_OPTIONS = """options {
\tlisten-on port 53 { 127.0.0.1; };
\tlisten-on-v6 port 53 { ::1; };
\tdirectory \t"/var/named";
\tallow-query     { localhost; };
\trecursion yes;
};
"""


def golden(name: str, text: str) -> None:
    assert text == (DATA / name).read_text(), f"{name} differs from the golden file"


def test_forward_zone_golden(inventory):
    golden("example.com.zone", render.render_zone(inventory, "example.com", 2026112501))


def test_reverse_zone_golden(inventory):
    golden("reverse.zone", render.render_zone(inventory, "100.51.198.in-addr.arpa", 7))


def test_stanzas_golden(inventory):
    golden("primary.stanza", render.primary_stanza(inventory, "example.com", DEBIAN))
    golden("secondary.stanza", render.secondary_stanza(inventory, "example.com", RHEL))
    managed = render.render_managed(
        {
            "example.com": render.primary_stanza(inventory, "example.com", DEBIAN),
            "100.51.198.in-addr.arpa": render.primary_stanza(inventory, "100.51.198.in-addr.arpa", DEBIAN),
        }
    )
    golden("managed.conf", managed)


def test_rendered_zone_parses_with_every_record(inventory):
    text = render.render_zone(inventory, "example.com", 1)
    zone = dns.zone.from_text(text, origin="example.com.", relativize=False, check_origin=True)
    for record in inventory.records("example.com"):
        rdataset = zone.find_rdataset(record.owner + ".", record.type)
        assert record.value in {rdata.to_text() for rdata in rdataset}
    assert {r.to_text() for r in zone.find_rdataset("example.com.", "NS")} == {
        "ns1.example.com.",
        "ns2.example.com.",
    }
    assert zone.find_rdataset("ns2.example.com.", "A")[0].to_text() == "198.51.100.11"


def test_reverse_zone_has_no_glue_and_points_at_forward_names(inventory):
    text = render.render_zone(inventory, "100.51.198.in-addr.arpa", 1)
    zone = dns.zone.from_text(text, origin="100.51.198.in-addr.arpa.", relativize=False)
    assert {r.to_text() for r in zone.find_rdataset("100.51.198.in-addr.arpa.", "NS")} == {
        "ns1.example.com.",
        "ns2.example.com.",
    }
    assert "IN A " not in text


def test_serial_round_trip(inventory):
    text = render.render_zone(inventory, "example.com", 2026112501)
    assert render.zone_serial(text) == 2026112501
    assert render.zone_serial(render.with_serial(text, 5)) == 5
    assert render.with_serial(text, 2026112501) == text
    assert render.zone_serial(None) is None and render.zone_serial("no serial here") is None


def test_same_inputs_same_text(inventory):
    assert render.render_zone(inventory, "example.com", 3) == render.render_zone(inventory, "example.com", 3)


def test_query_acl_adds_the_zone_servers(inventory):
    assert render.query_acl(inventory, inventory.zones["example.com"]) == [
        "localhost",
        "198.51.100.0/24",
        "198.51.100.10",
        "198.51.100.11",
    ]
    assert render.query_acl(inventory, inventory.zones["100.51.198.in-addr.arpa"]) == ["any"]


def test_managed_file_round_trip(inventory):
    stanzas = {"example.com": render.primary_stanza(inventory, "example.com", DEBIAN)}
    assert render.parse_managed(render.render_managed(stanzas)) == stanzas
    assert render.parse_managed(None) == {}


ADMIN_LOCAL = '//\n// Do any local configuration here\n//\nzone "mine.test" { type master; file "x"; };\n'


def test_ensure_include_is_idempotent_and_keeps_admin_text():
    once = render.ensure_include(ADMIN_LOCAL, "/etc/bind/named.conf.dnsctl")
    twice = render.ensure_include(once, "/etc/bind/named.conf.dnsctl")
    assert once == twice
    assert once.startswith(ADMIN_LOCAL)
    assert once.count('include "/etc/bind/named.conf.dnsctl";') == 1
    assert render.ensure_include(None, "/x").startswith(render.INCLUDE_BEGIN)
    assert render.ensure_include("no newline", "/x").startswith("no newline\n")


def test_listen_on_gets_the_server_address():
    changed = render.ensure_listen_on(RHEL_OPTIONS, "198.51.100.10")
    assert "listen-on port 53 { 127.0.0.1; 198.51.100.10; };" in changed
    assert render.ensure_listen_on(changed, "198.51.100.10") == changed
    assert changed.replace(" 198.51.100.10;", "", 1) == RHEL_OPTIONS


@pytest.mark.parametrize(
    "options",
    [
        'options {\n\tdirectory "/var/cache/bind";\n};\n',  # no listen-on: BIND listens everywhere
        "options {\n\tlisten-on { any; };\n};\n",
        "options {\n\tlisten-on { 198.51.100.10; };\n};\n",
        "options {\n\tlisten-on port 5353 { 127.0.0.1; };\n};\n",  # another port is not ours
        '// listen-on { 127.0.0.1; };\noptions { directory "/x"; };\n',
    ],
)
def test_listen_on_left_alone(options):
    assert render.ensure_listen_on(options, "198.51.100.10") == options


def test_listen_on_in_comments_is_ignored():
    options = (
        "options {\n\t/* listen-on { 127.0.0.1; }; */\n\t# listen-on { 10.0.0.1; };\n"
        "\tlisten-on { 127.0.0.1; };\n};\n"
    )
    changed = render.ensure_listen_on(options, "198.51.100.10")
    assert "\tlisten-on { 127.0.0.1; 198.51.100.10; };" in changed
    assert "/* listen-on { 127.0.0.1; }; */" in changed


def test_listen_on_none_and_ipv6():
    assert "listen-on { 198.51.100.10; };" in render.ensure_listen_on(
        "options {\n\tlisten-on { none; };\n};\n", "198.51.100.10"
    )
    changed = render.ensure_listen_on(RHEL_OPTIONS, "2001:db8::10")
    assert "listen-on-v6 port 53 { ::1; 2001:db8::10; };" in changed
    assert "listen-on port 53 { 127.0.0.1; };" in changed


# Zone files as administrators write them: the serial must be found (and replaced)
# exactly where named reads it, and nowhere else.
SOA_SHAPES = {
    "one line": "@ IN SOA ns1 hostmaster 5 3600 600 86400 300\n@ IN NS ns1\nns1 IN A 192.0.2.1\n",
    "one line, TTL and class swapped": (
        "$ORIGIN example.com.\n@ 3600 IN SOA ns1 hostmaster 5 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "class before TTL, no @": (
        "example.com. IN 1h SOA ns1.example.com. hostmaster.example.com. 5 1h 10m 1w 5m\n"
        "example.com. NS ns1.example.com.\nns1.example.com. A 192.0.2.1\n"
    ),
    "owner inherited from the line above": (
        "$TTL 300\nexample.com. IN NS ns1.example.com.\n"
        "\tIN SOA ns1.example.com. hostmaster.example.com. 5 3600 600 86400 300\n"
        "ns1.example.com. IN A 192.0.2.1\n"
    ),
    "parentheses, comments everywhere": (
        "; serial 99 is not this one\n$TTL 300 ; (not a parenthesis)\n"
        "@ IN SOA ns1 hostmaster ( ; primary and contact above\n"
        "   ; 42 ; a commented-out serial\n"
        "   5 ; the serial\n   3600 600 86400 300 )\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "serial on the SOA line, timers in parentheses": (
        "@ IN SOA ns1 hostmaster 5 (\n  3600\n  600\n  86400\n  300 )\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "opening parenthesis glued to names": (
        "@ IN SOA ns1 hostmaster(5 3600 600 86400 300)\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "names and contact on separate lines": (
        "@ IN SOA (\n ns1.example.com.\n hostmaster.example.com.\n 5\n 3600 600 86400 300\n)\n"
        "@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "lower case, tabs, CRLF": (
        "@\tin\tsoa\tns1\thostmaster\t5\t3600\t600\t86400\t300\r\n@\tns\tns1\r\nns1\ta\t192.0.2.1\r\n"
    ),
    "records before the SOA, a TXT with a fake SOA": (
        '$TTL 300\ntxt IN TXT "@ IN SOA a b 77 1 1 1 1 (" "; ) 88"\n'
        "@ IN SOA ns1 hostmaster 5 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "escaped characters in the contact": (
        "@ IN SOA ns1 first\\.last 5 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
    "an owner named like a type": (
        "$TTL 300\nsoa IN A 192.0.2.9\n"
        "@ IN SOA ns1 hostmaster 5 3600 600 86400 300\n@ NS ns1\nns1 A 192.0.2.1\n"
    ),
}


@pytest.mark.parametrize("shape", SOA_SHAPES)
def test_soa_serial_found_in_every_shape(shape):
    text = SOA_SHAPES[shape]
    assert render.zone_serial(text) == 5
    changed = render.with_serial(text, 2026112507)
    # dnspython, an independent reader of the format, sees the new serial and nothing else changed.
    before = dns.zone.from_text(text, origin="example.com.", relativize=False, check_origin=False)
    after = dns.zone.from_text(changed, origin="example.com.", relativize=False, check_origin=False)
    assert after.get_soa().serial == 2026112507
    assert len(changed) == len(text) + len("2026112507") - 1
    for name, rdataset in before.iterate_rdatasets():
        if rdataset.rdtype != dns.rdatatype.SOA:
            assert after.find_rdataset(name, rdataset.rdtype) == rdataset


@pytest.mark.parametrize(
    "text",
    [
        "",
        "; @ IN SOA ns1 hostmaster 5 3600 600 86400 300\n",
        '@ IN TXT "IN SOA ns1 hostmaster 5 3600 600 86400 300"\n',
        "$INCLUDE soa.inc\n@ IN NS ns1\n",
        "@ IN SOA ns1 hostmaster serial 3600 600 86400 300\n",
        "@ IN SOA ns1\n",
    ],
)
def test_no_soa_serial(text):
    assert render.zone_serial(text) is None
    with pytest.raises(ValueError):
        render.with_serial(text, 6)
