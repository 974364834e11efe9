"""TSIG keys, pure: the inventory's `tsig`, key files, generations, stanzas and plans that use them."""

from __future__ import annotations

import datetime as dt

import pytest

from dnsctl import namedconf, render, secrets, tsig
from dnsctl.errors import InventoryError, PreconditionError
from dnsctl.models import parse_inventory
from dnsctl.plan import HostPlan, plan_config
from dnsctl.platform import DEBIAN, RHEL

from .test_facts import DEBIAN_RELEASE

NS1, NS2 = "198.51.100.10", "198.51.100.11"
OLD = tsig.Key("example.com.20261125090000", "b2xkIHNlY3JldCBvbGQgc2VjcmV0IG9sZCBzZWNyZXQ=")
NEW = tsig.Key("example.com.20261125100000", "bmV3IHNlY3JldCBuZXcgc2VjcmV0IG5ldyBzZWNyZXQ=")
KEYGEN_OUTPUT = f'key "{NEW.name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{NEW.secret}";\n}};\n'


def inventory(tsig_setting=True, **zone):
    return parse_inventory(
        {
            "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
            "zones": {
                "example.com": {"primary": "ns1", "secondaries": ["ns2"], "tsig": tsig_setting, **zone},
                "example.net": {"primary": "ns1", "secondaries": ["ns2"]},
            },
        }
    )


# --- the inventory ------------------------------------------------------------------------


def test_tsig_true_names_the_key_after_the_zone_and_a_string_names_a_shared_one():
    assert inventory().tsig_key("example.com") == "example.com"
    assert inventory("Transfer.Example").tsig_key("example.com") == "transfer.example"
    assert inventory(False).tsig_key("example.com") is None
    assert inventory().tsig_key("example.net") is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (1, "must be true, false or the name of a key, not an integer (1)"),
        ("two words", "is not a valid DNS name"),
        ("a" * 60 + "." + "b" * 60 + "." + "c" * 60 + "." + "d" * 60, "leaves no room for the generation"),
    ],
)
def test_a_bad_key_name_is_one_line_naming_the_field(value, message):
    with pytest.raises(InventoryError) as caught:
        inventory(value)
    assert str(caught.value).startswith('inventory: zones."example.com".tsig: ')
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_derived_reverse_zone_shares_its_zone_s_key():
    derived = inventory(
        True, reverse=["198.51.100.0/24"], records=[{"name": "pc1", "type": "A", "value": "198.51.100.50"}]
    )
    assert derived.tsig_key("100.51.198.in-addr.arpa") == "example.com"
    assert inventory(False, reverse=["198.51.100.0/24"]).tsig_key("100.51.198.in-addr.arpa") is None


def test_zones_sharing_a_key_must_share_their_primary():
    raw = {
        "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
        "zones": {
            "a.test": {"primary": "ns1", "tsig": "shared"},
            "b.test": {"primary": "ns1", "tsig": "shared"},
            "c.test": {"primary": "ns2", "tsig": "shared"},
        },
    }
    with pytest.raises(InventoryError) as caught:
        parse_inventory(raw)
    assert str(caught.value) == (
        "inventory: zones.\"c.test\".tsig: key 'shared' is also the key of zone a.test, whose primary is "
        "ns1: zones sharing a key must share their primary"
    )


# --- keys and key files ---------------------------------------------------------------------


def test_a_key_as_tsig_keygen_prints_it_and_as_named_checkconf_prints_it():
    printed = f'key "{NEW.name}" {{\n\talgorithm "hmac-sha256";\n\tsecret "{NEW.secret}";\n}};\n'
    assert tsig.parse_keys(KEYGEN_OUTPUT) == tsig.parse_keys(printed) == {NEW.name: NEW}
    assert tsig.made_key(KEYGEN_OUTPUT, NEW.name) == NEW
    assert NEW.secret not in repr(NEW)


@pytest.mark.parametrize(
    "output",
    [
        KEYGEN_OUTPUT.replace(NEW.name, "other.name"),
        KEYGEN_OUTPUT.replace("hmac-sha256", "hmac-md5"),
        KEYGEN_OUTPUT.replace(NEW.secret, "c2hvcnQ="),
        "",
    ],
)
def test_a_made_key_must_be_the_one_asked_for(output):
    with pytest.raises(PreconditionError, match=f"making TSIG key {NEW.name} gave no hmac-sha256 key"):
        tsig.made_key(output, NEW.name)


def test_a_secret_that_is_not_base64_never_reaches_named_conf():
    with pytest.raises(PreconditionError, match="its value is not base64"):
        tsig.parse_keys('key "k" { algorithm hmac-sha256; secret "not base64!"; };')


