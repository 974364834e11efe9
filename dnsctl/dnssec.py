"""DNSSEC: the named.conf text that makes BIND sign a zone, and proof by DNS that it does.

BIND does the signing (``dnssec-policy`` with inline signing: the zone file dnsctl
writes stays unsigned, named keeps a signed copy beside it, generates and rolls the
keys, and re-signs before signatures expire). dnsctl renders the policy and the zone
options, and checks the result the way a validating resolver would: it asks each
server for the DNSKEY RRset, the SOA, the apex NS set and a sample of records with
their RRSIGs and validates them with dnspython against the zone's DNSKEYs.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass, field

import dns.exception
import dns.message
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from dnsctl import interrupt, verify
from dnsctl.errors import PreconditionError, VerifyError
from dnsctl.models import DNSSEC_ALGORITHMS, Inventory, in_zone
from dnsctl.platform import Layout

# From BIND 9.20 the policy carries inline signing (on by default); 9.18 needs it
# on every zone that is not dynamic, as a zone option.
POLICY_CARRIES_INLINE_SIGNING = (9, 20)
# BIND's built-in "default" policy: one ECDSAP256SHA256 key (CSK), NSEC.
DEFAULT_POLICY_ALGORITHM = DNSSEC_ALGORITHMS["ecdsap256sha256"]
# A signature closer to its expiry than this is a failure: BIND re-signs 5 days
# before expiry by default, so a copy this close has stopped being refreshed.
MIN_VALIDITY = dt.timedelta(days=2)
# How many of the inventory's records are checked besides DNSKEY, SOA and NS.
SAMPLE_SIZE = 5
# What inline signing keeps beside the zone file: the raw zone's journal (the
# differences between versions of the file) and the signed copy with its journal.
INLINE_SIGNING_SUFFIXES = (".jnl", ".jbk", ".signed", ".signed.jnl", ".signed.jbk")

_POLICY_OPTION = re.compile(r'^\tdnssec-policy "([^"]+)";$', re.MULTILINE)
_POLICY_STATEMENT = re.compile(r'^dnssec-policy "([^"]+)" \{\n.*?^\};\n', re.MULTILINE | re.DOTALL)


def key_directory(layout: Layout) -> str:
    """Where named keeps the zones' keys: a directory only root and named can read."""
    return f"{layout.primary_dir}/keys"


def inline_signing_files(zone_file: str) -> list[str]:
    return [zone_file + suffix for suffix in INLINE_SIGNING_SUFFIXES]


def zone_options(
    inventory: Inventory, zone: str, layout: Layout, version: tuple[int, int] | None
) -> list[str]:
    """The lines a primary zone stanza needs to be signed (none when it is not)."""
    policy = inventory.signing_policy(zone)
    if policy is None:
        return []
    lines = [f'dnssec-policy "{policy}";']
    if version is None or version < POLICY_CARRIES_INLINE_SIGNING:
        lines.append("inline-signing yes;")
    return [*lines, f'key-directory "{key_directory(layout)}";']


def stanza_policy(stanza: str | None) -> str | None:
    """The dnssec-policy of a zone stanza dnsctl wrote, or None when it signs nothing."""
    match = _POLICY_OPTION.search(stanza or "")
    return match.group(1) if match and match.group(1) != "none" else None


def policy_statement(inventory: Inventory, name: str) -> str:
    policy = inventory.dnssec_policies[name]
    algorithm = policy.algorithm
    if policy.zsk_lifetime is None:
        keys = [f"csk lifetime {policy.ksk_lifetime} algorithm {algorithm};"]
    else:
        keys = [
            f"ksk lifetime {policy.ksk_lifetime} algorithm {algorithm};",
            f"zsk lifetime {policy.zsk_lifetime} algorithm {algorithm};",
        ]
    lines = [f'dnssec-policy "{name}" {{', "\tkeys {", *(f"\t\t{key}" for key in keys), "\t};"]
    if policy.nsec3:
        # RFC 9276: no additional iterations, no salt.
        lines.append("\tnsec3param iterations 0 optout no salt-length 0;")
    return "\n".join([*lines, "};"]) + "\n"


def written_policies(text: str | None) -> set[str]:
    """The names of the dnssec-policy statements in a managed file dnsctl wrote."""
    return {m.group(1) for m in _POLICY_STATEMENT.finditer(text or "")}


def policy_statements(inventory: Inventory, stanzas: dict[str, str], current: str | None) -> dict[str, str]:
    """The dnssec-policy statements the managed file needs for its zone stanzas, by name.

    A policy the inventory describes is rendered from it; one that only a stanza
    kept from an earlier run still names keeps its text from the current file.
    """
    kept = {m.group(1): m.group(0) for m in _POLICY_STATEMENT.finditer(current or "")}
    names = sorted({name for stanza in stanzas.values() if (name := stanza_policy(stanza))} - {"default"})
    statements = {}
    for name in names:
        if name in inventory.dnssec_policies:
            statements[name] = policy_statement(inventory, name)
        elif name in kept:
            statements[name] = kept[name]
    return statements


