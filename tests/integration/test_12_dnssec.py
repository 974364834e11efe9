"""DNSSEC through dnsctl: signed on the primary, transferred signed to the secondary.

Signatures are checked here without dnsctl: dnspython asks each server by address
for the DNSKEY RRset and the records with their RRSIGs, and validates them with
dns.dnssec.validate against the DNSKEYs the server itself serves.
"""

from __future__ import annotations

import time

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, interrupt_at, set_up, with_record

pytestmark = pytest.mark.lab

SIGNED = """
[zones."signed.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]
dnssec = true

[[zones."signed.test".records]]
name = "www"
type = "A"
value = "198.51.100.70"

[[zones."signed.test".records]]
name = "@"
type = "MX"
value = "10 mail"

[[zones."signed.test".records]]
name = "mail"
type = "A"
value = "198.51.100.71"

[[zones."signed.test".records]]
name = "sub"
type = "NS"
value = "ns.sub"

[[zones."signed.test".records]]
name = "ns.sub"
type = "A"
value = "198.51.100.72"

[dnssec_policies.strong]
algorithm = "ecdsap384sha384"
zsk_lifetime = "P60D"
nsec3 = true

[zones."nsec3.test"]
primary = "ns1"
secondaries = ["ns2"]
dnssec = "strong"

[[zones."nsec3.test".records]]
name = "host"
type = "A"
value = "198.51.100.73"
"""

KEY_DIR = "/var/lib/bind/keys"


def ask(server: str, name: str, rdtype: str) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, want_dnssec=True)
    query.flags &= ~dns.flags.RD
    response = dns.query.udp(query, server, timeout=3)
    if response.flags & dns.flags.TC:
        response = dns.query.tcp(query, server, timeout=3)
    return response


