"""TSIG for a catalog and its members: the inventory's rule (one key for every member, or none),
what the primary and the consumers are given while the transfers move from one way to another,
the guard against moving them outside `catalog sync`, and what status and doctor read back."""

from __future__ import annotations

import copy
import datetime as dt
import re

import pytest

from dnsctl import catalog, namedconf, plan, render, tsig
from dnsctl.errors import InventoryError, PreconditionError
from dnsctl.facts.host import parse_host_facts
from dnsctl.facts.named_config import parse_named_config
from dnsctl.models import parse_inventory
from dnsctl.ops import keys
from dnsctl.ops import tsig as ops_tsig
from dnsctl.ops.converge import _refuse_catalog_transfers_taken
from dnsctl.platform import DEBIAN

from .conftest import TUTORIAL
from .simulated import DEBIAN_FILES, Scene, configured_files
from .test_facts import DEBIAN_HOST

NS1, NS2, NS3 = "198.51.100.10", "198.51.100.11", "198.51.100.12"
TODAY = dt.date(2026, 11, 25)
OLD = tsig.Key("transfer.20261125090000", "b2xkIHNlY3JldCBvbGQgc2VjcmV0IG9sZCBzZWNyZXQ=")
NEW = tsig.Key("transfer.20261125100000", "bmV3IHNlY3JldCBuZXcgc2VjcmV0IG5ldyBzZWNyZXQ=")
OPTIONS = "/etc/bind/named.conf.options"
MANAGED = DEBIAN.managed_conf
KEY_FILE = tsig.key_file(DEBIAN)


def catalog_inventory(**tsig_settings):
    """Two members on ns1, consumed by ns2 and ns3; tsig_settings: zone (with _ for .) -> tsig."""
    zones = {
        name: {"primary": "ns1", "secondaries": ["ns2", "ns3"], "allow_query": ["198.51.100.0/24"]}
        for name in ("a.test", "b.test")
    }
    for name, setting in tsig_settings.items():
        zones[name.replace("_", ".")]["tsig"] = setting
    return parse_inventory(
        {
            "catalog": "catalog.example",
            "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}, "ns3": {"address": NS3}},
            "zones": zones,
        }
    )


def refused(**tsig_settings) -> str:
    with pytest.raises(InventoryError) as caught:
        catalog_inventory(**tsig_settings)
    return str(caught.value)


# --- the inventory ------------------------------------------------------------------------


def test_members_sharing_one_key_sign_the_catalog_with_it():
    inventory = catalog_inventory(a_test="transfer", b_test="Transfer.")
    assert inventory.tsig_key("catalog.example") == "transfer"
    assert inventory.primary_of("catalog.example") == "ns1" and inventory.primary_of("a.test") == "ns1"
    assert catalog_inventory().tsig_key("catalog.example") is None


def test_a_single_member_with_tsig_true_and_its_derived_reverse_zone_share_one_key():
    raw = copy.deepcopy(TUTORIAL)
    raw["catalog"] = "catalog.example"
    del raw["zones"]["100.51.198.in-addr.arpa"]
    raw["zones"]["example.com"].update(tsig=True, reverse=["198.51.100.0/24"])
    inventory = parse_inventory(raw)
    assert inventory.catalog_members() == ["example.com", "100.51.198.in-addr.arpa"]
    assert inventory.tsig_key("catalog.example") == "example.com"


def test_a_member_without_the_key_is_refused_naming_its_field():
    message = refused(a_test="transfer")
    assert message == (
        'inventory: zones."b.test".tsig: the catalog\'s consumers ask for all members with one key: '
        "every member transfers with a.test's key 'transfer'; or set in_catalog = false"
    )
    assert refused(b_test="transfer").startswith(
        'inventory: zones."b.test".tsig: the catalog\'s consumers ask for all members with one key: '
        "a.test's transfers are not signed, so no member's can be"
    )


def test_tsig_true_on_each_member_names_two_keys_and_says_how_to_share_one():
    message = refused(a_test=True, b_test=True)
    assert 'zones."b.test".tsig' in message and 'give every member tsig = "a.test"' in message
    assert "\n" not in message


