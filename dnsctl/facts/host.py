"""The host as the preflight reads it: OS, tools, whether named runs and which version,
firewalld's state, the layout (Debian or RHEL paths); and whether named accepts the
configuration it has today.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dnsctl.errors import PreconditionError
from dnsctl.facts.firewall import Firewall
from dnsctl.facts.scripts import sections
from dnsctl.platform import LAYOUTS, Layout, detect_layout


@dataclass(frozen=True)
class HostFacts:
    os_release: str
    tools: frozenset[str]
    named_active: bool
    firewall: Firewall
    layout: Layout | None
    named_version: tuple[int, int] | None = None  # (9, 18) from `named -v`; None if unknown

    @property
    def bind_installed(self) -> bool:
        return {"named", "named-checkconf", "named-checkzone", "rndc"} <= self.tools

    def known_layout(self, server: str) -> Layout:
        """The layout; PreconditionError when neither the inventory nor os-release tells it."""
        if self.layout is None:
            raise PreconditionError(
                f"{server}: cannot tell the OS family from /etc/os-release; set servers.{server}.layout"
            )
        return self.layout


def parse_host_facts(text: str, layout_name: str | None = None) -> HostFacts:
    """HOST_SCRIPT's output; layout_name (from the inventory) overrides detection."""
    parts = sections(text)
    os_release = "\n".join(parts.get("os-release", []))
    values = dict(line.split("=", 1) for line in parts.get("firewall", []) if "=" in line)
    firewall = Firewall(
        state=values.get("state", "absent").strip(),
        zone=values.get("zone", "").strip() or None,
        runtime_dns="dns" in values.get("runtime", "").split(),
        permanent_dns="dns" in values.get("permanent", "").split(),
        dbus=values.get("api", "").strip() == "dbus",
    )
    return HostFacts(
        os_release=os_release,
        tools=frozenset(line.strip() for line in parts.get("tools", []) if line.strip()),
        named_active=[line.strip() for line in parts.get("named", [])][:1] == ["active"],
        firewall=firewall,
        layout=LAYOUTS[layout_name] if layout_name else detect_layout(os_release),
        named_version=parse_named_version(" ".join(parts.get("named-version", []))),
    )


def parse_named_version(text: str) -> tuple[int, int] | None:
    """(major, minor) from `named -v` output such as "BIND 9.18.49-1~deb12u1-Debian (...)"."""
    match = re.search(r"\bBIND (\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


_LAYOUT_PART = re.compile(r"^@@layout (\S+)\n", re.MULTILINE)
_LAYOUT_READS = re.compile(r"^@@(?:missing-dirs|files)\n", re.MULTILINE)


def preflight_arguments(address: str, reads: dict[str, tuple[list[str], list[str]]]) -> list[str]:
    """PREFLIGHT_SCRIPT's arguments: reads maps a layout's name to (directories, READ_FILES
    arguments)."""
    words = [address]
    for name, (directories, arguments) in reads.items():
        words += [name, "\n".join(directories), "\n".join(arguments)]
    return words


def split_preflight(text: str) -> tuple[str, dict[str, tuple[str, str]]]:
    """PREFLIGHT_SCRIPT's output: the facts, and per layout its MISSING_DIRS_SCRIPT and
    READ_FILES_SCRIPT output, to be parsed only for the layout the host turns out to have."""
    facts_text, *parts = _LAYOUT_PART.split(text)
    reads = {}
    for name, body in zip(parts[::2], parts[1::2], strict=True):
        _, dirs_text, files_text = _LAYOUT_READS.split(body, maxsplit=2)
        reads[name] = (dirs_text, files_text)
    return facts_text, reads


@dataclass(frozen=True)
class Existing:
    """The existing configuration: does named accept it, and does a zone take dynamic updates?"""

    checkconf_error: str | None  # why named-checkconf rejects today's configuration, or None
    journals: tuple[str, ...]  # zone files that have a .jnl beside them


def parse_existing(text: str) -> Existing:
    parts = sections(text)
    check = parts.get("checkconf", [])
    error = None
    if check and check[-1].strip() != "status=0":
        error = next((line.strip() for line in check[:-1] if line.strip()), "rejected")
    journals = tuple(line.strip() for line in parts.get("journals", []) if line.strip())
    return Existing(error, journals)
