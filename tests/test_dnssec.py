"""DNSSEC: inventory, rendering, planning, and the signature checks against a zone signed here."""

from __future__ import annotations

import copy
import datetime as dt
import time

import dns.dnssec
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from dnsctl import dnssec, namedconf, plan, render, verify
from dnsctl.errors import InventoryError, PreconditionError
from dnsctl.facts.host import parse_host_facts, parse_named_version
from dnsctl.models import parse_inventory
from dnsctl.ops import init_primary
from dnsctl.platform import DEBIAN

from .conftest import DATA, TUTORIAL
from .simulated import SIGNING_STEPS, Scene, configured_files
from .test_facts import DEBIAN_HOST

TODAY = dt.date(2026, 11, 25)
STRONG = {"algorithm": "ECDSAP384SHA384", "zsk_lifetime": "p60d", "nsec3": True}


def signed_inventory(setting=True, **policies):
    raw = copy.deepcopy(TUTORIAL)
    raw["zones"]["example.com"]["dnssec"] = setting
    if policies:
        raw["dnssec_policies"] = policies
    return parse_inventory(raw)


# --- the inventory ---------------------------------------------------------------------


def test_signing_policy_of_each_setting():
    assert signed_inventory(True).signing_policy("example.com") == "default"
    assert signed_inventory(False).signing_policy("example.com") is None
    assert signed_inventory("default").signing_policy("example.com") == "default"
    inventory = signed_inventory("strong", strong=STRONG)
    assert inventory.signing_policy("example.com") == "strong"
    policy = inventory.dnssec_policies["strong"]
    assert (policy.algorithm, policy.zsk_lifetime) == ("ecdsap384sha384", "P60D")


@pytest.mark.parametrize(
    ("setting", "policies", "field"),
    [
        ("nosuch", {}, 'zones."example.com".dnssec: unknown policy'),
        ("", {}, 'zones."example.com".dnssec: unknown policy'),
        (True, {"p": {"algorithm": "md5"}}, "dnssec_policies.p.algorithm"),
        (True, {"p": {"ksk_lifetime": "forever"}}, "dnssec_policies.p.ksk_lifetime"),
        (True, {"p": {"zsk_lifetime": "30 days"}}, "dnssec_policies.p.zsk_lifetime"),
        (True, {"p": {"nsec5": True}}, "dnssec_policies.p.nsec5"),
        (True, {"default": {}}, "dnssec_policies.default: policy name"),
        (True, {'a"b': {}}, 'dnssec_policies."a\\"b": policy name'),
    ],
)
def test_bad_dnssec_settings_name_the_field(setting, policies, field):
    with pytest.raises(InventoryError) as error:
        signed_inventory(setting, **policies)
    assert field in str(error.value)


def test_a_broken_policy_hides_neither_an_unknown_one_nor_the_algorithms():
    with pytest.raises(InventoryError) as error:
        signed_inventory("nosuch", broken={"algorithm": "rot13"})
    assert error.value.problems == [
        "inventory: zones.\"example.com\".dnssec: unknown policy 'nosuch' (true, false, or one of: default)",
        "inventory: dnssec_policies.broken.algorithm: must be one of rsasha256, rsasha512, "
        "ecdsap256sha256, ecdsap384sha384, ed25519, ed448, not a string 'rot13'",
    ]


# --- rendering -------------------------------------------------------------------------


def test_zone_options_follow_the_bind_version():
    inventory = signed_inventory()
    options = dnssec.zone_options(inventory, "example.com", DEBIAN, (9, 18))
    assert options == [
        'dnssec-policy "default";',
        "inline-signing yes;",
        'key-directory "/var/lib/bind/keys";',
    ]
    assert "inline-signing yes;" in dnssec.zone_options(inventory, "example.com", DEBIAN, None)
    assert "inline-signing yes;" not in dnssec.zone_options(inventory, "example.com", DEBIAN, (9, 20))
    assert dnssec.zone_options(inventory, "100.51.198.in-addr.arpa", DEBIAN, (9, 18)) == []