def test_a_zone_out_of_the_catalog_keeps_a_key_of_its_own():
    raw = {
        "catalog": "catalog.example",
        "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
        "zones": {
            "a.test": {"primary": "ns1", "secondaries": ["ns2"], "tsig": "transfer"},
            "b.test": {"primary": "ns1", "secondaries": ["ns2"], "tsig": True, "in_catalog": False},
        },
    }
    inventory = parse_inventory(raw)
    assert inventory.catalog_members() == ["a.test"] and inventory.tsig_key("b.test") == "b.test"


# --- the keyring while transfers move ------------------------------------------------------


def test_a_keyring_accepting_addresses_beside_a_key_or_retiring_one():
    turning_on = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW}, frozenset({"transfer"}))
    assert turning_on.transfer_keys("transfer") == [NEW.name] and turning_on.by_addresses("transfer")
    assert turning_on.primary_key("transfer") == NEW.name
    turning_off = tsig.Keyring(retiring=(OLD,))
    assert turning_off.transfer_keys(None) == [OLD.name] and turning_off.by_addresses(None)
    assert turning_off.primary_key(None) is None and turning_off.known() == {OLD.name: OLD}
    settled = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW})
    assert not settled.by_addresses("transfer") and settled.transfer_keys(None) == []


def test_allow_transfer_lists_addresses_keys_or_both():
    assert render.transfer_acl([NS2], []) == [NS2]
    assert render.transfer_acl([NS2], [NEW.name]) == [f'key "{NEW.name}"']
    assert render.transfer_acl([NS2], [NEW.name], by_address=True) == [NS2, f'key "{NEW.name}"']


# --- what the primary and the consumers carry -------------------------------------------------


def test_the_catalog_on_its_primary_transfers_to_holders_of_the_key():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    stanza = catalog.primary_stanza(inventory, DEBIAN, ["a.test"], transfer_keys=[NEW.name])
    assert f'\tallow-transfer {{ key "{NEW.name}"; }};' in stanza
    assert f"\talso-notify {{ {NS2}; {NS3}; }};" in stanza  # NOTIFY still goes to the addresses
    both = catalog.primary_stanza(inventory, DEBIAN, ["a.test"], transfer_keys=[NEW.name], by_address=True)
    assert f'\tallow-transfer {{ {NS2}; {NS3}; key "{NEW.name}"; }};' in both
    assert catalog.accepted(stanza) == catalog.Accepted(False, (NEW.name,))
    assert catalog.accepted(both) == catalog.Accepted(True, (NEW.name,))
    assert catalog.accepted(catalog.primary_stanza(inventory, DEBIAN, [])) == catalog.Accepted(True, ())
    assert catalog.accepted(None) is None


def test_a_consumer_asks_for_the_catalog_and_every_member_with_the_key():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    stanza = catalog.consumer_stanza(inventory, DEBIAN, NEW.name)
    assert f'\tmasters {{ {NS1} key "{NEW.name}"; }};' in stanza
    block = catalog.catalog_zones_block(inventory, DEBIAN, (9, 18), NEW.name)
    assert f'zone "catalog.example" default-primaries {{ {NS1} key "{NEW.name}"; }} zone-directory' in block
    older = catalog.catalog_zones_block(inventory, DEBIAN, (9, 16), NEW.name)
    assert f'default-masters {{ {NS1} key "{NEW.name}"; }}' in older
    assert catalog.consumer_stanza(catalog_inventory(), DEBIAN).count("key") == 0


def host_plan(server: str, files: dict[str, str], keyring: tsig.Keyring) -> plan.HostPlan:
    host_facts = parse_host_facts(DEBIAN_HOST + "@@named-version\nBIND 9.18.49\n")
    address = {"ns1": NS1, "ns2": NS2, "ns3": NS3}[server]
    return plan.HostPlan(server, address, DEBIAN, host_facts, current=dict(files), keyring=keyring)


