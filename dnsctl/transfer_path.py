"""A zone's transfer path from its primary to one secondary, link by link: what each link needs,
how to see it broken, and the fix. Pure: `walk` judges what the two hosts showed (ops/doctor.py
reads it), so every broken link is tested on output captured where it was broken for real.

The links, in the order a transfer needs them: named runs on the primary, serves the zone and
listens on its address; named runs on the secondary and takes the zone from that address; the
secondary reaches the primary over UDP and TCP port 53; the primary transfers the zone to it
(allow-transfer, TSIG); the primary's serial is not below the secondary's; the primary notifies
it; named can write the secondary's directory; no journal is in the way; and the secondary
serves the primary's serial.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import dns.serial

from dnsctl.facts.dig import Transfer
from dnsctl.facts.doctor import PrimaryPath, SecondaryPath
from dnsctl.facts.host import HostFacts
from dnsctl.facts.named_config import NamedConfig, ZoneConfig, ZoneStatus
from dnsctl.platform import Layout

# Log lines that say something went wrong.
_TROUBLE = re.compile(r"denied|tsig|refused|fail|error", re.IGNORECASE)
# TSIG lets signatures be this far apart from the verifier's clock (BIND's fudge).
TSIG_FUDGE_SECONDS = 300
LOG_LINES_SHOWN = 6


@dataclass(frozen=True)
class Link:
    host: str  # where the check ran
    check: str
    ok: bool
    detail: str
    fix: str = ""
    evidence: tuple[str, ...] = ()  # log lines that show the failure


@dataclass(frozen=True)
class Side:
    """One end of the path: its host facts, named's configuration and the zone as loaded."""

    name: str
    address: str
    host: HostFacts
    config: NamedConfig
    loaded: ZoneStatus

    @property
    def layout(self) -> Layout:
        return self.host.known_layout(self.name)

    def zone(self, name: str) -> ZoneConfig | None:
        return self.config.zones.get(name)

    def zone_file(self, name: str, default: str) -> str:
        zone = self.zone(name)
        return self.config.path(zone.file) if zone is not None and zone.file else default


@dataclass(frozen=True)
class Pair:
    """Everything doctor learned about one zone's path from its primary to one secondary."""

    zone: str
    primary: Side
    secondary: Side
    at_primary: PrimaryPath
    at_secondary: SecondaryPath
    transfer: Transfer  # the AXFR asked from the secondary
    key: str | None  # the TSIG key the secondary's named uses towards the primary
    clock_offset: float | None  # the secondary's clock minus the primary's, in seconds

    @property
    def primary_serial(self) -> int | None:
        return self.at_secondary.udp.serial

    def peer_log(self) -> tuple[str, ...]:
        """The primary's log lines about requests from the secondary's address."""
        return tuple(line for line in self.at_primary.log if f" {self.secondary.address}#" in line)

    def peer_trouble(self) -> tuple[str, ...]:
        """Of those, the ones that say something went wrong."""
        return tuple(line for line in self.peer_log() if _TROUBLE.search(line))


def walk(pair: Pair) -> list[Link]:
    """Check each link in order, from the primary out to the secondary's copy; stop at the
    first broken one, which is then the last of the list."""
    links = []
    for check in CHECKS:
        link = check(pair)
        links.append(link)
        if not link.ok:
            break
    return links


# --- the links, in the order a transfer needs them ----------------------------------------


def _named_runs(side: Side) -> Link:
    service = side.layout.service
    if side.host.named_active:
        return Link(side.name, "named runs", True, "active")
    return Link(
        side.name,
        "named runs",
        False,
        f"{service} is not running on {side.name}",
        f"on {side.name}: systemctl start {service}; `journalctl -u {service} -n 20` says why it stopped",
    )


def primary_named_runs(pair: Pair) -> Link:
    return _named_runs(pair.primary)


