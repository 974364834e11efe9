"""firewalld: its state and whether DNS is allowed (from the host facts), and a zone's
runtime rules as `firewall-cmd --list-all` prints them (for doctor)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Firewall:
    state: str  # "running", "not running", "absent"
    zone: str | None = None
    runtime_dns: bool = False
    permanent_dns: bool = False
    dbus: bool = False  # firewalld is reachable with busctl: change it over D-Bus, not firewall-cmd

    @property
    def dns_open(self) -> bool:
        return self.state != "running" or (self.runtime_dns and self.permanent_dns)


@dataclass(frozen=True)
class FirewallZone:
    """`firewall-cmd --zone=Z --list-all`: what the runtime configuration lets in."""

    name: str
    services: tuple[str, ...]
    ports: tuple[str, ...]
    rich_rules: tuple[str, ...]

    def dns_rules(self) -> tuple[str, ...]:
        """Rich rules that can stop DNS: about port 53 or the dns service, and not accepting it."""
        return tuple(
            rule
            for rule in self.rich_rules
            if ('port="53"' in rule or 'service name="dns"' in rule) and " accept" not in rule
        )


def parse_firewall_zone(name: str, lines: list[str]) -> FirewallZone | None:
    if not lines:
        return None
    values: dict[str, list[str]] = {}
    current = None
    for line in lines:
        key, sep, value = line.strip().partition(":")
        if sep and line.startswith("  "):
            current = key.strip()
            values[current] = value.split() if current != "rich rules" else []
        elif current == "rich rules" and line.strip():
            values[current].append(line.strip())
    return FirewallZone(
        name,
        tuple(values.get("services", [])),
        tuple(values.get("ports", [])),
        tuple(values.get("rich rules", [])),
    )