def consumer_files(inventory, key: str | None, keys: list[tsig.Key]) -> dict[str, str]:
    """A consumer as dnsctl left it, asking with key."""
    files = dict(DEBIAN_FILES)
    block = catalog.catalog_zones_block(inventory, DEBIAN, (9, 18), key)
    files[OPTIONS] = catalog.ensure_catalog_zones(files[OPTIONS], block, OPTIONS)
    stanzas = {"catalog.example": catalog.consumer_stanza(inventory, DEBIAN, key)}
    files[MANAGED] = render.render_managed(stanzas, [tsig.include_line(DEBIAN)] if keys else [])
    if keys:
        files[KEY_FILE] = tsig.render_key_file(keys)
    return files


def test_a_consumer_moving_to_a_new_key_holds_both_and_transfers_the_catalog_again():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    both = tsig.Keyring({"transfer": (OLD, NEW)}, {"transfer": NEW})
    moving = host_plan("ns2", consumer_files(inventory, OLD.name, [OLD]), both)
    plan.plan_server(inventory, moving, {"catalog.example": "consumer"}, {}, TODAY)
    files = {change.path: change.new for change in moving.changes}
    # The members still ask with the old key until named reads the catalog again.
    assert set(tsig.parse_keys(files[KEY_FILE])) == {OLD.name, NEW.name}
    assert f'default-primaries {{ {NS1} key "{NEW.name}"; }}' in files[OPTIONS]
    assert f'masters {{ {NS1} key "{NEW.name}"; }};' in files[MANAGED]
    assert moving.retransfer == ["catalog.example"]
    assert moving.consumes == ("catalog.example", NS1, NEW.name)

    only_new = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW})
    done = host_plan("ns2", {**moving.current, **files}, only_new)
    plan.plan_server(inventory, done, {"catalog.example": "consumer"}, {}, TODAY)
    assert [change.path for change in done.changes] == [KEY_FILE]
    assert set(tsig.parse_keys(done.changes[0].new)) == {NEW.name} and done.retransfer == []


def test_a_consumer_turning_tsig_off_keeps_the_old_key_until_the_last_step():
    inventory = catalog_inventory()
    files = consumer_files(inventory, OLD.name, [OLD])
    retiring = host_plan("ns2", files, tsig.Keyring(retiring=(OLD,)))
    plan.plan_server(inventory, retiring, {"catalog.example": "consumer"}, {}, TODAY)
    changed = {change.path: change.new for change in retiring.changes}
    assert KEY_FILE not in changed  # still held: the members ask with it until named reads the catalog
    assert f"default-primaries {{ {NS1}; }}" in changed[OPTIONS]
    assert f"masters {{ {NS1}; }};" in changed[MANAGED] and retiring.retransfer == ["catalog.example"]


def primary_files(inventory, keyring: tsig.Keyring) -> dict[str, str]:
    """ns1 with the members and the catalog as dnsctl writes them with keyring."""
    wants = {"a.test": "primary", "b.test": "primary"}
    files = configured_files(inventory, wants, 2026112500)
    host = host_plan("ns1", files, keyring)
    plan.plan_server(inventory, host, {**wants, "catalog.example": "catalog"}, {}, TODAY)
    return {**files, **{change.path: change.new for change in host.changes}}


def test_the_primary_accepts_the_consumers_addresses_beside_the_key_while_tsig_is_turned_on():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    turning_on = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW}, frozenset({"transfer"}))
    stanzas = render.parse_managed(primary_files(inventory, turning_on)[MANAGED])
    for zone in ("a.test", "b.test", "catalog.example"):
        assert f'\tallow-transfer {{ {NS2}; {NS3}; key "{NEW.name}"; }};' in stanzas[zone], zone