def test_policy_statement_golden():
    inventory = signed_inventory("strong", strong=STRONG, plain={})
    text = dnssec.policy_statement(inventory, "strong") + dnssec.policy_statement(inventory, "plain")
    assert text == (DATA / "dnssec-policy.conf").read_text()


def test_signed_stanza_and_managed_file_golden():
    inventory = signed_inventory("strong", strong=STRONG)
    options = dnssec.zone_options(inventory, "example.com", DEBIAN, (9, 18))
    stanzas = {"example.com": render.primary_stanza(inventory, "example.com", DEBIAN, options)}
    managed = render.render_managed(
        stanzas, list(dnssec.policy_statements(inventory, stanzas, None).values())
    )
    assert managed == (DATA / "signed-managed.conf").read_text()
    assert render.parse_managed(managed) == stanzas
    assert dnssec.stanza_policy(stanzas["example.com"]) == "strong"


def test_policy_statements_keep_what_other_stanzas_still_use():
    inventory = signed_inventory("strong", strong=STRONG)
    current = 'dnssec-policy "old" {\n\tkeys {\n\t\tcsk lifetime unlimited algorithm ed25519;\n\t};\n};\n'
    stanzas = {
        "example.com": 'zone "example.com" {\n\tdnssec-policy "strong";\n};\n',
        "other.test": 'zone "other.test" {\n\tdnssec-policy "old";\n};\n',
        "plain.test": 'zone "plain.test" {\n\tdnssec-policy "default";\n};\n',
    }
    statements = dnssec.policy_statements(inventory, stanzas, current)
    assert list(statements) == ["old", "strong"]
    assert statements["old"] == current
    del stanzas["other.test"]
    assert len(dnssec.policy_statements(inventory, stanzas, current)) == 1


# --- planning --------------------------------------------------------------------------


def host_plan(current=None, *, named_active=True, restart=False) -> plan.HostPlan:
    text = DEBIAN_HOST.replace("@@named\nactive", "@@named\n" + ("active" if named_active else "inactive"))
    host_facts = parse_host_facts(text + "@@named-version\nBIND 9.18.49-1~deb12u1-Debian\n")
    host_plan = plan.HostPlan("ns1", "198.51.100.10", DEBIAN, host_facts, current=dict(current or {}))
    host_plan.restart = restart
    return host_plan


def applied(host_plan: plan.HostPlan) -> dict[str, str | None]:
    """The host's files after host_plan: what the next run reads."""
    files = dict(host_plan.current)
    files.update({change.path: change.new for change in host_plan.changes})
    return files


def plan_primary(inventory, current=None, served=None, **kwargs) -> plan.HostPlan:
    wants, served_serials = {"example.com": "primary"}, {"example.com": served}
    return plan.plan_server(inventory, host_plan(current, **kwargs), wants, served_serials, TODAY)


ZONE_FILE = "/var/lib/bind/example.com.db"
SIGNING_FILES = [ZONE_FILE + suffix for suffix in (".jnl", ".jbk", ".signed", ".signed.jnl", ".signed.jbk")]


def test_signing_a_new_zone_plans_keys_and_stanza():
    first = plan_primary(signed_inventory())
    assert first.directories == ["/var/lib/bind/keys"]
    assert first.directory_modes == {"/var/lib/bind/keys": "0770"}
    assert "create directory /var/lib/bind/keys (mode 0770)" in first.actions()
    assert first.inline_signed == {"example.com"}
    managed = next(c.new for c in first.changes if c.path == DEBIAN.managed_conf)
    assert 'dnssec-policy "default";' in managed and "inline-signing yes;" in managed
    assert first.set_aside == []  # a new zone: named has nothing of it to set aside


