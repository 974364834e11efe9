"""CAA, SSHFP, TLSA and DS records, and internationalised names: what loads and in which
canonical form, what is refused and with which message, how it is rendered, and that the
kept value is the very text dnspython prints for named's answer."""

from __future__ import annotations

import tomllib

import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rrset
import pytest

from dnsctl import render, verify
from dnsctl.errors import InventoryError, UsageError
from dnsctl.models import RECORD_TYPES, parse_inventory
from dnsctl.ops import record_add, record_del, record_list

from .simulated import BindServer, Scene, configured_files

ZONE = "t.test"
SHA256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
SHA1 = "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"
SHA512 = "AB" * 64
CERTIFICATE = "30820122" + "CD" * 150  # matching type 0: the data itself, any length


def inventory_with(*records: tuple[str, str, str]) -> dict:
    return {
        "servers": {"ns1": {"address": "198.51.100.10"}},
        "zones": {
            ZONE: {
                "primary": "ns1",
                "records": [
                    {"name": "child", "type": "NS", "value": "ns.other.test."},
                    *({"name": name, "type": rtype, "value": value} for name, rtype, value in records),
                ],
            }
        },
    }


def loaded(*records: tuple[str, str, str]) -> list[tuple[str, str, str]]:
    """The zone's records as loaded, after the delegation every test zone has."""
    inventory = parse_inventory(inventory_with(*records))
    return [(r.owner, r.type, r.value) for r in inventory.records(ZONE)[1:]]


def refusal(*records: tuple[str, str, str]) -> str:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(inventory_with(*records))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_new_types_are_record_types():
    assert {"CAA", "SSHFP", "TLSA", "DS"} <= set(RECORD_TYPES)


CANONICAL = [
    ("CAA", '0 issue "letsencrypt.org"', '0 issue "letsencrypt.org"'),
    ("CAA", '128   issuewild   ";"', '128 issuewild ";"'),
    ("CAA", '0 iodef "mailto:security@t.test"', '0 iodef "mailto:security@t.test"'),
    ("CAA", '0 issue ""', '0 issue ""'),
    ("CAA", '0 issue "ca.example; account=230123"', '0 issue "ca.example; account=230123"'),
    ("CAA", '0 contactemail "dns@t.test"', '0 contactemail "dns@t.test"'),
    # zone-file syntax inside the quotes stays inside them; quote and backslash escaped
    ("CAA", r'0 tbs "a\"b\\c ( ) $ @ ; x"', r'0 tbs "a\"b\\c ( ) $ @ ; x"'),
    ("CAA", r'0 issue "\065\066"', '0 issue "AB"'),
    ("CAA", '0 issue "bücher"', r'0 issue "b\195\188cher"'),
    ("SSHFP", f"4 2 {SHA256}", f"4 2 {SHA256.lower()}"),
    ("SSHFP", f"1 1 {SHA1[:10]} {SHA1[10:]}", f"1 1 {SHA1.lower()}"),
    ("SSHFP", f"04 002 {SHA256}", f"4 2 {SHA256.lower()}"),
    ("SSHFP", "1 0 abcd", "1 0 abcd"),
    ("TLSA", f"3 1 1 {SHA256}", f"3 1 1 {SHA256.lower()}"),
    ("TLSA", f"3 0 2 {SHA512}", f"3 0 2 {SHA512.lower()}"),
    # dnspython splits long hex every 128 digits, and prints named's answer so
    (
        "TLSA",
        f"2 0 0 {CERTIFICATE}",
        f"2 0 0 {' '.join(CERTIFICATE.lower()[i : i + 128] for i in (0, 128, 256))}",
    ),
    ("DS", f"12345 13 2 {SHA256}", f"12345 13 2 {SHA256.lower()}"),
    ("DS", f"65535 5 1 {SHA1}", f"65535 5 1 {SHA1.lower()}"),
    ("DS", f"0 8 4 {'EF' * 48}", f"0 8 4 {'ef' * 48}"),
]