def primary_serves_zone(pair: Pair) -> Link:
    primary, zone = pair.primary, pair.zone
    check = f"serves {zone} as its primary"
    if primary.config.error:
        return Link(
            primary.name,
            check,
            False,
            f"named-checkconf rejects the configuration: {primary.config.error}",
            f"on {primary.name}: correct what named-checkconf names, then rndc reconfig",
        )
    stanza = primary.zone(zone)
    if stanza is None:
        return Link(
            primary.name,
            check,
            False,
            f"named's configuration has no zone {zone}",
            f"dnsctl init-primary {zone}",
        )
    if not stanza.is_primary:
        return Link(
            primary.name,
            check,
            False,
            f"{zone} is type {stanza.type}, not a primary zone",
            f"dnsctl init-primary {zone}",
        )
    if primary.loaded.error or primary.loaded.serial is None:
        return Link(
            primary.name,
            check,
            False,
            f"named has not loaded {zone}: {primary.loaded.error or 'no serial'}",
            f"on {primary.name}: named-checkzone {zone} {primary.zone_file(zone, '?')} says what is wrong; "
            f"then rndc reload {zone}",
            _tail(pair.at_primary.log),
        )
    return Link(
        primary.name,
        check,
        True,
        f"type {stanza.type}, serial {primary.loaded.serial}, file {primary.loaded.files or stanza.file}",
    )


def primary_listens(pair: Pair) -> Link:
    primary = pair.primary
    listening = pair.at_primary.listening
    check = f"named listens on {primary.address} port 53"
    missing = [proto.upper() for proto in ("udp", "tcp") if not listening.covers(primary.address, proto)]
    if not missing:
        return Link(primary.name, check, True, "UDP and TCP")
    sockets = ", ".join(sorted(listening.udp | listening.tcp)) or "none"
    listen_on = primary.config.listen_on
    why = f"listen-on {{ {'; '.join(listen_on)}; }}" if listen_on else "no listen-on: check named's log"
    return Link(
        primary.name,
        check,
        False,
        f"no {' or '.join(missing)} socket on {primary.address} (named listens on {sockets}; {why})",
        f"add {primary.address} to listen-on in named's options on {primary.name} "
        f"(`dnsctl init-primary {pair.zone}` does), then rndc reconfig",
    )


def secondary_named_runs(pair: Pair) -> Link:
    return _named_runs(pair.secondary)


def secondary_takes_zone(pair: Pair) -> Link:
    secondary, zone = pair.secondary, pair.zone
    check = f"takes {zone} from {pair.primary.address}"
    fix = f"dnsctl add-slave {zone} {secondary.name}"
    if secondary.config.error:
        return Link(
            secondary.name,
            check,
            False,
            f"named-checkconf rejects the configuration: {secondary.config.error}",
            f"on {secondary.name}: correct what named-checkconf names, then rndc reconfig",
        )
    stanza = secondary.zone(zone)
    if stanza is None:
        return Link(secondary.name, check, False, f"named's configuration has no zone {zone}", fix)
    if not stanza.is_secondary:
        return Link(secondary.name, check, False, f"{zone} is type {stanza.type}, not a secondary zone", fix)
    if not any(entry.split()[:1] == [pair.primary.address] for entry in stanza.primaries):
        return Link(
            secondary.name,
            check,
            False,
            f"its primaries are {{ {'; '.join(stanza.primaries) or 'none'}; }}, "
            f"without {pair.primary.name} ({pair.primary.address})",
            fix,
        )
    signed = f", signed with TSIG key {pair.key}" if pair.key else ""
    return Link(secondary.name, check, True, f"type {stanza.type}{signed}")


def _reaches(pair: Pair, protocol: str) -> Link:
    secondary, primary, zone = pair.secondary, pair.primary, pair.zone
    answer = pair.at_secondary.udp if protocol == "UDP" else pair.at_secondary.tcp
    check = f"reaches {primary.name} over {protocol} port 53"
    if answer.error:
        return Link(
            secondary.name,
            check,
            False,
            f"SOA query to {primary.address}: {answer.error}, though named listens there; "
            + _firewall_seen(pair),
            _firewall_fix(pair, protocol),
        )
    if answer.status == "REFUSED":
        stanza = primary.zone(zone)
        allowed = stanza.allow_query if stanza is not None else None
        shown = f"allow-query {{ {'; '.join(allowed)}; }}" if allowed else "its allow-query"
        return Link(
            secondary.name,
            check,
            False,
            f"{primary.name} refuses the SOA query from {secondary.address} ({shown}); "
            f"a secondary asks for the SOA before every transfer",
            f"add {secondary.address} to the allow-query of {zone} on {primary.name} "
            f"(`dnsctl init-primary {zone}` allows every server of the zone), then rndc reconfig",
        )
    if answer.status != "NOERROR" or not answer.authoritative or answer.serial is None:
        return Link(
            secondary.name,
            check,
            False,
            f"{primary.name} answers {answer.status} without authority for {zone}",
            f"on {primary.name}: `rndc zonestatus {zone}` and named's log say why it does not serve the zone",
        )
    return Link(secondary.name, check, True, f"SOA serial {answer.serial}, authoritative")


