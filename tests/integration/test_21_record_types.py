"""CAA, SSHFP, TLSA and DS records and a Unicode owner name on the lab: a zone of its own with one
of each, set up with init-primary and add-slave, is served exactly as written by both servers,
asked with dnspython at each server's address; `record add` of a CAA record reaches the
secondary; what is refused changes nothing."""

from __future__ import annotations

import json
import tomllib

import pytest

from .conftest import NS1, NS2, digest, dnsctl, dnsctl_ok, set_up
from .served import authoritative_answer, served_serial

pytestmark = pytest.mark.lab

ZONE = "rtypes.test"
SHA256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
DIGEST = "2BB183AF5F22588179A53B0A98631FAD1A292118D8E2C9BB6F3F2D38BA4DB62A"

ZONE_TOML = f"""
[zones."{ZONE}"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."{ZONE}".records]]
name = "@"
type = "CAA"
value = '0 issue "letsencrypt.org"'

[[zones."{ZONE}".records]]
name = "@"
type = "CAA"
value = '128 iodef "mailto:security@{ZONE}"'

[[zones."{ZONE}".records]]
name = "host"
type = "A"
value = "198.51.100.95"

[[zones."{ZONE}".records]]
name = "host"
type = "SSHFP"
value = "4 2 {SHA256}"

[[zones."{ZONE}".records]]
name = "_443._tcp.host"
type = "TLSA"
value = "3 1 1 {SHA256[:20]} {SHA256[20:]}"

[[zones."{ZONE}".records]]
name = "child"
type = "NS"
value = "ns.child"

[[zones."{ZONE}".records]]
name = "ns.child"
type = "A"
value = "198.51.100.96"

[[zones."{ZONE}".records]]
name = "child"
type = "DS"
value = "60485 13 2 {DIGEST}"

[[zones."{ZONE}".records]]
name = "bücher"
type = "A"
value = "198.51.100.97"

[[zones."{ZONE}".records]]
name = "www"
type = "CNAME"
value = "Bücher"
"""

# What each server must answer, written out here as dnspython prints it, not taken from dnsctl.
SERVED = {
    (ZONE, "CAA"): {'0 issue "letsencrypt.org"', f'128 iodef "mailto:security@{ZONE}"'},
    (f"host.{ZONE}", "SSHFP"): {f"4 2 {SHA256.lower()}"},
    (f"_443._tcp.host.{ZONE}", "TLSA"): {f"3 1 1 {SHA256.lower()}"},
    (f"child.{ZONE}", "DS"): {f"60485 13 2 {DIGEST.lower()}"},
    (f"xn--bcher-kva.{ZONE}", "A"): {"198.51.100.97"},
    (f"www.{ZONE}", "CNAME"): {f"xn--bcher-kva.{ZONE}."},
}


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("rtypes") / "rtypes.toml", extra=ZONE_TOML)
    set_up(path, ZONE)
    return path


@pytest.mark.parametrize("server", [NS1, NS2], ids=["primary", "secondary"])
def test_each_record_is_served_exactly(inventory, server):
    for (name, rdtype), values in SERVED.items():
        assert authoritative_answer(server, name, rdtype) == ("NOERROR", values), (
            f"{name} {rdtype} at {server}"
        )


def test_the_zone_files_hold_the_a_label_and_canonical_values(the_lab, inventory):
    primary = the_lab.read("ns1", f"/var/lib/bind/{ZONE}.db")
    assert "\nxn--bcher-kva\tIN A 198.51.100.97\n" in primary
    assert f"\n_443._tcp.host\tIN TLSA 3 1 1 {SHA256.lower()}\n" in primary
    assert "bücher" not in primary
    the_lab.exec("ns2", "test", "-s", f"/var/cache/bind/slaves/{ZONE}.db")


def test_status_finds_every_record_served_and_no_drift(inventory):
    """status reads the zone back by AXFR (dig prints hex in upper case, split): no drift."""
    dnsctl_ok("status", ZONE, inventory=inventory)


def test_record_add_of_a_caa_record_reaches_the_secondary(inventory):
    dnsctl_ok("record", "add", ZONE, "@", "CAA", '0 issuewild ";"', "--yes", inventory=inventory)
    for server in (NS1, NS2):
        assert authoritative_answer(server, ZONE, "CAA") == (
            "NOERROR",
            {*SERVED[ZONE, "CAA"], '0 issuewild ";"'},
        )
    records = tomllib.loads(inventory.read_text())["zones"][ZONE]["records"]
    assert records[-1] == {"name": "@", "type": "CAA", "value": '0 issuewild ";"'}


def test_record_list_shows_the_new_types(inventory):
    result = dnsctl_ok("--json", "record", "list", ZONE, inventory=inventory)
    listed = {(r["name"], r["type"], r["value"]) for r in json.loads(result.stdout)["records"]}
    expected = {(name, rdtype, value) for (name, rdtype), values in SERVED.items() for value in values}
    assert expected <= listed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("host", "DS", f"60485 13 2 {DIGEST}"), "name: host.rtypes.test. has no NS records in this zone"),
        (
            ("@", "CAA", "0 issue letsencrypt.org"),
            "value: '0 issue letsencrypt.org' is not a valid CAA value",
        ),
        (("host", "SSHFP", f"4 2 {SHA256[:-2]}"), "value: '4 2 9F86"),
        (("b ü", "A", "198.51.100.98"), "name: 'b ü' is not a valid internationalised name"),
    ],
)
def test_refused_input_changes_nothing(inventory, argv, message):
    before = digest(inventory), served_serial(NS1, ZONE), served_serial(NS2, ZONE)
    result = dnsctl("record", "add", ZONE, *argv, "--yes", inventory=inventory)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith(f"dnsctl: error: {message}") and result.stderr.count("\n") == 1
    assert (digest(inventory), served_serial(NS1, ZONE), served_serial(NS2, ZONE)) == before