def test_signed_zone_served_ahead_of_its_file_plans_nothing():
    first = plan_primary(signed_inventory())
    serial = first.expect_serials["example.com"]
    again = plan_primary(signed_inventory(), applied(first), served=serial + 3)
    assert again.changes == [] and again.set_aside == []
    assert again.expect_serials["example.com"] == serial and again.inline_signed == {"example.com"}


def test_unsigning_sets_signing_files_aside_and_moves_the_serial_on():
    signed = plan_primary(signed_inventory())
    served = signed.expect_serials["example.com"] + 3
    unsigned = plan_primary(signed_inventory(False), applied(signed), served=served)
    zone_change = next(c for c in unsigned.changes if c.path == ZONE_FILE)
    assert render.zone_serial(zone_change.new) > served
    assert unsigned.set_aside == SIGNING_FILES
    assert "set aside (when present) /var/lib/bind/example.com.db.{jnl,jbk,signed,signed.jnl,signed.jbk}" in (
        unsigned.actions()
    )
    assert unsigned.inline_signed == {"example.com"}  # signed until named takes the change
    assert "dnssec-policy" not in next(c.new for c in unsigned.changes if c.path == DEBIAN.managed_conf)


def test_signing_an_existing_zone_moves_the_serial_on():
    unsigned = plan_primary(signed_inventory(False))
    serial = unsigned.expect_serials["example.com"]
    signed = plan_primary(signed_inventory(), applied(unsigned), served=serial)
    assert signed.expect_serials["example.com"] > serial
    assert signed.set_aside == SIGNING_FILES


def test_unsigned_zone_served_ahead_of_its_file_gets_a_new_serial():
    first = plan_primary(signed_inventory(False))
    serial = first.expect_serials["example.com"]
    assert plan_primary(signed_inventory(False), applied(first), served=serial).changes == []
    again = plan_primary(signed_inventory(False), applied(first), served=serial + 5)
    assert again.expect_serials["example.com"] > serial + 5


@pytest.mark.parametrize(("named_active", "restart"), [(True, True), (False, False)])
def test_starting_named_on_a_changed_signed_zone_sets_its_journal_aside(named_active, restart):
    first = plan_primary(signed_inventory())
    raw = copy.deepcopy(TUTORIAL)
    raw["zones"]["example.com"]["dnssec"] = True
    raw["zones"]["example.com"]["records"].append({"name": "new", "type": "A", "value": "198.51.100.99"})
    changed = parse_inventory(raw)
    reloaded = plan_primary(changed, applied(first))
    assert reloaded.set_aside == []
    started = plan_primary(changed, applied(first), named_active=named_active, restart=restart)
    assert started.set_aside == [ZONE_FILE + ".jnl", ZONE_FILE + ".jbk"]


def test_turning_signing_off_is_refused_with_the_reason():
    stanza = 'zone "example.com" {\n\tdnssec-policy "default";\n};\n'
    with pytest.raises(PreconditionError) as error:
        dnssec.refuse_unsigning("ns1", "example.com", stanza, signed_inventory(False))
    assert "DS" in str(error.value) and "--allow-unsigning" in str(error.value)
    dnssec.refuse_unsigning("ns1", "example.com", stanza, signed_inventory())
    dnssec.refuse_unsigning("ns1", "example.com", None, signed_inventory(False))


def test_sample_leaves_out_the_apex_wildcards_and_delegations(inventory):
    names = dnssec.sample(inventory, "example.com", size=10)
    assert ("pc1.example.com", "A") in names and ("www.example.com", "CNAME") in names
    assert not [owner for owner, _ in names if owner == "example.com" or owner.endswith("sub.example.com")]


def test_expected_signing_of_each_policy():
    assert dnssec.expected(signed_inventory(), "example.com") == dnssec.Expected(13, "NSEC")
    strong = signed_inventory("strong", strong=STRONG)
    assert dnssec.expected(strong, "example.com") == dnssec.Expected(14, "NSEC3")


