"""DNSSEC: `dnssec ds`, and the signature check that ends every change of a signed zone."""

from __future__ import annotations

from dataclasses import asdict

import dns.exception

from dnsctl import dnssec, verify
from dnsctl.errors import UsageError, VerifyError
from dnsctl.ops.session import Session


def verify_signing(session: Session, server: str, zone: str) -> dnssec.SigningCheck:
    """Wait until the server's answers for the zone validate against its DNSKEYs, or fail."""
    inventory = session.inventory
    address = inventory.servers[server].address
    with session.report.step(server, f"verify DNSSEC of {zone} at {address}") as step:
        check = dnssec.wait_for_signing(
            address,
            zone,
            dnssec.sample(inventory, zone),
            dnssec.expected(inventory, zone),
            session.options.timeout,
        )
        if not check.ok:
            raise VerifyError(f"{server}: {zone} DNSSEC: {check.summary()}")
        step.detail = check.summary()
        step.data["dnssec"] = check.as_data()
    return check


def dnssec_ds(session: Session, zone_name: str) -> None:
    """Print the DS records of the zone's key-signing keys, read by DNS from its primary."""
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    if inventory.signing_policy(zone_name) is None:
        raise UsageError(f'zone {zone_name} is not signed: set zones."{zone_name}".dnssec in the inventory')
    address = inventory.servers[zone.primary].address
    with session.report.step(zone.primary, f"DS of {zone_name} from its DNSKEYs at {address}") as step:
        try:
            signers = dnssec.delegation_signers(address, zone_name)
        except (dns.exception.DNSException, OSError) as exc:
            raise VerifyError(f"{zone.primary}: DNSKEY of {zone_name}: {verify.why(exc)}") from None
        if not signers:
            raise VerifyError(
                f"{zone.primary} ({address}) serves no key-signing DNSKEY for {zone_name}; "
                f"sign it first: dnsctl init-primary {zone_name}"
            )
        step.detail = f"{len(signers)} key-signing key(s): " + ", ".join(
            f"tag {signer.key_tag}" for signer in signers
        )
    session.report.data["ds"] = [asdict(signer) for signer in signers]
    tags = " ".join(str(signer.key_tag) for signer in signers)
    session.report.text(
        "\n".join(signer.text for signer in signers)
        + f"\n; give these to the parent of {zone_name}; once they are published there, tell named:"
        + f"\n;   rndc dnssec -checkds -key {tags} published {zone_name}"
    )