@pytest.mark.parametrize(("rtype", "value", "canonical"), CANONICAL)
def test_good_values_are_kept_in_the_form_dnspython_prints(rtype, value, canonical):
    owner = "child" if rtype == "DS" else "host"
    assert loaded((owner, rtype.lower(), value)) == [(f"{owner}.{ZONE}", rtype, canonical)]


@pytest.mark.parametrize(("rtype", "value", "canonical"), CANONICAL)
def test_the_kept_value_is_what_verification_reads_in_named_answer(rtype, value, canonical):
    """Named answers in wire form; dnspython's text of that answer is the kept value."""
    served = dns.rdata.from_text("IN", rtype, value)
    from_the_wire = dns.rdata.from_wire("IN", rtype, served.to_wire(), 0, len(served.to_wire()))
    assert from_the_wire.to_text() == canonical


REFUSED = [
    (
        "CAA",
        "0 issue letsencrypt.org",
        "(the value goes in double quotes): "
        "expected flags (0-255), a tag and a quoted value, e.g. '0 issue \"ca.example\"'",
    ),
    ("CAA", '256 issue "ca.example"', "(the flags are a number, 0-255)"),
    ("CAA", 'x issue "ca.example"', "(the flags are a number, 0-255)"),
    ("CAA", '0 is-sue "ca.example"', "(the tag is letters and digits only)"),
    ("CAA", '0 issue "a" "b"', "(the value is one quoted string"),
    ("CAA", '0 issue "unterminated', "(the value is one quoted string"),
    ("CAA", '0 issue "a"b"', "(the value is one quoted string"),
    ("CAA", '0 issue "ca.example" ; comment', "(the value is one quoted string"),
    ("CAA", r'0 issue "a\x"', r'(in the quoted value a backslash escapes only ", \ or a decimal \DDD)'),
    ("CAA", r'0 issue "a\12"', r'(in the quoted value a backslash escapes only ", \ or a decimal \DDD)'),
    ("CAA", '0 issue "a\tb"', "(control characters are not allowed)"),
    ("CAA", r'0 issue "a\010b"', r"\010 is a control character, which is not allowed"),
    ("CAA", r'0 issue "\256"', r"\256 is not an octet (0-255)"),
    ("CAA", "0 issue", "expected flags (0-255), a tag and a quoted value"),
    ("SSHFP", "4 2", "expected an algorithm and a fingerprint type (0-255 each) and the fingerprint in hex"),
    ("SSHFP", f"256 2 {SHA256}", "expected an algorithm and a fingerprint type (0-255 each)"),
    ("SSHFP", "4 2 xyz", "expected an algorithm and a fingerprint type"),
    ("SSHFP", f"4 2 {SHA256}; rm -rf /", "expected an algorithm and a fingerprint type"),
    ("SSHFP", f"4 2 {SHA256[:-2]}", "a SHA-256 digest (fingerprint type 2) is 64 hex digits, not 62"),
    ("SSHFP", f"4 1 {SHA256}", "a SHA-1 digest (fingerprint type 1) is 40 hex digits, not 64"),
    ("SSHFP", "4 0 abc", "its hex has an odd number of digits (3)"),
    ("TLSA", f"3 1 {SHA256}", "expected usage, selector and matching type (0-255 each) and the certificate"),
    ("TLSA", f"3 1 1 {SHA1}", "a SHA-256 digest (matching type 1) is 64 hex digits, not 40"),
    ("TLSA", f"3 1 2 {SHA256}", "a SHA-512 digest (matching type 2) is 128 hex digits, not 64"),
    ("TLSA", "3 1 1 (", "expected usage, selector and matching type"),
    (
        "DS",
        f"65536 13 2 {SHA256}",
        "expected a key tag (0-65535), an algorithm and a digest type (0-255 each)",
    ),
    ("DS", f"12345 ECDSAP256SHA256 2 {SHA256}", "expected a key tag (0-65535)"),
    ("DS", f"12345 13 2 {SHA1}", "a SHA-256 digest (digest type 2) is 64 hex digits, not 40"),
    ("DS", f"12345 13 4 {SHA256}", "a SHA-384 digest (digest type 4) is 96 hex digits, not 64"),
    ("DS", "12345 13 0 abcd", "digest type 0 is reserved"),
]


