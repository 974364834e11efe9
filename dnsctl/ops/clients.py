"""configure-client: point clients' NetworkManager DNS at the zones' servers, safely.

Plan (read the connection's DNS settings) -> show -> modify and bring the connection
up -> verify resolv.conf and a lookup; when anything after the first change fails,
the client gets its previous settings back and its connection is brought up again.
"""

from __future__ import annotations

from collections.abc import Sequence

from dnsctl import verify
from dnsctl.errors import DnsctlError, PreconditionError, RollbackFailed, RolledBack, UsageError, VerifyError
from dnsctl.facts.client import DnsSettings, nm_list, parse_getent, parse_nm_settings, parse_resolv_servers
from dnsctl.facts.scripts import NM_READ_SCRIPT
from dnsctl.models import Inventory
from dnsctl.ops.session import Session
from dnsctl.remote import Connection

# (FQDN, A or AAAA, expected addresses): a name a client should be able to resolve.
Probe = tuple[str, str, set[str]]


def address_records(inventory: Inventory, zone_name: str) -> dict[str, tuple[str, set[str]]]:
    """FQDN -> (A or AAAA, values) for the zone's address records, in inventory order."""
    found: dict[str, tuple[str, set[str]]] = {}
    for record in inventory.records(zone_name):
        if record.type in ("A", "AAAA") and not record.owner.startswith("*."):
            rdtype, values = found.setdefault(record.owner, (record.type, set()))
            if rdtype == record.type:
                values.add(record.value)
    return found


def sample_name(inventory: Inventory, zone_name: str | None = None) -> Probe | None:
    """(FQDN, type, values) of the first address record, in zone_name or in any zone."""
    for name in [zone_name] if zone_name else list(inventory.zones):
        for fqdn, (rdtype, values) in address_records(inventory, name).items():
            return fqdn, rdtype, values
    return None


def configure_client(
    session: Session,
    clients: Sequence[str] = (),
    dns_servers: Sequence[str] = (),
    dns_options: str | None = None,
) -> None:
    inventory = session.inventory
    names = list(dict.fromkeys(clients)) or list(inventory.clients)
    if not names:
        raise UsageError("no clients in the inventory")
    for name in names:
        inventory.client(name)
    servers = list(dns_servers) or _zone_servers(inventory)
    probe = _served_sample(inventory, servers)
    session.connect(names)
    # The same lock as server changes: a failover-test resolving on the client holds it.
    session.lock(names)
    session.fleet.each(names, lambda name: _configure_one(session, name, servers, dns_options, probe))


def _zone_servers(inventory: Inventory) -> list[str]:
    """Every zone's primary, then its secondaries, each address once."""
    addresses: list[str] = []
    for zone in inventory.zones.values():
        for server in (zone.primary, *zone.secondaries):
            address = inventory.servers[server].address
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise UsageError("no zones in the inventory: give the servers with --dns")
    return addresses


def _served_sample(inventory: Inventory, servers: list[str]) -> Probe | None:
    """A name to resolve on clients: the first address record of a zone the first server serves."""
    for zone_name in inventory.zones:
        found = sample_name(inventory, zone_name)
        if found and verify.soa(servers[0], zone_name, timeout=1.0).ok:
            return found
    return None


def nm_changes(
    current: DnsSettings, servers: Sequence[str], dns_options: str | None
) -> dict[str, tuple[str, str]]:
    """nmcli setting -> (current, wanted) for every setting that differs."""
    have = {
        "ipv4.dns": list(current.dns),
        "ipv4.ignore-auto-dns": [current.ignore_auto_dns],
        "ipv4.dns-options": list(current.dns_options),
    }
    wanted = {"ipv4.dns": list(servers), "ipv4.ignore-auto-dns": ["yes"]}
    if dns_options is not None:
        wanted["ipv4.dns-options"] = nm_list(dns_options)
    return {
        key: (" ".join(have[key]), " ".join(value) if key == "ipv4.dns" else ",".join(value))
        for key, value in wanted.items()
        if have[key] != value
    }