def reaches_over_udp(pair: Pair) -> Link:
    return _reaches(pair, "UDP")


def reaches_over_tcp(pair: Pair) -> Link:
    return _reaches(pair, "TCP")


def _firewall_seen(pair: Pair) -> str:
    """What the primary's firewall shows about DNS, for people."""
    state = pair.primary.host.firewall.state
    firewall = pair.at_primary.firewall
    if state != "running" or firewall is None:
        return f"firewalld is {state} on {pair.primary.name}: something else filters port 53"
    rules = firewall.dns_rules()
    if rules:
        return f"firewalld zone {firewall.name} on {pair.primary.name} has {'; '.join(rules)}"
    if "dns" not in firewall.services:
        return (
            f"firewalld zone {firewall.name} on {pair.primary.name} does not allow dns "
            f"(services: {' '.join(firewall.services) or 'none'})"
        )
    return f"firewalld zone {firewall.name} on {pair.primary.name} allows dns: something else filters port 53"


def _firewall_fix(pair: Pair, protocol: str) -> str:
    primary = pair.primary.name
    firewall = pair.at_primary.firewall
    if pair.primary.host.firewall.state != "running" or firewall is None:
        return (
            f"let {protocol} port 53 from {pair.secondary.address} reach {primary} "
            "(nftables or iptables on it, or a firewall between the hosts)"
        )
    zone = firewall.name
    rules = firewall.dns_rules()
    if rules:
        return (
            f"on {primary}: firewall-cmd --zone={zone} --remove-rich-rule='{rules[0]}' (and with --permanent)"
        )
    if "dns" not in firewall.services:
        return (
            f"on {primary}: firewall-cmd --zone={zone} --add-service=dns && "
            f"firewall-cmd --permanent --zone={zone} --add-service=dns"
        )
    return (
        f"find what drops {protocol} port 53 between {pair.secondary.name} and {primary} "
        "(direct rules or nftables on either host, or a firewall between them)"
    )


_LOGGED_TSIG = re.compile(r"tsig verify failure \((\w+)\)")


def transfer_allowed(pair: Pair) -> Link:
    secondary, primary, zone = pair.secondary, pair.primary, pair.zone
    attempt = pair.transfer
    check = f"{primary.name} transfers {zone} to {secondary.name}"
    signed = f" signed with key {pair.key}" if pair.key else ""
    if attempt.ok:
        return Link(
            secondary.name, check, True, f"AXFR from {secondary.address}{signed}: {attempt.records} records"
        )
    if attempt.error:
        return Link(
            secondary.name,
            check,
            False,
            f"AXFR from {secondary.address}: {attempt.error}; " + _firewall_seen(pair),
            _firewall_fix(pair, "TCP"),
        )
    logged = [_LOGGED_TSIG.search(line) for line in pair.peer_log()]
    tsig_error = attempt.tsig_error or next((m.group(1) for m in reversed(logged) if m), None)
    evidence = _tail(pair.peer_trouble() or pair.peer_log())
    if tsig_error:
        return _tsig_link(pair, check, tsig_error, evidence)
    stanza = primary.zone(zone)
    allowed = stanza.allow_transfer if stanza is not None else None
    if allowed is None:
        allowed = primary.config.allow_transfer
    shown = f"allow-transfer {{ {'; '.join(allowed)}; }}" if allowed is not None else "no allow-transfer"
    who = f"key {pair.key}" if pair.key else secondary.address
    return Link(
        secondary.name,
        check,
        False,
        f"{primary.name} refuses the AXFR from {secondary.address}{signed} ({shown})",
        f"allow {who} in the allow-transfer of {zone} on {primary.name} "
        f"(`dnsctl add-slave {zone} {secondary.name}` does), then rndc reconfig",
        evidence,
    )