@pytest.mark.parametrize(("rtype", "value", "why"), REFUSED)
def test_bad_values_are_refused_naming_the_field_and_what_is_expected(rtype, value, why):
    owner = "child" if rtype == "DS" else "host"
    message = refusal((owner, rtype, value))
    assert message.startswith(
        f'inventory: zones."{ZONE}".records[1].value: {value!r} is not a valid {rtype} value'
    )
    assert why in message


def test_a_value_differing_only_in_the_case_of_its_hex_is_a_duplicate():
    message = refusal(("h", "SSHFP", f"4 2 {SHA256}"), ("h", "SSHFP", f"4 2 {SHA256.lower()}"))
    assert 'zones."t.test".records[2]: duplicate record: the same as records[1]' in message


# --- DS only at a delegation ---------------------------------------------------------


def test_ds_at_a_delegation_is_accepted_beside_its_ns_records():
    records = loaded(("child", "DS", f"12345 13 2 {SHA256}"))
    assert records == [(f"child.{ZONE}", "DS", f"12345 13 2 {SHA256.lower()}")]


@pytest.mark.parametrize(
    ("owner", "why"),
    [
        ("@", "a DS record at the apex of t.test belongs in its parent zone"),
        ("www", "www.t.test. has no NS records in this zone: DS records go only at a delegation"),
        ("*", "*.t.test. has no NS records in this zone"),
        ("x.child", "x.child.t.test. DS is below the delegation child.t.test. (records[0])"),
    ],
)
def test_ds_anywhere_but_at_a_delegation_is_refused(owner, why):
    message = refusal((owner, "DS", f"12345 13 2 {SHA256}"))
    assert message.startswith(f'inventory: zones."{ZONE}".records[1].name: {why}')


def test_other_data_at_a_delegation_is_still_refused():
    message = refusal(("child", "CAA", '0 issue "ca.example"'))
    assert "child.t.test. CAA is at the delegation child.t.test." in message


# --- internationalised names ------------------------------------------------------------

BUECHER = "xn--bcher-kva"


@pytest.mark.parametrize(
    ("name", "owner"),
    [
        ("bücher", f"{BUECHER}.{ZONE}"),
        ("BÜCHER", f"{BUECHER}.{ZONE}"),  # UTS 46 folds case as browsers do
        ("\uff22\u00dcCHER", f"{BUECHER}.{ZONE}"),  # and full-width letters
        (f"bücher.{ZONE}.", f"{BUECHER}.{ZONE}"),
        ("www.bücher", f"www.{BUECHER}.{ZONE}"),
        ("straße", f"xn--strae-oqa.{ZONE}"),  # IDNA 2008: ß is kept, not turned into ss
        (BUECHER, f"{BUECHER}.{ZONE}"),  # the A-label as it is
    ],
)
def test_unicode_owner_names_take_their_a_label_form(name, owner):
    assert loaded((name, "A", "198.51.100.1")) == [(owner, "A", "198.51.100.1")]


def test_unicode_owners_of_any_type_and_wildcards():
    records = loaded(
        ("*.bücher", "TXT", "any"),
        ("_443._tcp.bücher", "TLSA", f"3 1 1 {SHA256}"),
        ("bücher", "CAA", '0 issue "ca.example"'),
    )
    assert [owner for owner, _, _ in records] == [
        f"*.{BUECHER}.{ZONE}",
        f"_443._tcp.{BUECHER}.{ZONE}",
        f"{BUECHER}.{ZONE}",
    ]


def test_unicode_names_in_values_take_their_a_label_form():
    records = loaded(
        ("bücher", "A", "198.51.100.1"),
        ("www", "CNAME", "Bücher"),
        ("@", "MX", "10 bücher"),
        ("_sip._tcp", "SRV", "0 5 5060 bücher"),
        ("sub", "NS", "ns.bücher.other.test."),
        ("p", "PTR", "münchen.example."),
    )
    assert [value for _, _, value in records[1:]] == [
        f"{BUECHER}.{ZONE}.",
        f"10 {BUECHER}.{ZONE}.",
        f"0 5 5060 {BUECHER}.{ZONE}.",
        f"ns.{BUECHER}.other.test.",
        "xn--mnchen-3ya.example.",
    ]