def test_named_version_and_serial_comparisons():
    assert parse_named_version("BIND 9.18.49-1~deb12u1-Debian (Extended Support Version) <id:>") == (
        9,
        18,
    )
    assert parse_named_version("BIND 9.20.4 (Stable Release)") == (9, 20)
    assert parse_named_version("") is None
    answer = verify.SoaAnswer(5, True, "NOERROR")
    assert verify.serial_reached(answer, 5) and not verify.serial_reached(answer, 4)
    assert verify.serial_reached(answer, 4, at_least=True)
    assert verify.serial_reached(verify.SoaAnswer(1, True, "NOERROR"), 4294967295, at_least=True)
    assert not verify.serial_reached(verify.SoaAnswer(5, False, "NOERROR"), 5, at_least=True)


# --- proof by DNS, against a zone signed here ----------------------------------------------

ORIGIN = dns.name.from_text("example.com")
NOW = time.time()


class SignedZone:
    """A small zone signed with a fresh ECDSA key, answering like an authoritative server."""

    def __init__(self, *, lifetime: float = 14 * 86400, flags: int = 257) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.dnskey = dns.dnssec.make_dnskey(
            self.key.public_key(), dns.dnssec.Algorithm.ECDSAP256SHA256, flags=flags
        )
        self.lifetime = lifetime
        self.rrsets: dict[tuple[str, str], dns.rrset.RRset] = {}
        self.add("example.com", "DNSKEY", self.dnskey.to_text())
        self.add("example.com", "SOA", "ns1.example.com. hostmaster.example.com. 5 3600 600 1209600 300")
        self.add("example.com", "NS", "ns1.example.com.")
        self.add("pc1.example.com", "A", "198.51.100.50")
        self.add("www.example.com", "CNAME", "pc1.example.com.")
        self.add("example.com", "NSEC", "pc1.example.com. NS SOA RRSIG NSEC DNSKEY")
        self.signatures = {key: self.sign(rrset) for key, rrset in self.rrsets.items()}

    def add(self, name: str, rdtype: str, value: str) -> None:
        self.rrsets[(name, rdtype)] = dns.rrset.from_text(name + ".", 300, "IN", rdtype, value)

    def sign(self, rrset: dns.rrset.RRset) -> dns.rrset.RRset:
        rrsig = dns.dnssec.sign(
            rrset, self.key, ORIGIN, self.dnskey, inception=NOW - 3600, expiration=NOW + self.lifetime
        )
        return dns.rrset.from_rdata(rrset.name, rrset.ttl, rrsig)

    def ask(self, server, name, rdtype, timeout=2.0, *, want_dnssec=False):
        response = dns.message.Message()
        key = (str(name).rstrip(".").lower(), rdtype)
        if key in self.rrsets:
            response.answer = [self.rrsets[key], self.signatures[key]]
        else:
            response.set_rcode(dns.rcode.NXDOMAIN)
            denial = ("example.com", "NSEC")
            response.authority = [self.rrsets[denial], self.signatures[denial]]
        return response


@pytest.fixture
def zone(monkeypatch):
    signed = SignedZone()
    monkeypatch.setattr(verify, "ask", signed.ask)
    return signed


WANT = dnssec.Expected(13, "NSEC")
NAMES = [("pc1.example.com", "A"), ("www.example.com", "CNAME")]


def test_a_well_signed_zone_validates(zone):
    check = dnssec.check_signing("198.51.100.10", "example.com", NAMES, WANT, now=NOW)
    assert check.ok, check.problems
    assert check.validated == [
        "example.com. DNSKEY",
        "example.com. SOA",
        "example.com. NS",
        "pc1.example.com. A",
        "www.example.com. CNAME",
        "example.com. NSEC",
    ]
    assert check.denial == "NSEC" and check.algorithms == {13}
    assert "6 RRsets validate (algorithm 13, NSEC)" in check.summary()