def validated(server: str, zone: str, names: list[tuple[str, str]]) -> dict[str, object]:
    """Validate the DNSKEY RRset and each (name, type) against the DNSKEYs the server serves.

    Raises dns.dnssec.ValidationFailure (or KeyError for a missing RRset) on any problem.
    """
    origin = dns.name.from_text(zone)
    response = ask(server, zone, "DNSKEY")
    dnskeys = response.find_rrset(response.answer, origin, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    signatures = response.find_rrset(
        response.answer, origin, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.DNSKEY
    )
    keys = {origin: dnskeys}
    dns.dnssec.validate(dnskeys, signatures, keys)
    answers: dict[str, object] = {"DNSKEY": dnskeys}
    for name, rdtype in names:
        owner = dns.name.from_text(name)
        response = ask(server, name, rdtype)
        rrset = response.find_rrset(
            response.answer, owner, dns.rdataclass.IN, dns.rdatatype.from_text(rdtype)
        )
        rrsig = response.find_rrset(
            response.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, dns.rdatatype.from_text(rdtype)
        )
        dns.dnssec.validate(rrset, rrsig, keys)
        answers[f"{name} {rdtype}"] = rrset
    return answers


def wait_validated(server: str, zone: str, names: list[tuple[str, str]], timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return validated(server, zone, names)
        except (dns.dnssec.ValidationFailure, KeyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def serial_of(server: str, zone: str) -> int:
    return ask(server, zone, "SOA").answer[0][0].serial


def config_fingerprint(the_lab, host: str) -> str:
    """Content and mtime of the configuration and zone files (named's own signing files aside)."""
    return the_lab.exec(
        host,
        "sh",
        "-c",
        "for f in /etc/bind/* /etc/named*.conf /var/lib/bind/*.db /var/named/*.db; do "
        '[ -f "$f" ] && stat -c "%n %Y" "$f" && md5sum "$f"; done; true',
    ).stdout


@pytest.fixture(scope="module")
def signed(the_lab, tmp_path_factory):
    path = tmp_path_factory.mktemp("dnssec") / "signed.toml"
    return the_lab.write_inventory(path, extra=SIGNED, **the_lab.ns2_layout())


def test_signed_zone_validates_on_primary_and_secondary(the_lab, signed):
    for result in set_up(signed, "signed.test"):
        assert "verify DNSSEC of signed.test" in result.stdout
    names = [("signed.test", "SOA"), ("signed.test", "NS"), ("signed.test", "MX"), ("www.signed.test", "A")]
    for server in (NS1, NS2):
        answers = wait_validated(server, "signed.test", names)
        assert {key.algorithm for key in answers["DNSKEY"]} == {13}  # BIND's default policy
    assert serial_of(NS1, "signed.test") == serial_of(NS2, "signed.test")
    # The primary signs, with keys only root and named can read; the secondary has no keys.
    assert the_lab.exec("ns1", "stat", "-c", "%a %U %G", KEY_DIR).stdout.split() == ["770", "root", "bind"]
    assert "Ksigned.test.+013+" in the_lab.exec("ns1", "ls", KEY_DIR).stdout
    stanza = the_lab.read("ns1", "/etc/bind/named.conf.dnsctl")
    assert 'dnssec-policy "default";' in stanza and "inline-signing yes;" in stanza
    # Inline signing: the file dnsctl wrote stays unsigned, named serves a later serial.
    zone_file = the_lab.read("ns1", "/var/lib/bind/signed.test.db")
    assert "RRSIG" not in zone_file
    file_serial = int(next(line.split()[0] for line in zone_file.splitlines() if "; serial" in line))
    assert serial_of(NS1, "signed.test") > file_serial


def test_signed_zone_again_changes_nothing(the_lab, signed):
    before = config_fingerprint(the_lab, "ns1") + config_fingerprint(the_lab, "ns2")
    for command in ("init-primary", "add-slave"):
        code, document = dnsctl_json(command, "signed.test", "--yes", inventory=signed)
        assert code == 0, document
        assert all(not host["actions"] for host in document["plan"].values()), document["plan"]
    assert config_fingerprint(the_lab, "ns1") + config_fingerprint(the_lab, "ns2") == before


def test_apply_finds_the_signed_zone_as_the_inventory_says(the_lab, signed):
    code, document = dnsctl_json("apply", "signed.test", "--check", inventory=signed)
    assert code == 0, document
    assert document["changes"] is False


def test_record_change_is_resigned_everywhere(the_lab, signed, tmp_path):
    changed = with_record(signed, tmp_path, "signed.test", "new", "198.51.100.74")
    old = serial_of(NS1, "signed.test")
    set_up(changed, "signed.test")
    for server in (NS1, NS2):
        answers = wait_validated(server, "signed.test", [("new.signed.test", "A"), ("signed.test", "SOA")])
        assert {r.to_text() for r in answers["new.signed.test A"]} == {"198.51.100.74"}
        assert serial_of(server, "signed.test") > old
    signed.write_text(changed.read_text())


def test_status_reports_signed_serial_and_expiry(the_lab, signed):
    code, document = dnsctl_json("status", "signed.test", inventory=signed)
    assert code == 0, document
    copies = document["zones"]["signed.test"]
    for server in ("ns1", "ns2"):
        assert copies[server]["serial"] == serial_of(NS1, "signed.test")
        assert copies[server]["dnssec"]["valid"] is True
        days = (
            time.mktime(time.strptime(copies[server]["dnssec"]["earliest_expiry"][:19], "%Y-%m-%dT%H:%M:%S"))
            - time.mktime(time.gmtime())
        ) / 86400
        assert 2 < days < 15  # BIND's default: 14 days, refreshed 5 days before the end
    text = dnsctl("status", "signed.test", inventory=signed).stdout
    assert "RRsets validate" in text and "signatures valid until" in text


def test_ds_records_match_the_served_key(the_lab, signed):
    code, document = dnsctl_json("dnssec", "ds", "signed.test", inventory=signed)
    assert code == 0, document
    origin = dns.name.from_text("signed.test")
    response = ask(NS1, "signed.test", "DNSKEY")
    keys = response.find_rrset(response.answer, origin, dns.rdataclass.IN, dns.rdatatype.DNSKEY)
    expected = {
        dns.dnssec.make_ds(origin, key, "SHA256").digest.hex().upper() for key in keys if key.flags & 1
    }
    assert {ds["digest"] for ds in document["ds"]} == expected
    text = dnsctl("dnssec", "ds", "signed.test", inventory=signed).stdout
    assert f"signed.test. IN DS {document['ds'][0]['key_tag']} 13 2 " in text
    unsigned = dnsctl("dnssec", "ds", "example.com", inventory=signed)
    assert unsigned.returncode == 2 and "not signed" in unsigned.stderr


def test_policy_from_the_inventory_with_nsec3(the_lab, signed):
    set_up(signed, "nsec3.test")
    assert 'dnssec-policy "strong" {' in the_lab.read("ns1", "/etc/bind/named.conf.dnsctl")
    for server in (NS1, NS2):
        answers = wait_validated(server, "nsec3.test", [("host.nsec3.test", "A"), ("nsec3.test", "SOA")])
        assert sorted(key.flags for key in answers["DNSKEY"]) == [256, 257]  # a ZSK and a KSK
        assert {key.algorithm for key in answers["DNSKEY"]} == {14}
        denial = ask(server, "absent.nsec3.test", "A")
        assert {rrset.rdtype for rrset in denial.authority} >= {dns.rdatatype.NSEC3}


def test_signed_zone_is_rolled_back(the_lab, signed, tmp_path):
    changed = with_record(signed, tmp_path, "signed.test", "late", "198.51.100.75")
    code, rest = interrupt_at("dnsctl-activate", changed, "init-primary", "signed.test")
    assert code == 5, rest
    assert "rolled back ns1" in rest
    answers = wait_validated(NS1, "signed.test", [("signed.test", "SOA")])
    assert answers
    assert ask(NS1, "late.signed.test", "A").answer == []
    dnsctl_ok("init-primary", "signed.test", "--yes", inventory=signed)


def test_restart_with_a_change_keeps_the_zone_signed(the_lab, signed, tmp_path):
    changed = with_record(signed, tmp_path, "signed.test", "restart", "198.51.100.76")
    dnsctl_ok("init-primary", "signed.test", "--restart", "--yes", inventory=changed)
    answers = wait_validated(NS1, "signed.test", [("restart.signed.test", "A")])
    assert answers
    signed.write_text(changed.read_text())


def test_turning_signing_off_needs_confirmation(the_lab, signed, tmp_path):
    unsigned = tmp_path / "unsigned.toml"
    text = signed.read_text()
    unsigned.write_text(text.replace("dnssec = true\n", "", 1))
    assert unsigned.read_text() != text
    before = config_fingerprint(the_lab, "ns1")
    refused = dnsctl("init-primary", "signed.test", "--yes", inventory=unsigned)
    assert refused.returncode == 7, refused.stdout + refused.stderr
    assert "DS" in refused.stderr and "--allow-unsigning" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert config_fingerprint(the_lab, "ns1") == before
    old = serial_of(NS2, "signed.test")
    set_up(unsigned, "signed.test", "--allow-unsigning")
    for server in (NS1, NS2):
        assert serial_of(server, "signed.test") > old  # the secondary followed
        assert not [r for r in ask(server, "signed.test", "SOA").answer if r.rdtype == dns.rdatatype.RRSIG]
    listing = the_lab.exec("ns1", "ls", "/var/lib/bind").stdout.split()
    assert not [name for name in listing if name.startswith("signed.test.db.")]
    code, document = dnsctl_json("init-primary", "signed.test", "--yes", inventory=unsigned)
    assert code == 0 and document["plan"]["ns1"]["actions"] == [], document
    # And on again: signed with the same key, which stayed in the key directory.
    code, document = dnsctl_json("init-primary", "signed.test", "--yes", inventory=signed)
    assert code == 0, document
    wait_validated(NS1, "signed.test", [("signed.test", "SOA")])


def test_bad_dnssec_settings_are_refused_at_load(the_lab, tmp_path):
    for extra, field in (
        ('[zones."bad.test"]\nprimary = "ns1"\ndnssec = "nosuch"\n', 'zones."bad.test".dnssec'),
        ('[dnssec_policies.p]\nalgorithm = "md5"\n', "dnssec_policies.p.algorithm"),
        ('[dnssec_policies.p]\nzsk_lifetime = "30 days"\n', "dnssec_policies.p.zsk_lifetime"),
        ('[dnssec_policies.p]\nksk_lifetime = "forever"\n', "dnssec_policies.p.ksk_lifetime"),
        ("[dnssec_policies.default]\nnsec3 = true\n", "dnssec_policies.default"),
    ):
        path = the_lab.write_inventory(tmp_path / "bad.toml", extra=extra)
        result = dnsctl("init-primary", "example.com", "--yes", inventory=path)
        assert result.returncode == 2, extra
        assert field in result.stderr and result.stderr.count("\n") == 1, result.stderr
