"""Pure rendering: golden files, and properties the administrator relies on."""

from __future__ import annotations

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