def refuse_unsigning(server: str, zone: str, current_stanza: str | None, inventory: Inventory) -> None:
    """Turning signing off breaks the zone for validating resolvers while the parent has a DS."""
    before = stanza_policy(current_stanza)
    if before and inventory.signing_policy(zone) is None:
        raise PreconditionError(
            f"{server}: {zone} is signed (dnssec-policy {before}) and the inventory turns signing off; "
            "remove the zone's DS record at the parent first and wait for its TTL to pass, or "
            "validating resolvers will reject the zone; then run again with --allow-unsigning"
        )


# --- proof by DNS ---------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    algorithm: int
    denial: str  # "NSEC" or "NSEC3"


def expected(inventory: Inventory, zone: str) -> Expected:
    """The key algorithm and denial of existence the zone's policy calls for."""
    name = inventory.signing_policy(zone)
    if name is None or name == "default":
        return Expected(DEFAULT_POLICY_ALGORITHM, "NSEC")
    policy = inventory.dnssec_policies[name]
    return Expected(DNSSEC_ALGORITHMS[policy.algorithm], "NSEC3" if policy.nsec3 else "NSEC")


def sample(inventory: Inventory, zone: str, size: int = SAMPLE_SIZE) -> list[tuple[str, str]]:
    """(owner, type) of the records to check besides the apex: the zone's own data only.

    Wildcards are answered under other names, and delegations and their glue are not
    signed by the zone, so they are left out.
    """
    records = inventory.records(zone)
    cuts = {r.owner for r in records if r.type == "NS" and r.owner != zone}
    chosen: list[tuple[str, str]] = []
    for record in records:
        key = (record.owner, record.type)
        below_cut = any(in_zone(record.owner, cut) for cut in cuts)
        if key in chosen or record.owner.startswith("*.") or below_cut or record.owner == zone:
            continue
        chosen.append(key)
    return chosen[:size]


@dataclass
class SigningCheck:
    """What one server's answers showed about a zone's signatures."""

    zone: str
    address: str
    problems: list[str] = field(default_factory=list)
    validated: list[str] = field(default_factory=list)  # "example.com. SOA", ...
    algorithms: set[int] = field(default_factory=set)
    denial: str | None = None
    earliest_expiry: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.validated)

    def summary(self) -> str:
        if self.problems:
            more = f" (+{len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return self.problems[0] + more
        expiry = self.earliest_expiry
        assert expiry is not None
        left = (expiry - dt.datetime.now(dt.UTC)).total_seconds() / 86400
        algorithms = ",".join(str(a) for a in sorted(self.algorithms))
        return (
            f"{len(self.validated)} RRsets validate (algorithm {algorithms}, {self.denial}), "
            f"signatures valid until {expiry:%Y-%m-%d %H:%M} UTC ({left:.1f} days)"
        )

    def as_data(self) -> dict[str, object]:
        return {
            "valid": self.ok,
            "validated": self.validated,
            "algorithms": sorted(self.algorithms),
            "denial": self.denial,
            "earliest_expiry": self.earliest_expiry.isoformat() if self.earliest_expiry else None,
            "problems": self.problems,
        }


def check_signing(
    address: str,
    zone: str,
    names: list[tuple[str, str]],
    want: Expected,
    now: float | None = None,
    min_validity: dt.timedelta = MIN_VALIDITY,
) -> SigningCheck:
    """Ask address for the zone's DNSKEYs, SOA, NS, names and a denial, and validate every RRSIG."""
    now = time.time() if now is None else now
    check = SigningCheck(zone, address)
    origin = dns.name.from_text(zone)
    try:
        response = verify.ask(address, origin, "DNSKEY", want_dnssec=True)
    except (dns.exception.DNSException, OSError) as exc:
        check.problems.append(f"DNSKEY: {verify.why(exc)}")
        return check
    dnskeys = _find(response.answer, origin, dns.rdatatype.DNSKEY)
    if dnskeys is None:
        check.problems.append(f"{zone}. DNSKEY: none served (the zone is not signed)")
        return check
    check.algorithms = {int(key.algorithm) for key in dnskeys}
    if want.algorithm not in check.algorithms:
        check.problems.append(
            f"{zone}. DNSKEY: algorithm {want.algorithm} expected, keys have {sorted(check.algorithms)}"
        )
    keys = {origin: dnskeys}
    _validate(check, response.answer, origin, dns.rdatatype.DNSKEY, keys, now, min_validity)
    for owner, rdtype in [(zone, "SOA"), (zone, "NS"), *names]:
        name = dns.name.from_text(owner)
        try:
            response = verify.ask(address, name, rdtype, want_dnssec=True)
        except (dns.exception.DNSException, OSError) as exc:
            check.problems.append(f"{owner}. {rdtype}: {verify.why(exc)}")
            continue
        _validate(check, response.answer, name, dns.rdatatype.from_text(rdtype), keys, now, min_validity)
    _check_denial(check, address, origin, keys, want, now, min_validity)
    return check