@pytest.mark.parametrize(
    ("field", "record", "why"),
    [
        (
            "name",
            ("bü cher", "A", "198.51.100.1"),
            "'bü cher' is not a valid internationalised name (IDNA 2008)",
        ),
        (
            "name",
            ("☃", "TXT", "x"),
            "'☃' is not a valid internationalised name (IDNA 2008): Codepoint U+2603",
        ),
        ("name", ("bü_x", "TXT", "x"), "not a valid internationalised name"),
        ("name", ("bü..x", "TXT", "x"), "is not a valid DNS name"),
        ("name", ("b\\065ü", "TXT", "x"), "is not a valid DNS name"),
        ("name", ("ü" * 60, "TXT", "x"), "has a label longer than 63 characters in its A-label form"),
        ("value", ("www", "CNAME", "bü_x"), "'bü_x' is not a valid internationalised name"),
        ("value", ("www", "CNAME", "bü x"), "is not a valid CNAME value"),
        ("value", ("@", "MX", "\uff11\uff10 bücher"), "is not a valid MX value"),  # digits must be ASCII
        ("name", ("bücher.other.test.", "TXT", "x"), "is outside the zone t.test"),
    ],
)
def test_bad_unicode_names_are_refused_naming_the_field(field, record, why):
    message = refusal(record)
    assert message.startswith(f'inventory: zones."{ZONE}".records[1].{field}: ')
    assert why in message


def test_without_the_idna_package_unicode_names_are_refused_asking_for_the_a_label(monkeypatch):
    monkeypatch.setattr(dns.name, "have_idna_2008", False)
    message = refusal(("bücher", "A", "198.51.100.1"))
    assert message == (
        f"inventory: zones.\"{ZONE}\".records[1].name: 'bücher' is an internationalised name and the "
        "idna package (IDNA 2008) is not installed: install it, or write the name in its A-label "
        "(xn--...) form"
    )
    assert loaded((BUECHER, "A", "198.51.100.1")) == [(f"{BUECHER}.{ZONE}", "A", "198.51.100.1")]


# --- rendering and verification ----------------------------------------------------------

RENDERED = [
    ("@", "CAA", '0 issue "letsencrypt.org"', '@\tIN CAA 0 issue "letsencrypt.org"'),
    ("@", "CAA", r'0 tbs "a\"b\\c ( ) $ @ ; ü"', r'@	IN CAA 0 tbs "a\"b\\c ( ) $ @ ; \195\188"'),
    ("host", "SSHFP", f"4 2 {SHA256}", f"host\tIN SSHFP 4 2 {SHA256.lower()}"),
    ("_443._tcp.host", "TLSA", f"3 1 1 {SHA256}", f"_443._tcp.host\tIN TLSA 3 1 1 {SHA256.lower()}"),
    ("child", "DS", f"12345 13 2 {SHA256}", f"child\tIN DS 12345 13 2 {SHA256.lower()}"),
    ("bücher", "A", "198.51.100.1", f"{BUECHER}\tIN A 198.51.100.1"),
    ("www", "CNAME", "bücher", f"www\tIN CNAME {BUECHER}.{ZONE}."),
]


def rendered_inventory():
    return parse_inventory(inventory_with(*((name, rtype, value) for name, rtype, value, _ in RENDERED)))


def test_each_type_is_rendered_on_one_line_in_its_canonical_form():
    text = render.render_zone(rendered_inventory(), ZONE, 2026112501)
    lines = text.splitlines()
    for *_, line in RENDERED:
        assert line in lines
    assert not any(line.isascii() is False for line in lines)  # the zone file is plain ASCII