def _tsig_link(pair: Pair, check: str, error: str, evidence: tuple[str, ...]) -> Link:
    primary, secondary = pair.primary.name, pair.secondary.name
    key = pair.key or "(none)"
    if error == "BADTIME":
        offset = f"{pair.clock_offset:+.1f} s" if pair.clock_offset is not None else "unknown"
        detail = (
            f"TSIG BADTIME: the clocks of {secondary} and {primary} differ by {offset} "
            f"(TSIG allows {TSIG_FUDGE_SECONDS} s)"
        )
        fix = f"synchronise the clocks of {primary} and {secondary} (chronyd or systemd-timesyncd on both)"
    elif error == "BADKEY":
        detail = (
            f"TSIG BADKEY: {primary} does not know key {key} that {secondary} signs with (or its algorithm)"
        )
        fix = (
            f"give {primary} and {secondary} the same key {key} (name, algorithm, secret), "
            "then rndc reconfig on both"
        )
    else:
        detail = f"TSIG {error}: the secret of key {key} differs between {primary} and {secondary}"
        fix = f"give {primary} and {secondary} the same secret for key {key}, then rndc reconfig on both"
    return Link(pair.secondary.name, check, False, detail, fix, evidence)


def serial_not_behind(pair: Pair) -> Link:
    primary, secondary = pair.primary, pair.secondary
    check = f"{primary.name}'s serial is not below {secondary.name}'s"
    served, held = pair.primary_serial, pair.secondary.loaded.serial
    if served is None or held is None or dns.serial.Serial(served) >= dns.serial.Serial(held):
        return Link(primary.name, check, True, f"{primary.name} {served}, {secondary.name} {held}")
    return Link(
        primary.name,
        check,
        False,
        f"{primary.name} serves serial {served}, below {secondary.name}'s {held}: the serial went "
        f"backwards, so {secondary.name} keeps its copy and takes no change until the serial passes {held}",
        f"on {secondary.name}: rndc retransfer {pair.zone} (takes {primary.name}'s copy whatever "
        f"its serial); or raise the serial on {primary.name} above {held}",
        _tail(pair.at_secondary.log),
    )


def notify_reaches(pair: Pair) -> Link:
    primary, secondary, zone = pair.primary, pair.secondary, pair.zone
    check = f"{primary.name} notifies {secondary.name} of changes"
    stanza = primary.zone(zone)
    assert stanza is not None  # primary_serves_zone checked it
    also = [entry.split()[0] for entry in stanza.also_notify if entry.split()]
    fix = (
        f"add {secondary.address} to the also-notify of {zone} on {primary.name} "
        f"(`dnsctl add-slave {zone} {secondary.name}` does), then rndc reconfig"
    )
    refresh = _refresh(pair)
    late = f"{secondary.name} learns of changes only when it refreshes, every {refresh} s"
    if stanza.notify == "no":
        return Link(primary.name, check, False, f"notify no: {late}", fix)
    if secondary.address in also:
        return Link(primary.name, check, True, f"{secondary.address} is in also-notify")
    if stanza.notify == "explicit":
        return Link(
            primary.name,
            check,
            False,
            f"notify explicit, and {secondary.address} is not in also-notify: {late}",
            fix,
        )
    by_ns = [
        name for name in _notified_names(pair) if secondary.address in pair.at_secondary.udp.addresses(name)
    ]
    if by_ns:
        return Link(primary.name, check, True, f"{secondary.address} is in the NS set as {by_ns[0]}")
    return Link(
        primary.name,
        check,
        False,
        f"{secondary.address} is neither in also-notify nor the address of a name in the NS set: {late}",
        fix,
    )


def _refresh(pair: Pair) -> str:
    fields = pair.at_secondary.udp.soa
    return fields[3] if len(fields) > 3 else "?"