def test_tampered_or_missing_data_fails(zone):
    zone.rrsets[("pc1.example.com", "A")] = dns.rrset.from_text(
        "pc1.example.com.", 300, "IN", "A", "192.0.2.66"
    )
    del zone.rrsets[("www.example.com", "CNAME")]
    check = dnssec.check_signing("198.51.100.10", "example.com", NAMES, WANT, now=NOW)
    assert not check.ok
    assert any(p.startswith("pc1.example.com. A: RRSIG does not validate") for p in check.problems)
    assert any(p.startswith("www.example.com. CNAME: not in the answer") for p in check.problems)


def test_signatures_near_or_past_expiry_fail(monkeypatch):
    for lifetime, needle in ((86400, "RRSIG expires in"), (-60, "every RRSIG has expired")):
        zone = SignedZone(lifetime=lifetime)
        monkeypatch.setattr(verify, "ask", zone.ask)
        check = dnssec.check_signing("198.51.100.10", "example.com", NAMES, WANT, now=NOW)
        assert not check.ok and needle in check.problems[0], check.problems


def test_policy_mismatch_fails(zone):
    check = dnssec.check_signing("198.51.100.10", "example.com", [], dnssec.Expected(14, "NSEC3"), now=NOW)
    assert "algorithm 14 expected, keys have [13]" in check.problems[0]
    assert "denial of existence is NSEC, the policy says NSEC3" in check.problems


def test_unsigned_zone_fails_at_once(monkeypatch):
    monkeypatch.setattr(verify, "ask", lambda *args, **kwargs: dns.message.Message())
    check = dnssec.check_signing("198.51.100.10", "example.com", NAMES, WANT, now=NOW)
    assert check.problems == ["example.com. DNSKEY: none served (the zone is not signed)"]


def test_delegation_signers_of_the_key_signing_keys(zone):
    (signer,) = dnssec.delegation_signers("198.51.100.10", "example.com")
    ds = dns.dnssec.make_ds(ORIGIN, zone.dnskey, "SHA256")
    assert (signer.key_tag, signer.algorithm, signer.digest_type) == (ds.key_tag, 13, 2)
    assert signer.text == f"example.com. IN DS {ds.key_tag} 13 2 {ds.digest.hex().upper()}"
    assert signer.dnskey.startswith("example.com. IN DNSKEY 257 3 13 ")


def test_no_delegation_signer_without_a_key_signing_key(monkeypatch):
    zone = SignedZone(flags=256)
    monkeypatch.setattr(verify, "ask", zone.ask)
    assert dnssec.delegation_signers("198.51.100.10", "example.com") == []


# --- the engine, on simulated hosts --------------------------------------------------------


@pytest.fixture
def signs(monkeypatch):
    """Every signature check passes: named's signing is the lab's to prove, the engine's flow is ours."""
    checked = []

    def wait_for_signing(address, zone, names, want, timeout):
        checked.append((address, zone))
        check = dnssec.SigningCheck(zone, address, validated=["example.com. SOA"])
        check.earliest_expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
        return check

    monkeypatch.setattr(dnssec, "wait_for_signing", wait_for_signing)
    return checked


def test_init_primary_signs_and_accepts_named_serial(monkeypatch, signs):
    inventory = signed_inventory()
    scene = Scene(monkeypatch, inventory)
    ns1 = scene.server("ns1")
    ns1.preflight()
    ns1.stage(("example.com",), create_dir=True)
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()

    init_primary(scene.session(), "example.com")

    scene.fleet.verify()
    assert "/var/lib/bind/keys" in ns1.host.dirs
    assert any(
        call.words[3:] == ("dnsctl-mkdir", "/var/lib/bind/keys", "bind", "007") for call in ns1.host.calls
    )
    assert scene.dns.zones("198.51.100.10")["example.com"] == 2026112500 + SIGNING_STEPS
    assert "verify example.com SOA at 198.51.100.10: serial 2026112502, authoritative" in scene.output
    assert signs == [("198.51.100.10", "example.com")]