def test_the_rendered_zone_reads_back_as_the_kept_values():
    """dnspython reads the zone file as named does: every record comes back as kept."""
    inventory = rendered_inventory()
    text = render.render_zone(inventory, ZONE, 2026112501)
    expected = {f"{r.owner}. {r.type} {r.value}" for r in inventory.records(ZONE)}
    assert expected <= verify.zone_records(text, ZONE)
    assert verify.drift(inventory, ZONE, text) == verify.Drift([], [])


def test_verification_of_the_new_types_compares_named_answers_exactly(monkeypatch):
    """The records as named would serve them (dig prints hex in upper case): no mismatch."""
    inventory = rendered_inventory()
    served = {
        (f"host.{ZONE}.", "SSHFP"): f"4 2 {SHA256}",
        (f"_443._tcp.host.{ZONE}.", "TLSA"): f"3 1 1 {SHA256}",
        (f"child.{ZONE}.", "DS"): f"12345 13 2 {SHA256}",
        (f"{ZONE}.", "CAA"): None,  # both CAA records, below
        (f"{BUECHER}.{ZONE}.", "A"): "198.51.100.1",
        (f"www.{ZONE}.", "CNAME"): f"{BUECHER}.{ZONE}.",
        (f"child.{ZONE}.", "NS"): "ns.other.test.",
    }
    caa = ['0 issue "letsencrypt.org"', r'0 tbs "a\"b\\c ( ) $ @ ; \195\188"']

    def ask(server, name, rdtype, timeout=2.0, **_):
        text = dns.name.from_text(str(name)).to_text()
        query = dns.message.make_query(text, rdtype)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        values = caa if rdtype == "CAA" else [served[text, rdtype]]
        response.answer.append(dns.rrset.from_text_list(text, 300, "IN", rdtype, values))
        return dns.message.from_wire(response.to_wire())  # as it comes over the network

    monkeypatch.setattr(verify, "ask", ask)
    assert verify.check_records(inventory, ZONE, "198.51.100.10") == []
    served[f"host.{ZONE}.", "SSHFP"] = f"4 2 {SHA256[:-1]}0"
    assert verify.check_records(inventory, ZONE, "198.51.100.10") == [
        f"host.{ZONE}. SSHFP: expected 4 2 {SHA256.lower()}, got 4 2 {SHA256.lower()[:-1]}0"
    ]


# --- record add | del | list ---------------------------------------------------------------

RECORDS_INVENTORY = """\
[servers.ns1]
address = "198.51.100.10"
[servers.ns2]
address = "198.51.100.11"

[zones."t.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."t.test".records]]
name = "child"
type = "NS"
value = "ns.other.test."
"""
SERIAL, TODAY_SERIAL = 2026112003, 2026112500


@pytest.fixture
def scene(monkeypatch, tmp_path):
    scene = Scene.editing(monkeypatch, tmp_path / "inventory.toml", RECORDS_INVENTORY)
    yield scene
    scene.fleet.verify()


def expect_the_change(scene: Scene) -> BindServer:
    """ns1 and ns2 serving the zone at SERIAL, then the run that changes it on both."""
    ns1 = scene.server(
        "ns1", files=configured_files(scene.inventory, {ZONE: "primary"}, SERIAL), dns_open=True
    )
    ns2 = scene.server(
        "ns2", files=configured_files(scene.inventory, {ZONE: "secondary"}, SERIAL), dns_open=True
    )
    ns2.host.dirs.add(ns2.layout.secondary_dir)
    ns1.preflight()
    ns2.preflight(writes=False)
    ns1.stage((ZONE,))
    ns1.activate()

    def reload_and_notify(call):
        result = ns1.on_rndc_reload(call, loads=True, fails=False)
        ns2.load()
        return result

    ns1.host.expect(("rndc", "reload"), respond=reload_and_notify)
    ns2.transferred(ZONE)
    return ns1


