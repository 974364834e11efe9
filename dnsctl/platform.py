"""Where BIND keeps things on each OS family, and how to detect the family."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Layout:
    name: str
    named_conf: str  # the file named is started with
    options_file: str  # the file holding the options { } block
    include_parent: str  # the administrator's file that gets dnsctl's include line
    managed_conf: str  # the one file dnsctl owns: all of its zone stanzas
    directory: str  # named's options directory: relative zone paths start here
    primary_dir: str
    secondary_dir: str
    service: str
    group: str  # the group named runs as; it must read zones and write secondaries
    packages: tuple[str, ...]
    install: tuple[str, ...]  # command prefix; the packages are appended

    def primary_file(self, zone: str) -> str:
        return f"{self.primary_dir}/{zone}.db"

    def secondary_file(self, zone: str) -> str:
        return f"{self.secondary_dir}/{zone}.db"

    def config_files(self) -> tuple[str, ...]:
        """The configuration files dnsctl may change, parents before children."""
        return tuple(
            dict.fromkeys((self.named_conf, self.options_file, self.include_parent, self.managed_conf))
        )


DEBIAN = Layout(
    name="debian",
    named_conf="/etc/bind/named.conf",
    options_file="/etc/bind/named.conf.options",
    include_parent="/etc/bind/named.conf.local",
    managed_conf="/etc/bind/named.conf.dnsctl",
    directory="/var/cache/bind",
    # /var/lib/bind is what Debian's AppArmor profile lets named write (journals);
    # secondaries are a re-transferable cache, as Debian's README.Debian suggests.
    primary_dir="/var/lib/bind",
    secondary_dir="/var/cache/bind/slaves",
    service="named",
    group="bind",
    packages=("bind9", "bind9-utils"),
    install=("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q"),
)

RHEL = Layout(
    name="rhel",
    named_conf="/etc/named.conf",
    options_file="/etc/named.conf",
    include_parent="/etc/named.conf",
    managed_conf="/etc/named.dnsctl.conf",
    directory="/var/named",
    primary_dir="/var/named",
    secondary_dir="/var/named/slaves",
    service="named",
    group="named",
    packages=("bind", "bind-utils"),
    install=("dnf", "install", "-y", "-q"),
)

LAYOUTS = {layout.name: layout for layout in (DEBIAN, RHEL)}

_RHEL_IDS = {"rhel", "fedora", "centos", "rocky", "almalinux", "ol", "amzn"}
_DEBIAN_IDS = {"debian", "ubuntu", "raspbian", "linuxmint"}


def parse_os_release(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            fields[key.strip()] = value.strip().strip("\"'")
    return fields


def detect_layout(os_release: str) -> Layout | None:
    """The layout for an /etc/os-release text, or None for an unknown family."""
    fields = parse_os_release(os_release)
    ids = {fields.get("ID", "")} | set(fields.get("ID_LIKE", "").split())
    if ids & _DEBIAN_IDS:
        return DEBIAN
    if ids & _RHEL_IDS:
        return RHEL
    return None