def test_the_guard_refuses_taking_away_what_the_consumers_ask_with():
    unsigned, signed = catalog_inventory(), catalog_inventory(a_test="transfer", b_test="transfer")
    by_address = primary_files(unsigned, tsig.Keyring())
    only_key = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW})
    wants = {"a.test": "primary", "b.test": "primary", "catalog.example": "catalog"}

    jump = host_plan("ns1", by_address, only_key)
    plan.plan_server(signed, jump, wants, {}, TODAY)
    with pytest.raises(PreconditionError) as caught:
        _refuse_catalog_transfers_taken(signed, jump)
    assert str(caught.value) == (
        "ns1: the catalog catalog.example would stop accepting transfers from the consumers' addresses, "
        "which its consumers ask with now: run `dnsctl catalog sync`, which moves them in steps that "
        "leave no moment without a transfer"
    )

    both = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW}, frozenset({"transfer"}))
    step_one = host_plan("ns1", by_address, both)
    plan.plan_server(signed, step_one, wants, {}, TODAY)
    _refuse_catalog_transfers_taken(signed, step_one)  # adds a way, takes none

    rotated = host_plan(
        "ns1", primary_files(signed, tsig.Keyring({"transfer": (OLD,)}, {"transfer": OLD})), only_key
    )
    plan.plan_server(signed, rotated, wants, {}, TODAY)
    with pytest.raises(
        PreconditionError, match=f"stop accepting transfers signed with key {re.escape(OLD.name)},"
    ):
        _refuse_catalog_transfers_taken(signed, rotated)

    fresh = host_plan("ns1", configured_files(signed, {"a.test": "primary"}, 2026112500), only_key)
    plan.plan_server(signed, fresh, wants, {}, TODAY)
    _refuse_catalog_transfers_taken(signed, fresh)  # no catalog yet: nobody consumes it


# --- named's view: the -p guard, status and doctor ---------------------------------------------


def named_view(text: str) -> tuple:
    return namedconf.parse(re.sub(r"//[^\n]*", "", text))


def test_the_p_guard_takes_the_consumer_s_key_as_planned_and_no_other():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    keyring = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW})
    before = named_view(DEBIAN_FILES[OPTIONS])
    files = consumer_files(inventory, NEW.name, [NEW])
    after = named_view(files[OPTIONS] + catalog.consumer_stanza(inventory, DEBIAN, NEW.name))
    expected = {"catalog.example": namedconf.expected_catalog(inventory, "consumer", DEBIAN, [], keyring)}
    planned = ("catalog.example", NS1, NEW.name)
    assert namedconf.compare(before, after, expected, NS2, {}, consumes=planned) == []
    problems = namedconf.compare(
        before, after, expected, NS2, {}, consumes=("catalog.example", NS1, OLD.name)
    )
    assert any("not the catalog-zones statement dnsctl planned" in problem for problem in problems)
    unsigned = named_view(consumer_files(inventory, None, [])[OPTIONS]) + after[1:]
    problems = namedconf.compare(before, unsigned, expected, NS2, {}, consumes=planned)
    assert any("not the catalog-zones statement dnsctl planned" in problem for problem in problems)


def test_the_p_guard_takes_the_primary_s_catalog_accepting_both_ways():
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    keyring = tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW}, frozenset({"transfer"}))
    stanza = catalog.primary_stanza(inventory, DEBIAN, ["a.test"], transfer_keys=[NEW.name], by_address=True)
    expected = {
        "catalog.example": namedconf.expected_catalog(inventory, "catalog", DEBIAN, ["a.test"], keyring)
    }
    assert namedconf.compare((), named_view(stanza), expected, NS1, {}) == []
    only_key = catalog.primary_stanza(inventory, DEBIAN, ["a.test"], transfer_keys=[NEW.name])
    assert namedconf.compare((), named_view(only_key), expected, NS1, {})


PRINTED_CONSUMER = """options {
\tdirectory "/var/cache/bind";
\tcatalog-zones {
\t\tzone "catalog.example" default-primaries {
\t\t\t198.51.100.10 key "transfer.20261125100000";
\t\t} zone-directory "/var/cache/bind/slaves/catalog" in-memory no min-update-interval 1;
\t};
};
zone "catalog.example" {
\ttype secondary;
\tfile "/var/cache/bind/slaves/catalog.example.db";
\tprimaries {
\t\t198.51.100.10 key "transfer.20261125100000";
\t};
};
"""


def test_status_and_doctor_ask_for_a_member_with_the_key_of_its_catalog():
    config = parse_named_config(PRINTED_CONSUMER)
    assert config.primary_key("a.test", "catalog.example", NS1) == NEW.name
    assert config.primary_key("a.test", None, NS1) is None  # not a member: no stanza, no key
    assert config.primary_key("catalog.example", None, NS1) == NEW.name
    unsigned = parse_named_config(PRINTED_CONSUMER.replace(' key "transfer.20261125100000"', ""))
    assert unsigned.primary_key("a.test", "catalog.example", NS1) is None


