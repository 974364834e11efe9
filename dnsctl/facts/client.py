"""A client's resolver: its NetworkManager connection's DNS settings (nmcli), resolv.conf,
and what getent and dig got."""

from __future__ import annotations

from dataclasses import dataclass

from dnsctl.facts.scripts import sections


@dataclass(frozen=True)
class DnsSettings:
    """A NetworkManager connection's DNS settings, as nmcli shows them."""

    connection: str
    dns: tuple[str, ...]
    ignore_auto_dns: str  # "yes" | "no"
    dns_options: tuple[str, ...]

    def as_nmcli(self) -> dict[str, str]:
        """The values to give `nmcli connection modify` to bring these settings back."""
        return {
            "ipv4.dns": " ".join(self.dns),
            "ipv4.ignore-auto-dns": self.ignore_auto_dns or "no",
            "ipv4.dns-options": ",".join(self.dns_options),
        }


def nm_list(text: str) -> list[str]:
    """A list value from `nmcli -g` (comma separated, colons escaped) or from us (spaces)."""
    return [item for item in text.replace("\\:", ":").replace(",", " ").split() if item]


def parse_nm_settings(text: str) -> DnsSettings:
    parts = sections(text)
    dns, ignore_auto, options = [*parts.get("settings", []), "", "", ""][:3]
    return DnsSettings(
        connection=parts["connection"][0],
        dns=tuple(nm_list(dns)),
        ignore_auto_dns=ignore_auto.strip(),
        dns_options=tuple(nm_list(options)),
    )


def parse_resolv_servers(text: str) -> list[str]:
    """The nameserver addresses of a resolv.conf, in order."""
    return [
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith("nameserver") and len(line.split()) > 1
    ]


def parse_getent(text: str) -> set[str]:
    """The addresses in `getent ahostsv4|ahostsv6 NAME` output."""
    return {line.split()[0] for line in text.splitlines() if line.split()}


def parse_dig_server(text: str) -> str | None:
    """The address of the server that answered, from dig's `;; SERVER:` line."""
    for line in text.splitlines():
        if line.startswith(";; SERVER:"):
            return line.split()[2].split("#")[0]
    return None