def _notified_names(pair: Pair) -> list[str]:
    """The NS names named notifies by default: all but the SOA's primary name server."""
    answer = pair.at_secondary.udp
    mname = answer.soa[:1]
    zone = f"{pair.zone}."
    return [
        data
        for _, owner, rdtype, data in answer.records
        if rdtype == "NS" and owner == zone and data not in mname
    ]


def directory_writable(pair: Pair) -> Link:
    secondary = pair.secondary
    where = pair.at_secondary.directory
    check = f"named can write {where.path}"
    group = secondary.layout.group
    shown = f"owner {where.owner}:{where.group}, mode {where.mode}"
    if where.writable is False:
        return Link(
            secondary.name,
            check,
            False,
            f"named (user {where.user}) cannot write {where.path} ({shown}): it cannot save "
            "what it transfers, and serves the zone from memory only until it restarts",
            f"on {secondary.name}: chown root:{group} {where.path} && chmod 775 {where.path}",
            _tail(pair.at_secondary.log),
        )
    if where.selinux is not None and where.selinux_type != "named_cache_t":
        return Link(
            secondary.name,
            check,
            False,
            f"its SELinux type is {where.selinux_type}; named may write only named_cache_t",
            f"on {secondary.name}: semanage fcontext -a -t named_cache_t '{where.path}(/.*)?' "
            f"&& restorecon -Rv {where.path}",
        )
    tested = "writable by" if where.writable else "not tested for"
    selinux = f", SELinux {where.selinux_type}" if where.selinux else ""
    return Link(secondary.name, check, True, f"{shown}, {tested} user {where.user}{selinux}")


_JOURNAL_TROUBLE = re.compile(r"journal.*(out of sync|failed|corrupt)", re.IGNORECASE)


def no_journal_in_the_way(pair: Pair) -> Link:
    primary, secondary, zone = pair.primary, pair.secondary, pair.zone
    check = "no zone journal in the way"
    if pair.at_primary.journal:
        return Link(
            primary.name,
            check,
            False,
            f"{pair.at_primary.journal}: named keeps changes to {zone} in a journal (dynamic updates), "
            "so the zone file is not the whole zone and edits to it are not what named serves",
            f"on {primary.name}: rndc sync -clean {zone}, and end the dynamic updates (allow-update, "
            "update-policy) if dnsctl is to manage the zone",
        )
    trouble = [line for line in pair.at_secondary.log if _JOURNAL_TROUBLE.search(line)]
    if pair.at_secondary.journal and trouble:
        return Link(
            secondary.name,
            check,
            False,
            f"{pair.at_secondary.journal} does not match the zone: named logged {trouble[-1]}",
            f"on {secondary.name}: rndc retransfer {zone}",
            tuple(trouble[-LOG_LINES_SHOWN:]),
        )
    kept = (
        f"; {pair.at_secondary.journal} on {secondary.name} (incremental transfers)"
        if pair.at_secondary.journal
        else ""
    )
    return Link(primary.name, check, True, f"none on {primary.name}{kept}")


def in_sync(pair: Pair) -> Link:
    secondary, primary, zone = pair.secondary, pair.primary, pair.zone
    check = f"serves {primary.name}'s serial"
    held, served = secondary.loaded.serial, pair.primary_serial
    if held is not None and held == served:
        return Link(secondary.name, check, True, f"serial {held}, as {primary.name}")
    what = (
        f"has not loaded {zone} ({secondary.loaded.error or 'no serial'})"
        if held is None
        else f"has serial {held}, {primary.name} serves {served}"
    )
    return Link(
        secondary.name,
        check,
        False,
        f"{secondary.name} {what}; every link above works, so named's log below says why",
        f"on {secondary.name}: rndc refresh {zone}; if it does not catch up, "
        f"`journalctl -u {secondary.layout.service}` says why",
        _tail(pair.at_secondary.log),
    )


CHECKS: tuple[Callable[[Pair], Link], ...] = (
    primary_named_runs,
    primary_serves_zone,
    primary_listens,
    secondary_named_runs,
    secondary_takes_zone,
    reaches_over_udp,
    reaches_over_tcp,
    transfer_allowed,
    serial_not_behind,
    notify_reaches,
    directory_writable,
    no_journal_in_the_way,
    in_sync,
)


def _tail(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(lines[-LOG_LINES_SHOWN:])