def test_unsigning_is_refused_before_anything_changes(monkeypatch, signs):
    scene = Scene(monkeypatch, signed_inventory(False))
    files = configured_files(signed_inventory(), {"example.com": "primary"}, 2026112400)
    ns1 = scene.server("ns1", files=files, dns_open=True)
    ns1.preflight(writes=False)  # refused on what was read, before anything else is asked
    before = dict(ns1.host.files)

    with pytest.raises(PreconditionError, match="--allow-unsigning"):
        init_primary(scene.session(), "example.com")

    scene.fleet.verify()
    assert ns1.host.files == before


def test_unsigning_when_allowed_sets_signing_files_aside(monkeypatch, signs):
    scene = Scene(monkeypatch, signed_inventory(False))
    files = configured_files(signed_inventory(), {"example.com": "primary"}, 2026112400)
    files[ZONE_FILE + ".signed"] = "; named's signed copy\n"
    files[ZONE_FILE + ".jnl"] = "; inline signing's journal\n"
    ns1 = scene.server("ns1", files=files, dns_open=True)
    assert scene.dns.zones("198.51.100.10") == {"example.com": 2026112400 + SIGNING_STEPS}
    ns1.preflight()
    ns1.stage(("example.com",))
    ns1.activate()
    ns1.set_aside()
    ns1.reload()

    init_primary(scene.session(allow_unsigning=True), "example.com")

    scene.fleet.verify()
    assert ZONE_FILE + ".signed" not in ns1.host.files and ZONE_FILE + ".jnl" not in ns1.host.files
    assert next(path for path in ns1.host.files if path.endswith(".db.signed")).startswith(
        "/var/backups/dnsctl/"
    )
    served = scene.dns.zones("198.51.100.10")["example.com"]
    assert served > 2026112400 + SIGNING_STEPS  # above the signed serial the secondary holds
    assert "dnssec-policy" not in ns1.host.files[DEBIAN.managed_conf]
    assert signs == []


def test_the_guard_takes_signing_as_the_inventory_says_it():
    inventory = signed_inventory("strong", strong=STRONG)
    expected = {
        "example.com": namedconf.expected_zone(inventory, "example.com", "primary", DEBIAN, version=(9, 18))
    }
    options = dnssec.zone_options(inventory, "example.com", DEBIAN, (9, 18))
    stanzas = {"example.com": render.primary_stanza(inventory, "example.com", DEBIAN, options)}
    policies = dnssec.policy_statements(inventory, stanzas, None)
    managed = render.render_managed(stanzas, list(policies.values()))
    after = namedconf.parse("".join(line for line in managed.splitlines(True) if not line.startswith("//")))
    assert namedconf.compare((), after, expected, "198.51.100.10", {}, policies=frozenset(policies)) == []
    # A policy dnsctl did not write, or a zone signed otherwise than the inventory says, is refused.
    assert namedconf.compare((), after, expected, "198.51.100.10", {})
    unsigned = {
        "example.com": namedconf.expected_zone(signed_inventory(False), "example.com", "primary", DEBIAN)
    }
    problems = namedconf.compare((), after, unsigned, "198.51.100.10", {}, policies=frozenset(policies))
    assert "named would load `dnssec-policy strong`, which the inventory does not say" in problems[0]
    on_9_20 = namedconf.expected_zone(inventory, "example.com", "primary", DEBIAN, version=(9, 20))
    assert "inline-signing" not in on_9_20.text()


def test_a_policy_goes_with_its_last_zone_and_the_guard_lets_it():
    signed = plan_primary(signed_inventory("strong", strong=STRONG))
    managed = next(c.new for c in signed.changes if c.path == DEBIAN.managed_conf)
    assert dnssec.written_policies(managed) == {"strong"}
    current = applied(signed)
    unsigned = plan_primary(signed_inventory(False), current)
    after = next(c.new for c in unsigned.changes if c.path == DEBIAN.managed_conf)
    assert "dnssec-policy" not in after
    assert unsigned.policies == {"strong"}  # the guard lets dnsctl's own statement go
