"""TSIG through the engine, on simulated hosts: keys made on the primary and installed on the
secondaries, a second run that plans nothing, tsig turned on for a zone in service, and
`tsig rotate` with every transfer of the way succeeding, also when it stops half-way.

The simulated secondary transfers only when the primary's allow-transfer names the key it
asks with and both hold the same secret; each transfer it made is in BindServer.transfers.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dnsctl import apply, render, tsig
from dnsctl.errors import PreconditionError, RolledBack
from dnsctl.models import parse_inventory
from dnsctl.ops import add_slave, init_primary, keys, tsig_rotate
from dnsctl.ops.tsig import key_and_zones
from dnsctl.platform import DEBIAN
from dnsctl.report import Report

from .fakes import exactly
from .simulated import Scene, configured_files

NS1, NS2 = "198.51.100.10", "198.51.100.11"
ZONE = "example.com"
SERIAL = 2026112500
KEY_FILE = "/etc/bind/named.conf.dnsctl-keys"
MANAGED = "/etc/bind/named.conf.dnsctl"
FIRST = "example.com.20261125090000"  # made at 09:00 UTC
SECOND = "example.com.20261125100000"  # and at 10:00


def inventory(tsig_setting=True):
    return parse_inventory(
        {
            "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
            "zones": {
                ZONE: {
                    "primary": "ns1",
                    "secondaries": ["ns2"],
                    "tsig": tsig_setting,
                    "records": [{"name": "pc1", "type": "A", "value": "198.51.100.50"}],
                }
            },
        }
    )


@pytest.fixture
def clock(monkeypatch):
    """keys.now(), set by the test."""
    now = {"time": dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)}
    monkeypatch.setattr(keys, "now", lambda: now["time"])
    return now


@pytest.fixture
def scene(monkeypatch, clock):
    scene = Scene(monkeypatch, inventory())
    yield scene
    scene.fleet.verify()


def set_up_with_tsig(scene: Scene):
    """add-slave on fresh hosts: ns1 makes the key, ns2 gets it and transfers with it."""
    ns1, ns2 = scene.server("ns1", dns_open=True), scene.server("ns2", dns_open=True)
    ns1.read_keys(make=True)
    ns1.preflight()
    ns2.preflight()
    ns1.stage((ZONE,))
    ns2.stage(create_dir=True)
    ns1.activate()
    ns1.reload()
    ns2.activate()
    ns2.reload()
    ns2.transferred(ZONE)
    add_slave(scene.session(), ZONE)
    return ns1, ns2


def secret_of(server, name: str) -> str:
    return tsig.parse_keys(server.host.files[KEY_FILE])[name].secret


def test_add_slave_makes_the_key_on_the_primary_and_installs_it_on_the_secondary(scene):
    ns1, ns2 = set_up_with_tsig(scene)

    assert set(tsig.parse_keys(ns1.host.files[KEY_FILE])) == {FIRST}
    assert secret_of(ns1, FIRST) == secret_of(ns2, FIRST)
    assert ns1.modes[KEY_FILE] == ns2.modes[KEY_FILE] == ("root", "bind", 0o640)
    for server in (ns1, ns2):  # no file that held the secret was ever readable by others
        writes = [call for call in server.host.calls if call.words[:3] == ("sh", "-c", apply.WRITE_SCRIPT)]
        secret = secret_of(ns1, FIRST)
        private = [int(call.words[6], 8) & 0o007 == 0o007 for call in writes if secret in (call.input or "")]
        assert private and all(private)
    assert f'\tallow-transfer {{ key "{FIRST}"; }};' in ns1.host.files[MANAGED]
    assert f'\tmasters {{ {NS1} key "{FIRST}"; }};' in ns2.host.files[MANAGED]
    assert f'include "{KEY_FILE}";' in ns1.host.files[MANAGED]
    assert ns2.transfers == [f"{ZONE} with {FIRST}"]
    assert scene.dns.zones(NS2) == {ZONE: SERIAL}
    # The secret was made on ns1 and travelled only as file content: never in a command.
    for server in (ns1, ns2):
        assert not any(secret_of(ns1, FIRST) in str(call) for call in server.host.calls)
    assert f"new TSIG key {FIRST}" in scene.output
    assert secret_of(ns1, FIRST) not in scene.output


def test_a_second_run_plans_nothing(scene):
    ns1, ns2 = set_up_with_tsig(scene)
    files = (dict(ns1.host.files), dict(ns2.host.files))
    ns1.read_keys()
    ns1.preflight(writes=False)
    ns2.preflight(writes=False)
    ns2.transferred(ZONE)

    add_slave(scene.session(), ZONE)

    assert (ns1.host.files, ns2.host.files) == files
    assert "ns1                   plan: no changes" in scene.output
    assert "ns2                   plan: no changes" in scene.output


def test_tsig_turned_on_for_a_zone_in_service(scene, monkeypatch):
    unsigned = inventory(False)
    ns1 = scene.server("ns1", files=configured_files(unsigned, {ZONE: "primary"}, SERIAL), dns_open=True)
    ns2 = scene.server("ns2", files=configured_files(unsigned, {ZONE: "secondary"}, SERIAL), dns_open=True)
    ns2.host.dirs.add(DEBIAN.secondary_dir)
    assert ns2.transfers == [f"{ZONE} with no key"]
    ns1.read_keys(make=True)
    ns1.preflight()
    ns2.preflight()
    ns1.stage()
    ns2.stage()
    ns1.activate()
    ns1.reload()
    ns2.activate()
    ns2.reload()
    ns2.retransfer(ZONE)
    ns2.transferred(ZONE)

    add_slave(scene.session(), ZONE)

    assert ns2.transfers[-1] == f"{ZONE} with {FIRST}"
    assert f"force a transfer of {ZONE} with key {FIRST}" in scene.output
    assert "plan: create /etc/bind/named.conf.dnsctl-keys; update /etc/bind/named.conf.dnsctl" in scene.output


def test_init_primary_alone_makes_the_key_and_accepts_only_it(scene):
    ns1 = scene.server("ns1", dns_open=True)
    ns1.read_keys(make=True)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()

    init_primary(scene.session(), ZONE)

    assert scene.dns.transfer_keys[NS1, ZONE] == {FIRST: secret_of(ns1, FIRST)}


def expect_rotation(ns1, ns2, *, make: bool = True) -> None:
    """The commands of a whole rotation, step by step; make=False: ns1 already accepts both keys."""
    expect_rotation_until_the_last_transfer(ns1, ns2, make=make)
    ns2.retransfer(ZONE)
    ns2.transferred(ZONE)


def expect_rotation_until_the_last_transfer(ns1, ns2, *, make: bool = True) -> None:
    """A rotation's commands up to ns1 accepting only the new key, before step 3's forced transfer."""
    ns1.read_keys(make=make)
    # 1: ns1 accepts both
    ns1.preflight(writes=make)
    if make:
        ns1.stage()
        ns1.activate()
        ns1.reload()
    # 2: ns2 asks with the new one, proven by a forced transfer
    ns2.preflight()
    ns2.stage()
    ns2.activate()
    ns2.reload()
    ns2.retransfer(ZONE)
    ns2.transferred(ZONE)
    # 3: ns1 accepts only the new one; ns2, made to transfer again, is in sync
    ns1.preflight()
    ns2.preflight(writes=False)
    ns1.stage()
    ns1.activate()
    ns1.reload()


def test_rotate_replaces_the_key_with_every_transfer_succeeding(scene, clock):
    ns1, ns2 = set_up_with_tsig(scene)
    old_secret = secret_of(ns1, FIRST)
    clock["time"] = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    expect_rotation(ns1, ns2)

    tsig_rotate(scene.session(), ZONE)

    assert set(tsig.parse_keys(ns1.host.files[KEY_FILE])) == {SECOND}
    assert set(tsig.parse_keys(ns2.host.files[KEY_FILE])) == {SECOND}
    assert scene.dns.transfer_keys[NS1, ZONE] == {SECOND: secret_of(ns1, SECOND)}
    assert f'\tmasters {{ {NS1} key "{SECOND}"; }};' in ns2.host.files[MANAGED]
    assert not [transfer for transfer in ns2.transfers if "refused" in transfer]
    assert ns2.transfers[-2:] == [f"{ZONE} with {SECOND}"] * 2
    output = scene.output
    assert f"rotate TSIG key example.com: {FIRST} -> {SECOND}" in output
    assert output.index("step 1 of 3") < output.index("step 2 of 3") < output.index("step 3 of 3")
    assert old_secret not in output and secret_of(ns1, SECOND) not in output


def test_rotate_by_the_name_of_a_shared_key(monkeypatch, clock):
    shared = parse_inventory(
        {
            "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
            "zones": {
                name: {"primary": "ns1", "secondaries": ["ns2"], "tsig": "transfer"}
                for name in ("a.test", "b.test")
            },
        }
    )
    session = Scene(monkeypatch, shared).session()
    assert key_and_zones(session, "transfer") == ("transfer", ["a.test", "b.test"])
    assert key_and_zones(session, "B.test.") == ("transfer", ["a.test", "b.test"])


def test_a_secondary_that_cannot_transfer_with_the_new_key_goes_back_to_the_old_one(scene, clock):
    ns1, ns2 = set_up_with_tsig(scene)
    clock["time"] = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    ns1.read_keys(make=True)
    ns1.preflight()
    ns1.stage()
    ns1.activate()
    ns1.reload(loads=False)  # named keeps the old configuration: it never accepts the new key
    ns2.preflight()
    ns2.stage()
    ns2.activate()
    ns2.reload()
    ns2.retransfer(ZONE)
    ns2.roll_back()

    with pytest.raises(RolledBack, match=f"the forced transfer of {ZONE} with key {SECOND} did not complete"):
        tsig_rotate(scene.session(timeout=0.3), ZONE)

    assert f'\tmasters {{ {NS1} key "{FIRST}"; }};' in ns2.host.files[MANAGED]
    assert set(tsig.parse_keys(ns2.host.files[KEY_FILE])) == {FIRST}
    ns2.load()  # named on ns2 transfers with the old key again
    assert ns2.transfers[-1] == f"{ZONE} with {FIRST}"
    # ns1 still accepts both: running the rotation again finishes it
    assert set(tsig.parse_keys(ns1.host.files[KEY_FILE])) == {FIRST, SECOND}


def test_a_rotation_that_stopped_half_way_is_finished_without_a_new_key(scene, clock):
    ns1, ns2 = set_up_with_tsig(scene)
    first = tsig.parse_keys(ns1.host.files[KEY_FILE])[FIRST]
    second = tsig.Key(SECOND, "c2Vjb25kIHNlY3JldCBzZWNvbmQgc2VjcmV0IHNlY29uZA==")
    both = tsig.Keyring({ZONE: (first, second)}, {ZONE: first})
    ns1.host.files[KEY_FILE] = tsig.render_key_file([first, second])
    ns1.host.files[MANAGED] = render.render_managed(
        {ZONE: render.primary_stanza(scene.inventory, ZONE, DEBIAN, transfer_keys=both.transfer_keys(ZONE))},
        [tsig.include_line(DEBIAN)],
    )
    ns1.load()
    expect_rotation(ns1, ns2, make=False)

    tsig_rotate(scene.session(), ZONE)

    assert f"finishing: {FIRST} -> {SECOND}" in scene.output
    assert set(tsig.parse_keys(ns2.host.files[KEY_FILE])) == {SECOND}
    assert set(tsig.parse_keys(ns1.host.files[KEY_FILE])) == {SECOND}


def test_rotate_dry_run_changes_nothing_and_shows_no_secret(scene, clock):
    ns1, ns2 = set_up_with_tsig(scene)
    files = (dict(ns1.host.files), dict(ns2.host.files))
    clock["time"] = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    ns1.read_keys(make=True)
    ns1.preflight()
    ns2.preflight()

    tsig_rotate(scene.session(dry_run=True), ZONE)

    assert (ns1.host.files, ns2.host.files) == files
    output = scene.output
    assert f'+key "{SECOND}" {{' in output and '+\tsecret "<hidden>";' in output
    assert "step 3 of 3 (then)" in output
    assert secret_of(ns1, FIRST) not in output
    assert "secret" not in output.replace('secret "<hidden>"', "")


def test_json_carries_no_secret(scene, clock):
    ns1, ns2 = set_up_with_tsig(scene)
    clock["time"] = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    expect_rotation(ns1, ns2)
    session = scene.session()
    session.report = Report("tsig rotate", json_mode=True, out=scene.out)
    tsig_rotate(session, ZONE)
    document = json.dumps(session.report.document(ok=True))
    assert secret_of(ns1, SECOND) not in document and FIRST in document
    steps = session.report.data["rotation"]
    assert [step["step"] for step in steps] == [1, 2, 3]
    assert f'+key \\"{SECOND}\\"' in json.dumps(steps[1]["plan"]["ns2"]["diff"])
    assert session.report.data["tsig"] == {"key": ZONE, "old": [FIRST], "new": SECOND}


def test_rotate_before_the_key_exists_says_what_to_run(scene):
    ns1, _ = scene.server("ns1"), scene.server("ns2")
    ns1.read_keys()
    with pytest.raises(
        PreconditionError, match=r"ns1 holds no TSIG key example\.com yet: run `dnsctl add-slave"
    ):
        tsig_rotate(scene.session(), ZONE)


def test_a_secondary_that_cannot_prove_the_new_key_in_the_last_step_rolls_it_back(scene, clock):
    """Step 3's forced transfers are part of its change: one that does not come makes the
    primary accept both keys again, so the rotation can be run again."""
    ns1, ns2 = set_up_with_tsig(scene)
    clock["time"] = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    expect_rotation_until_the_last_transfer(ns1, ns2)
    path = DEBIAN.secondary_file(ZONE)
    ns2.host.expect(exactly("stat", "-c", "%y", "--", path), respond=ns2.on_stat)
    ns2.host.expect(exactly("rndc", "retransfer", ZONE))  # named says yes, and no transfer comes
    ns2.host.allow(exactly("stat", "-c", "%y", "--", path), respond=ns2.on_stat)
    ns1.roll_back()

    with pytest.raises(RolledBack, match=f"the forced transfer of {ZONE} with key {SECOND} did not complete"):
        tsig_rotate(scene.session(timeout=0.3), ZONE)

    assert set(tsig.parse_keys(ns1.host.files[KEY_FILE])) == {FIRST, SECOND}  # both accepted again
    assert scene.dns.transfer_keys[NS1, ZONE] == {
        FIRST: secret_of(ns1, FIRST),
        SECOND: secret_of(ns1, SECOND),
    }
    assert f'\tmasters {{ {NS1} key "{SECOND}"; }};' in ns2.host.files[MANAGED]