@pytest.mark.parametrize(
    ("name", "rtype", "value", "line"),
    [
        ("@", "caa", '0 issue "letsencrypt.org"', '@\tIN CAA 0 issue "letsencrypt.org"'),
        ("host", "SSHFP", f"4 2 {SHA256}", f"host\tIN SSHFP 4 2 {SHA256.lower()}"),
        ("_25._tcp.mail", "TLSA", f"3 1 1 {SHA256}", f"_25._tcp.mail\tIN TLSA 3 1 1 {SHA256.lower()}"),
        ("child", "DS", f"12345 13 2 {SHA256}", f"child\tIN DS 12345 13 2 {SHA256.lower()}"),
        ("bücher", "TXT", "books", f'{BUECHER}\tIN TXT "books"'),
    ],
)
def test_record_add_takes_each_new_type_to_both_servers(scene, name, rtype, value, line):
    ns1 = expect_the_change(scene)
    record_add(scene.session(), ZONE, name, rtype, value)
    zone_file = ns1.host.files[ns1.layout.primary_file(ZONE)]
    assert f"\n{line}\n" in zone_file
    assert scene.dns.zones("198.51.100.11") == {ZONE: TODAY_SERIAL}
    written = tomllib.loads(scene.path.read_text())["zones"][ZONE]["records"][-1]
    assert written == {"name": name, "type": rtype.upper(), "value": value}  # as given, Unicode too


@pytest.mark.parametrize(
    ("name", "rtype", "value", "message"),
    [
        ("www", "DS", f"12345 13 2 {SHA256}", "name: www.t.test. has no NS records in this zone: DS records"),
        ("@", "DS", f"12345 13 2 {SHA256}", "name: a DS record at the apex of t.test belongs in its parent"),
        (
            "@",
            "CAA",
            "0 issue ca.example",
            "value: '0 issue ca.example' is not a valid CAA value (the value goes in double",
        ),
        ("h", "TLSA", "3 1 1 abcd", "value: '3 1 1 abcd' is not a valid TLSA value: a SHA-256 digest"),
        ("b ü", "A", "198.51.100.1", "name: 'b ü' is not a valid internationalised name (IDNA 2008)"),
        (
            "h",
            "HINFO",
            '"pc" "linux"',
            "type: must be one of A, AAAA, CNAME, MX, TXT, PTR, SRV, NS, CAA, SSHFP",
        ),
    ],
)
def test_record_add_refuses_bad_input_naming_the_argument_and_touches_nothing(
    scene, name, rtype, value, message
):
    with pytest.raises(UsageError) as caught:
        record_add(scene.session(), ZONE, name, rtype, value)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)
    assert scene.path.read_text() == RECORDS_INVENTORY
    assert scene.fleet.connected == []


def test_record_del_and_list_know_the_new_types(scene):
    text = RECORDS_INVENTORY + "".join(
        f'\n[[zones."t.test".records]]\nname = "{name}"\ntype = "{rtype}"\nvalue = \'{value}\'\n'
        for name, rtype, value in (
            ("child", "DS", f"12345 13 2 {SHA256}"),
            ("@", "CAA", '0 issue "ca.example"'),
            ("bücher", "A", "198.51.100.1"),
        )
    )
    scene.path.write_text(text)
    scene.inventory = parse_inventory(tomllib.loads(text))
    listing = scene.session()
    record_list(listing, ZONE)
    assert [(r["name"], r["type"], r["value"]) for r in listing.report.data["records"]] == [
        (f"child.{ZONE}", "NS", "ns.other.test."),
        (f"child.{ZONE}", "DS", f"12345 13 2 {SHA256.lower()}"),
        (ZONE, "CAA", '0 issue "ca.example"'),
        (f"{BUECHER}.{ZONE}", "A", "198.51.100.1"),
    ]
    assert f"OK   {ZONE}" in scene.output and f'{ZONE}. CAA 0 issue "ca.example"' in scene.output

    with pytest.raises(UsageError, match=r"^t\.test has no record www\.t\.test\. DS in the inventory$"):
        record_del(scene.session(), ZONE, "www", "DS")
    ns1 = expect_the_change(scene)
    record_del(scene.session(), ZONE, "child", "DS")  # by name and type: no value needed
    assert "\tIN DS " not in ns1.host.files[ns1.layout.primary_file(ZONE)]
    assert 'type = "DS"' not in scene.path.read_text() and 'name = "bücher"' in scene.path.read_text()
