"""What doctor reads at each end of a zone's transfer path: on the primary, where named
listens, the firewall zone, the journal and the log; on the secondary, dig over UDP and TCP
to the primary, the directory the zone's file goes to, the journal and the log."""

from __future__ import annotations

from dataclasses import dataclass

from dnsctl.facts.dig import DigAnswer, dig_missing, parse_dig
from dnsctl.facts.firewall import FirewallZone, parse_firewall_zone
from dnsctl.facts.scripts import sections


@dataclass(frozen=True)
class Listening:
    """Where named accepts DNS, from `ss`: local addresses per protocol."""

    udp: frozenset[str]
    tcp: frozenset[str]

    def covers(self, address: str, protocol: str) -> bool:
        sockets = self.udp if protocol == "udp" else self.tcp
        wildcard = "[::]" if ":" in address else "0.0.0.0"
        shown = f"[{address}]" if ":" in address else address
        return bool({shown, wildcard, "*"} & sockets)


def parse_listening(lines: list[str]) -> Listening:
    found: dict[str, set[str]] = {"udp": set(), "tcp": set()}
    for line in lines:
        protocol, _, local = line.strip().partition(" ")
        if protocol in found and ":" in local:
            # 127.0.0.1:53, [::1]:53, 127.0.0.53%lo:53, *:53
            found[protocol].add(local.rsplit(":", 1)[0].split("%", 1)[0])
    return Listening(frozenset(found["udp"]), frozenset(found["tcp"]))


@dataclass(frozen=True)
class Directory:
    """The directory named writes a secondary zone's file to."""

    path: str
    user: str  # named's user
    owner: str | None
    group: str | None
    mode: str | None
    writable: bool | None  # None: could not test
    selinux: str | None  # the SELinux context where SELinux is enabled

    @property
    def selinux_type(self) -> str | None:
        parts = (self.selinux or "").split(":")
        return parts[2] if len(parts) > 2 else None


def parse_directory(lines: list[str]) -> Directory:
    values = dict(line.split("=", 1) for line in lines if "=" in line)
    writable = values.get("writable")
    return Directory(
        path=values.get("path", ""),
        user=values.get("user", ""),
        owner=values.get("owner"),
        group=values.get("group"),
        mode=values.get("mode"),
        writable={"yes": True, "no": False}.get(writable or ""),
        selinux=values.get("selinux"),
    )


@dataclass(frozen=True)
class PrimaryPath:
    """What the primary shows about a zone's transfer path (PRIMARY_PATH_SCRIPT)."""

    listening: Listening
    firewall: FirewallZone | None
    journal: str | None
    log: tuple[str, ...]
    clock: float | None


@dataclass(frozen=True)
class SecondaryPath:
    """What the secondary sees of the path to its primary (SECONDARY_PATH_SCRIPT)."""

    udp: DigAnswer
    tcp: DigAnswer
    directory: Directory
    journal: str | None
    log: tuple[str, ...]
    clock: float | None


def _clock(lines: list[str]) -> float | None:
    try:
        return float(lines[0])
    except (IndexError, ValueError):
        return None


def _log(lines: list[str]) -> tuple[str, ...]:
    return tuple(line for line in lines if line.strip())


def _journal(lines: list[str]) -> str | None:
    return next((line.strip() for line in lines if line.strip()), None)


def parse_primary_path(text: str, firewall_zone: str | None) -> PrimaryPath:
    parts = sections(text)
    return PrimaryPath(
        listening=parse_listening(parts.get("listen", [])),
        firewall=parse_firewall_zone(firewall_zone, parts.get("firewall", [])) if firewall_zone else None,
        journal=_journal(parts.get("journal", [])),
        log=_log(parts.get("log", [])),
        clock=_clock(parts.get("clock", [])),
    )


def parse_secondary_path(text: str) -> SecondaryPath | None:
    """None when dig is not installed on the secondary."""
    if dig_missing(text):
        return None
    parts = sections(text)
    return SecondaryPath(
        udp=parse_dig("\n".join(parts.get("udp", []))),
        tcp=parse_dig("\n".join(parts.get("tcp", []))),
        directory=parse_directory(parts.get("directory", [])),
        journal=_journal(parts.get("journal", [])),
        log=_log(parts.get("log", [])),
        clock=_clock(parts.get("clock", [])),
    )