def test_the_key_file_sorts_its_keys_and_says_who_reads_it():
    text = tsig.render_key_file([NEW, OLD])
    assert text.startswith(tsig.KEY_FILE_HEADER)
    assert text.index(OLD.name) < text.index(NEW.name)
    assert tsig.parse_keys(text) == {OLD.name: OLD, NEW.name: NEW}
    assert tsig.key_file(DEBIAN) == "/etc/bind/named.conf.dnsctl-keys"
    assert tsig.key_file(RHEL) == "/etc/named.dnsctl-keys.conf"


# --- generations ------------------------------------------------------------------------------


def test_generations_are_the_key_name_and_a_time_stamp():
    others = [tsig.Key("example.com", "eA=="), tsig.Key("example.com.2026", "eA=="), tsig.Key("x.1", "eA==")]
    assert tsig.generations([NEW, *others, OLD], "example.com") == [OLD, NEW]
    assert tsig.generation("example.com.20261125090000.20261125100000", "example.com") is None


def test_the_next_generation_is_now_or_after_the_newest_when_the_clock_is_behind():
    now = dt.datetime(2026, 11, 25, 11, 30, 5, tzinfo=dt.UTC)
    assert tsig.next_generation("example.com", [OLD, NEW], now) == "example.com.20261125113005"
    early = dt.datetime(2026, 11, 25, 9, 0, 0, tzinfo=dt.UTC)
    assert tsig.next_generation("example.com", [OLD, NEW], early) == "example.com.20261125100001"


def test_a_keyring_says_what_primaries_accept_and_secondaries_use():
    keyring = tsig.Keyring({"example.com": (OLD, NEW)}, {"example.com": NEW})
    assert keyring.transfer_keys("example.com") == [OLD.name, NEW.name]
    assert keyring.primary_key("example.com") == NEW.name
    assert keyring.transfer_keys(None) == [] and keyring.primary_key(None) is None
    with pytest.raises(PreconditionError, match="TSIG key other was not read from its primary"):
        keyring.primary_key("other")


# --- the key file a server needs --------------------------------------------------------------


def test_the_key_file_holds_exactly_the_keys_the_stanzas_name():
    keyring = tsig.Keyring({"example.com": (NEW,)}, {"example.com": NEW})
    carried = tsig.Key("shared.20261101000000", "c2hhcmVkIGtleSBzaGFyZWQga2V5IHNoYXJlZCBrZXk=")
    current = tsig.render_key_file([OLD, carried])
    stanzas = {
        "example.com": f'zone "example.com" {{\n\tallow-transfer {{ key "{NEW.name}"; }};\n}};\n',
        "example.org": f'zone "example.org" {{\n\tmasters {{ 192.0.2.1 key "{carried.name}"; }};\n}};\n',
    }
    text = tsig.key_file_text("ns1", current, stanzas, keyring)
    assert tsig.parse_keys(text) == {NEW.name: NEW, carried.name: carried}  # OLD is named nowhere now


def test_no_key_file_until_a_key_is_needed_and_an_empty_one_once_there():
    stanzas = {"example.net": 'zone "example.net" {\n\tallow-transfer { 198.51.100.11; };\n};\n'}
    assert tsig.key_file_text("ns1", None, stanzas, tsig.Keyring()) is None
    assert tsig.key_file_text("ns1", tsig.render_key_file([OLD]), stanzas, tsig.Keyring()) == (
        tsig.KEY_FILE_HEADER
    )


def test_a_key_named_without_its_secret_stops_the_run():
    stanzas = {"example.com": 'zone "example.com" {\n\tallow-transfer { key "lost.20260101000000"; };\n};\n'}
    with pytest.raises(PreconditionError, match="ns2: dnsctl's configuration names TSIG key lost"):
        tsig.key_file_text("ns2", None, stanzas, tsig.Keyring())


# --- stanzas ----------------------------------------------------------------------------------


def test_the_primary_transfers_only_to_holders_of_the_keys():
    stanza = render.primary_stanza(inventory(), "example.com", DEBIAN, transfer_keys=[OLD.name, NEW.name])
    assert f'\tallow-transfer {{ key "{OLD.name}"; key "{NEW.name}"; }};\n' in stanza
    assert "\talso-notify { 198.51.100.11; };\n" in stanza  # NOTIFY still goes to the addresses
    assert "\tallow-transfer { 198.51.100.11; };\n" in render.primary_stanza(
        inventory(), "example.com", DEBIAN
    )


def test_the_secondary_asks_its_primary_with_the_key():
    stanza = render.secondary_stanza(inventory(), "example.com", DEBIAN, primary_key=NEW.name)
    assert f'\tmasters {{ 198.51.100.10 key "{NEW.name}"; }};\n' in stanza
    assert tsig.masters_line(stanza) == f'\tmasters {{ 198.51.100.10 key "{NEW.name}"; }};'


# --- plans ------------------------------------------------------------------------------------


