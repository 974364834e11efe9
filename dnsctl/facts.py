"""Read remote state: each fact is one shell script plus a pure parser of its output.

Scripts are constants; values (addresses, paths) reach them as positional
parameters, quoted by the connection, never by string formatting.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from dnsctl.errors import PreconditionError
from dnsctl.platform import LAYOUTS, Layout, detect_layout

HOST_SCRIPT = r"""
addr=$1
echo "@@os-release"; cat /etc/os-release 2>/dev/null
echo "@@tools"
for tool in named named-checkconf named-checkzone rndc firewall-cmd nmcli systemctl; do
  command -v "$tool" >/dev/null 2>&1 && echo "$tool"
done
echo "@@named"
if command -v systemctl >/dev/null 2>&1; then systemctl is-active named 2>/dev/null
elif pgrep -x named >/dev/null 2>&1; then echo active; else echo inactive; fi
echo "@@firewall"
if command -v firewall-cmd >/dev/null 2>&1; then
  # Each firewall-cmd costs ~0.3 s (python + D-Bus): ask the independent ones at once.
  iface=$(ip -o addr show to "$addr" 2>/dev/null | awk '{print $2; exit}')
  tmp=$(mktemp -d)
  firewall-cmd --state >"$tmp/state" 2>&1 &
  firewall-cmd --get-default-zone >"$tmp/default" 2>/dev/null &
  if [ -n "$iface" ]; then firewall-cmd --get-zone-of-interface="$iface" >"$tmp/zone" 2>/dev/null & fi
  wait
  state=$(cat "$tmp/state"); echo "state=$state"
  if [ "$state" = running ]; then
    zone=$(cat "$tmp/zone" 2>/dev/null)
    [ -n "$zone" ] || zone=$(cat "$tmp/default")
    echo "zone=$zone"
    firewall-cmd --zone="$zone" --list-services >"$tmp/runtime" &
    firewall-cmd --permanent --zone="$zone" --list-services >"$tmp/permanent" &
    wait
    echo "runtime=$(cat "$tmp/runtime")"
    echo "permanent=$(cat "$tmp/permanent")"
  fi
  rm -rf "$tmp"
else
  echo "state=absent"
fi
"""

READ_FILES_SCRIPT = r"""
for path in "$@"; do
  if [ -e "$path" ]; then printf '%s\n' "+$path"; base64 -w0 < "$path"; echo
  else printf '%s\n' "-$path"; fi
done
"""


def sections(text: str) -> dict[str, list[str]]:
    """Split `@@name` delimited output into lines per section."""
    result: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("@@"):
            current = result.setdefault(line[2:].strip(), [])
        elif current is not None:
            current.append(line)
    return result


@dataclass(frozen=True)
class Firewall:
    state: str  # "running", "not running", "absent"
    zone: str | None = None
    runtime_dns: bool = False
    permanent_dns: bool = False

    @property
    def dns_open(self) -> bool:
        return self.state != "running" or (self.runtime_dns and self.permanent_dns)


@dataclass(frozen=True)
class HostFacts:
    os_release: str
    tools: frozenset[str]
    named_active: bool
    firewall: Firewall
    layout: Layout | None

    @property
    def bind_installed(self) -> bool:
        return {"named", "named-checkconf", "named-checkzone", "rndc"} <= self.tools


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
    )
    return HostFacts(
        os_release=os_release,
        tools=frozenset(line.strip() for line in parts.get("tools", []) if line.strip()),
        named_active=[line.strip() for line in parts.get("named", [])][:1] == ["active"],
        firewall=firewall,
        layout=LAYOUTS[layout_name] if layout_name else detect_layout(os_release),
    )


def parse_files(text: str) -> dict[str, str | None]:
    """Contents by path from READ_FILES_SCRIPT output; None for a missing file."""
    files: dict[str, str | None] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("-"):
            files[line[1:]] = None
        elif line.startswith("+"):
            try:
                files[line[1:]] = base64.b64decode(next(lines, "")).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise PreconditionError(f"{line[1:]}: cannot read as UTF-8 text: {exc}") from None
    return files