def _configure_one(
    session: Session,
    name: str,
    servers: list[str],
    dns_options: str | None,
    probe: Probe | None,
) -> None:
    report, connection = session.report, session.fleet[name]
    configured = session.inventory.clients[name].connection or ""
    with report.step(name, "read NetworkManager connection") as step:
        result = connection.run(["sh", "-c", NM_READ_SCRIPT, "dnsctl-nm", configured], check=False)
        if not result.ok:
            raise PreconditionError(f"{name}: {result.reason()}")
        before = parse_nm_settings(result.stdout)
        step.detail = f"{before.connection}: dns {' '.join(before.dns) or '(none)'}"
    changes = nm_changes(before, servers, dns_options)
    lines = [f"{key}: {old or '(none)'} -> {new}" for key, (old, new) in changes.items()]
    report.data.setdefault("plan", {})[name] = {"connection": before.connection, "changes": lines}
    report.add(name, "plan", "plan", detail="; ".join(lines) if lines else "no changes")
    if session.options.dry_run:
        report.text("dry run: nothing was changed")
        return
    if not changes:
        _verify_client(session, name, servers, probe)
        return
    session.options.confirm(f"Change the DNS settings of {name}?")
    try:
        with report.step(name, f"nmcli: set DNS of {before.connection} and bring it up"):
            _set_dns(connection, before.connection, {key: new for key, (_, new) in changes.items()})
        _verify_client(session, name, servers, probe)
    except BaseException as exc:
        _restore(session, name, before, exc)


def _set_dns(connection: Connection, conn_name: str, settings: dict[str, str]) -> None:
    args = [item for key, value in settings.items() for item in (key, value)]
    connection.run(["nmcli", "connection", "modify", conn_name, *args])
    connection.run(["nmcli", "connection", "up", conn_name], timeout=60)


def _restore(session: Session, name: str, before: DnsSettings, cause: BaseException) -> None:
    """Give the client its previous DNS settings back; always raises."""
    reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause)
    connection = session.fleet[name]
    try:
        with session.report.step(name, f"roll back: previous DNS settings of {before.connection}"):
            _set_dns(connection, before.connection, before.as_nmcli())
            result = connection.run(["sh", "-c", NM_READ_SCRIPT, "dnsctl-nm", before.connection])
            after = parse_nm_settings(result.stdout)
            if after.dns != before.dns:
                shown = " ".join(after.dns) or "(none)"
                raise VerifyError(f"DNS is {shown}, expected {' '.join(before.dns) or '(none)'}")
    except (DnsctlError, OSError) as exc:
        raise RollbackFailed(
            f"{reason}; ROLLBACK FAILED on {name}: {exc}; its connection {before.connection} had "
            f"DNS {' '.join(before.dns) or '(none)'}"
        ) from None
    raise RolledBack(f"{reason}; {name} has its previous DNS settings again") from None


def _verify_client(session: Session, name: str, servers: list[str], probe: Probe | None) -> None:
    report, connection = session.report, session.fleet[name]
    with report.step(name, "verify /etc/resolv.conf") as step:
        listed = parse_resolv_servers(connection.get("/etc/resolv.conf") or "")
        if listed[: len(servers)] != servers[: len(listed)] or not listed:
            raise VerifyError(
                f"{name}: /etc/resolv.conf lists {' '.join(listed) or 'no servers'}, "
                f"expected {' '.join(servers)}"
            )
        step.detail = "nameservers " + " ".join(listed)
    if probe is None:
        report.add(name, "getent", "skip", detail="no zone with an address record is served yet")
        return
    fqdn, rdtype, values = probe
    with report.step(name, f"getent resolves {fqdn}") as step:
        addresses = getent(connection, fqdn, rdtype)
        if not addresses & values:
            raise VerifyError(
                f"{name}: getent {fqdn} gave {', '.join(sorted(addresses)) or 'nothing'}, "
                f"expected {', '.join(sorted(values))}"
            )
        step.detail = ", ".join(sorted(addresses))


def getent(connection: Connection, fqdn: str, rdtype: str) -> set[str]:
    """What the client's own resolver says (through resolv.conf and nsswitch)."""
    database = "ahostsv6" if rdtype == "AAAA" else "ahostsv4"
    result = connection.run(["getent", database, fqdn], check=False, timeout=60)
    return parse_getent(result.stdout)