def host_plan(server: str, files: dict[str, str], keyring: tsig.Keyring) -> HostPlan:
    from dnsctl.facts.host import parse_host_facts

    facts = parse_host_facts(f"@@os-release\n{DEBIAN_RELEASE}@@named\nactive\n")
    address = NS1 if server == "ns1" else NS2
    return HostPlan(server, address, DEBIAN, facts, current=dict(files), keyring=keyring)


def test_a_secondary_plan_writes_the_key_file_first_private_and_proves_a_changed_key():
    inv = inventory()
    old_managed = render.render_managed(
        {"example.com": render.secondary_stanza(inv, "example.com", DEBIAN, primary_key=OLD.name)},
        [tsig.include_line(DEBIAN)],
    )
    files = {DEBIAN.managed_conf: old_managed, tsig.key_file(DEBIAN): tsig.render_key_file([OLD])}
    plan = host_plan("ns2", files, tsig.Keyring({"example.com": (OLD, NEW)}, {"example.com": NEW}))

    plan_config(inv, plan, {"example.com": "secondary"})

    paths = [change.path for change in plan.changes]
    key_change, managed_change = plan.changes[0], plan.changes[paths.index(DEBIAN.managed_conf)]
    assert key_change.path == tsig.key_file(DEBIAN) and key_change.mode == 0o640
    assert key_change.group == "bind"
    assert tsig.parse_keys(key_change.new) == {NEW.name: NEW}  # a secondary needs only the one it uses
    assert managed_change.path == DEBIAN.managed_conf
    assert f'include "{tsig.key_file(DEBIAN)}";' in managed_change.new
    assert plan.retransfer == ["example.com"]
    assert "force a transfer of example.com to prove it" in plan.actions()
    shown = secrets.mask(plan.diff())
    assert OLD.secret not in shown and NEW.secret not in shown
    assert f'-key "{OLD.name}" {{' in shown and f'+key "{NEW.name}" {{' in shown


def test_a_new_secondary_zone_is_not_forced_to_transfer_again():
    keyring = tsig.Keyring({"example.com": (NEW,)}, {"example.com": NEW})
    plan = host_plan("ns2", {}, keyring)
    plan_config(inventory(), plan, {"example.com": "secondary"})
    assert plan.retransfer == []


PRINTED_KEY = 'key "{name}" {{\n\talgorithm "hmac-sha256";\n\tsecret "{secret}";\n}};\n'
PRINTED_PRIMARY = """zone "example.com" {
\ttype primary;
\tfile "/var/lib/bind/example.com.db";
\tallow-query {
\t\tany;
\t};
\tallow-transfer {
\t\tkey "%s";
\t};
\tnotify explicit;
\tnotify-delay 0;
\talso-notify {
\t\t198.51.100.11;
\t};
};
"""


def test_named_must_load_the_planned_keys_and_the_zone_that_names_them():
    """The -p guard: the zone with its key, and each key statement exactly as planned."""
    keyring = tsig.Keyring({"example.com": (NEW,)}, {"example.com": NEW})
    expected = {
        "example.com": namedconf.expected_zone(inventory(), "example.com", "primary", DEBIAN, keyring)
    }
    keys = namedconf.expected_keys(tsig.render_key_file([NEW]))
    printed = PRINTED_KEY.format(name=NEW.name, secret=NEW.secret) + PRINTED_PRIMARY % NEW.name
    assert namedconf.compare((), namedconf.parse(printed), expected, NS1, {}, keys=keys) == []

    other_secret = PRINTED_KEY.format(name=NEW.name, secret=OLD.secret) + PRINTED_PRIMARY % NEW.name
    assert namedconf.compare((), namedconf.parse(other_secret), expected, NS1, {}, keys=keys) == [
        f'key "{NEW.name}": named would not load it once, as dnsctl planned'
    ]
    smuggled = printed + PRINTED_KEY.format(name="extra", secret=OLD.secret)
    problems = namedconf.compare((), namedconf.parse(smuggled), expected, NS1, {}, keys=keys)
    assert len(problems) == 1 and problems[0].startswith("named would load `key extra")
    old = namedconf.parse(PRINTED_KEY.format(name=OLD.name, secret=OLD.secret))
    dropped = frozenset([OLD.name])
    assert (
        namedconf.compare(old, namedconf.parse(printed), expected, NS1, {}, keys=keys, dropped_keys=dropped)
        == []
    )


def test_a_secondary_asks_its_primary_with_the_key_as_named_parses_it():
    keyring = tsig.Keyring({"example.com": (OLD, NEW)}, {"example.com": NEW})
    zone = namedconf.expected_zone(inventory(), "example.com", "secondary", DEBIAN, keyring)
    primaries = next(clause for clause in zone.block if clause.words == ("primaries",))
    assert primaries.text() == f"primaries {{ {NS1} key {NEW.name}; }}"