# --- when catalog sync moves the transfers, and to what ---------------------------------------


@pytest.fixture
def settle(monkeypatch):
    """settle_catalog_transfers with the primary's stanza and key file given, and the move recorded."""
    made = tsig.Key("transfer.20261125120000", "bWFkZSBzZWNyZXQgbWFkZSBzZWNyZXQgbWFkZSBzZWNyZXQ=")
    moves: list[tuple] = []

    def run(inventory, accepted: catalog.Accepted | None, held: list[tsig.Key]) -> list[tuple]:
        monkeypatch.setattr(ops_tsig, "catalog_accepts", lambda session, primary: accepted)
        monkeypatch.setattr(keys, "held_keys", lambda session, server: {key.name: key for key in held})
        monkeypatch.setattr(keys, "make_key", lambda session, server, name: made)
        monkeypatch.setattr(ops_tsig, "move_transfers", lambda session, *args: moves.append(args))
        scene = Scene(monkeypatch, inventory)
        for server in inventory.servers:
            scene.fleet.host(server)
        session = scene.session()
        assert ops_tsig.settle_catalog_transfers(session) is bool(moves)
        return moves

    run.made = made
    return run


def test_sync_sets_up_a_new_catalog_as_the_inventory_says(settle):
    assert settle(catalog_inventory(a_test="transfer", b_test="transfer"), None, []) == []


def test_sync_leaves_settled_transfers_alone(settle):
    signed = catalog_inventory(a_test="transfer", b_test="transfer")
    assert settle(signed, catalog.Accepted(False, (NEW.name,)), [NEW]) == []
    assert settle(catalog_inventory(), catalog.Accepted(True, ()), []) == []


def test_sync_turns_tsig_on_with_the_addresses_accepted_until_the_last_step(settle):
    ((members, both, final, new, old, asking),) = settle(
        catalog_inventory(a_test="transfer", b_test="transfer"), catalog.Accepted(True, ()), []
    )
    made = settle.made
    assert members == ["a.test", "b.test"]
    assert both == tsig.Keyring({"transfer": (made,)}, {"transfer": made}, frozenset({"transfer"}))
    assert final == tsig.Keyring({"transfer": (made,)}, {"transfer": made})
    assert (new, old, asking) == (f"key {made.name}", "the consumers' addresses", f"with key {made.name}")


def test_sync_moves_to_another_key_accepting_both_until_the_last_step(settle):
    other = tsig.Key("old-key.20261125090000", OLD.secret)
    ((_, both, final, new, old, asking),) = settle(
        catalog_inventory(a_test="transfer", b_test="transfer"),
        catalog.Accepted(False, (other.name,)),
        [other, NEW],
    )
    assert both == tsig.Keyring({"transfer": (other, NEW)}, {"transfer": NEW})
    assert final == tsig.Keyring({"transfer": (NEW,)}, {"transfer": NEW})
    assert (new, old, asking) == (f"key {NEW.name}", f"key {other.name}", f"with key {NEW.name}")


def test_sync_turns_tsig_off_retiring_the_key_in_the_last_step(settle):
    ((_, both, final, new, old, asking),) = settle(
        catalog_inventory(), catalog.Accepted(False, (OLD.name,)), [OLD]
    )
    assert both == tsig.Keyring(retiring=(OLD,)) and final == tsig.Keyring()
    assert (new, old, asking) == ("the consumers' addresses", f"key {OLD.name}", "without a key")


def test_rotate_refuses_while_the_catalog_still_accepts_the_addresses(monkeypatch):
    inventory = catalog_inventory(a_test="transfer", b_test="transfer")
    monkeypatch.setattr(
        ops_tsig, "catalog_accepts", lambda session, primary: catalog.Accepted(True, (NEW.name,))
    )
    monkeypatch.setattr(keys, "held_keys", lambda session, server: {NEW.name: NEW})
    scene = Scene(monkeypatch, inventory)
    for server in inventory.servers:
        scene.fleet.host(server)
    with pytest.raises(PreconditionError, match="run `dnsctl catalog sync` to finish moving them first"):
        ops_tsig.tsig_rotate(scene.session(), "catalog.example")