def _check_denial(
    check: SigningCheck,
    address: str,
    origin: dns.name.Name,
    keys: dict[dns.name.Name, dns.rrset.RRset],
    want: Expected,
    now: float,
    min_validity: dt.timedelta,
) -> None:
    """A name that does not exist: the proof must be signed, by NSEC or NSEC3 as the policy says."""
    absent = dns.name.from_text("dnsctl-absent-name", origin)
    try:
        response = verify.ask(address, absent, "TXT", want_dnssec=True)
    except (dns.exception.DNSException, OSError) as exc:
        check.problems.append(f"{absent} TXT (denial): {verify.why(exc)}")
        return
    kinds = {rrset.rdtype for rrset in response.authority} & {dns.rdatatype.NSEC, dns.rdatatype.NSEC3}
    if not kinds:
        check.problems.append(f"{absent} TXT: no NSEC or NSEC3 proof that the name does not exist")
        return
    check.denial = "NSEC3" if dns.rdatatype.NSEC3 in kinds else "NSEC"
    if check.denial != want.denial:
        check.problems.append(f"denial of existence is {check.denial}, the policy says {want.denial}")
    for rrset in response.authority:
        if rrset.rdtype in kinds:
            _validate(check, response.authority, rrset.name, rrset.rdtype, keys, now, min_validity)


def _find(section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: int, covers: int = 0):
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.covers == covers:
            return rrset
    return None


def _validate(
    check: SigningCheck,
    section: list[dns.rrset.RRset],
    name: dns.name.Name,
    rdtype: int,
    keys: dict[dns.name.Name, dns.rrset.RRset],
    now: float,
    min_validity: dt.timedelta,
) -> None:
    label = f"{name} {dns.rdatatype.to_text(rdtype)}"
    rrset = _find(section, name, rdtype)
    signatures = _find(section, name, dns.rdatatype.RRSIG, covers=rdtype)
    if rrset is None:
        check.problems.append(f"{label}: not in the answer")
        return
    if signatures is None:
        check.problems.append(f"{label}: no RRSIG")
        return
    expiry = max(signature.expiration for signature in signatures)
    left = expiry - now
    if left <= 0:
        check.problems.append(f"{label}: every RRSIG has expired")
        return
    if left < min_validity.total_seconds():
        check.problems.append(f"{label}: RRSIG expires in {left / 3600:.1f} hours")
    from dns import dnssec as signatures_module  # brings cryptography: only for signed zones

    try:
        signatures_module.validate(rrset, signatures, keys, now=now)
    except signatures_module.ValidationFailure as exc:
        check.problems.append(f"{label}: RRSIG does not validate ({exc})")
        return
    when = dt.datetime.fromtimestamp(expiry, dt.UTC)
    if check.earliest_expiry is None or when < check.earliest_expiry:
        check.earliest_expiry = when
    check.validated.append(label)


def wait_for_signing(
    address: str, zone: str, names: list[tuple[str, str]], want: Expected, timeout: float
) -> SigningCheck:
    """Check until everything validates or timeout passes (named signs a new zone in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        interrupt.checkpoint()
        check = check_signing(address, zone, names, want)
        if check.ok or time.monotonic() >= deadline:
            return check
        time.sleep(0.2)


# --- DS records for the parent ---------------------------------------------------------


@dataclass(frozen=True)
class DelegationSigner:
    key_tag: int
    algorithm: int
    digest_type: int
    digest: str
    text: str  # the DS record as the parent zone would hold it
    dnskey: str  # the key it points at, for parents that take DNSKEYs


def delegation_signers(address: str, zone: str) -> list[DelegationSigner]:
    """The DS records (SHA-256) of the zone's key-signing keys, from its self-signed DNSKEY RRset."""
    origin = dns.name.from_text(zone)
    response = verify.ask(address, origin, "DNSKEY", want_dnssec=True)
    dnskeys = _find(response.answer, origin, dns.rdatatype.DNSKEY)
    if dnskeys is None:
        return []
    check = SigningCheck(zone, address)
    _validate(
        check, response.answer, origin, dns.rdatatype.DNSKEY, {origin: dnskeys}, time.time(), MIN_VALIDITY
    )
    if check.problems:
        raise VerifyError(f"{address}: {check.problems[0]}")
    signers = []
    for key in dnskeys:
        if not key.flags & 0x0001:  # SEP: a key-signing key (KSK or CSK)
            continue
        from dns import dnssec as signatures_module

        ds = signatures_module.make_ds(origin, key, "SHA256")
        digest = ds.digest.hex().upper()
        signers.append(
            DelegationSigner(
                key_tag=ds.key_tag,
                algorithm=ds.algorithm,
                digest_type=ds.digest_type,
                digest=digest,
                text=f"{zone}. IN DS {ds.key_tag} {ds.algorithm} {ds.digest_type} {digest}",
                dnskey=f"{zone}. IN DNSKEY {key.to_text()}",
            )
        )
    return sorted(signers, key=lambda signer: signer.key_tag)
