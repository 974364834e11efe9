"""Read remote state: each fact is one shell script plus a pure parser of its output.

Scripts are constants; values (addresses, paths) reach them as positional
parameters, quoted by the connection, never by string formatting.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from dnsctl import secrets
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
iface=$(ip -o addr show to "$addr" 2>/dev/null | awk '{print $2; exit}')
fw=/org/fedoraproject/FirewallD1
if ! command -v firewall-cmd >/dev/null 2>&1; then
  echo "state=absent"
elif command -v busctl >/dev/null 2>&1; then
  # firewalld's D-Bus API answers in ~15 ms; each firewall-cmd costs ~0.3 s of CPU.
  bus() {
    busctl call org.fedoraproject.FirewallD1 "$@" 2>/dev/null |
      sed -e 's/^[a-z]* \([0-9]* \)\{0,1\}//' -e 's/"//g'
  }
  state=$(busctl get-property org.fedoraproject.FirewallD1 $fw org.fedoraproject.FirewallD1 state 2>/dev/null)
  if [ "$state" = 's "RUNNING"' ]; then
    echo "state=running"
    zone=""
    [ -n "$iface" ] && zone=$(bus $fw org.fedoraproject.FirewallD1.zone getZoneOfInterface s "$iface")
    [ -n "$zone" ] || zone=$(bus $fw org.fedoraproject.FirewallD1 getDefaultZone)
    echo "zone=$zone"
    echo "runtime=$(bus $fw org.fedoraproject.FirewallD1.zone getServices s "$zone")"
    config=$(bus $fw/config org.fedoraproject.FirewallD1.config getZoneByName s "$zone")
    echo "permanent=$(bus "$config" org.fedoraproject.FirewallD1.config.zone getServices)"
  else
    echo "state=not running"
  fi
else
  state=$(firewall-cmd --state 2>&1); echo "state=$state"
  if [ "$state" = running ]; then
    zone=""
    [ -n "$iface" ] && zone=$(firewall-cmd --get-zone-of-interface="$iface" 2>/dev/null)
    [ -n "$zone" ] || zone=$(firewall-cmd --get-default-zone)
    echo "zone=$zone"
    echo "runtime=$(firewall-cmd --zone="$zone" --list-services)"
    echo "permanent=$(firewall-cmd --permanent --zone="$zone" --list-services)"
  fi
fi
"""

READ_FILES_SCRIPT = r"""
# Arguments: files dnsctl may change, then `--`, then include targets (paths or patterns).
# Never through a link: a file is read with O_NOFOLLOW after lstat says it is a regular
# file, and its lstat before and after the read must agree (same inode, links, ctime).
exec 3>&1
show() {
  path=$1
  if [ -L "$path" ]; then printf '!%s\nis a symbolic link\n' "$path"; return; fi
  if [ ! -e "$path" ]; then printf -- '-%s\n' "$path"; realpath -m -- "$path"; return; fi
  before=$(stat -c '%F/%h/%u/%g/%a/%d/%i/%z' -- "$path")
  case "$before" in
    "regular file/"* | "regular empty file/"*) ;;
    *) printf '!%s\nis not a regular file (%s)\n' "$path" "${before%%/*}"; return ;;
  esac
  printf '+%s\n' "$path"; realpath -m -- "$path"; echo "$before"
  status=$( { { dd if="$path" iflag=nofollow,nonblock status=none; echo $? >&4; } | base64 -w0 >&3; } 4>&1 )
  echo
  echo "$status $(stat -c '%F/%h/%u/%g/%a/%d/%i/%z' -- "$path" 2>/dev/null)"
}
while [ $# -gt 0 ] && [ "$1" != -- ]; do show "$1"; shift; done
[ $# -gt 0 ] && shift
# named opens an include as the kernel resolves it, a pattern as glob(3) expands it:
# unquoted, with IFS empty, the shell expands the pattern without splitting it.
IFS=''
for target in "$@"; do
  printf '?%s\n' "$target"
  for match in $target; do
    canonical=$(realpath -e -- "$match" 2>/dev/null) || continue
    printf '=%s\n%s\n' "$target" "$canonical"
    show "$canonical"
  done
done
"""


@dataclass(frozen=True)
class FileState:
    """A file as read from a host: its text, who owns it and how, and its real path."""

    path: str
    canonical: str  # the path with every link resolved, as named would open it
    text: str | None  # None: the file does not exist
    uid: str = "0"
    gid: str = "0"
    mode: int = 0o644
    links: int = 1


def parse_files(text: str) -> dict[str, FileState]:
    """The files in READ_FILES_SCRIPT output, by the path they were read as.

    Raises PreconditionError for a link, a file that is not a regular file, or one
    that changed while it was read: dnsctl never reads through or writes over those.
    """
    files: dict[str, FileState] = {}
    lines = iter(text.splitlines())
    for line in lines:
        kind, path = line[:1], line[1:]
        if kind == "!":
            reason = next(lines, "cannot be read")
            raise PreconditionError(
                f"{path} {reason}; dnsctl reads and replaces regular files only, never through a link"
            )
        if kind == "-":
            files[path] = FileState(path, next(lines, path), None)
        elif kind == "+":
            canonical, before, content, after = (next(lines, "") for _ in range(4))
            status, _, after_meta = after.partition(" ")
            if status != "0" or after_meta != before:
                raise PreconditionError(f"{path} changed while dnsctl read it; try again")
            _kind, links, uid, gid, mode = before.split("/")[:5]
            try:
                decoded = base64.b64decode(content).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise PreconditionError(f"{path}: cannot read as UTF-8 text: {exc}") from None
            secrets.remember(decoded)
            files[path] = FileState(path, canonical, decoded, uid, gid, int(mode, 8), int(links))
    return files


def parse_resolved(text: str) -> dict[str, list[str]]:
    """Include targets in READ_FILES_SCRIPT output: target -> the canonical files it loads."""
    resolved: dict[str, list[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("?"):
            resolved.setdefault(line[1:], [])
        elif line.startswith("="):
            resolved.setdefault(line[1:], []).append(next(lines, ""))
    return resolved


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


# --- the existing configuration: does named accept it, and does a zone take dynamic updates?

EXISTING_SCRIPT = r"""
echo "@@checkconf"
if command -v named-checkconf >/dev/null 2>&1; then named-checkconf 2>&1; echo "status=$?"; fi
echo "@@journals"
for zone_file in "$@"; do if [ -e "$zone_file.jnl" ]; then echo "$zone_file"; fi; done
"""


@dataclass(frozen=True)
class Existing:
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


MISSING_DIRS_SCRIPT = r"""
for d in "$@"; do
  if [ -L "$d" ]; then printf '!%s\n' "$d"; elif [ ! -d "$d" ]; then printf '%s\n' "$d"; fi
done
"""


def parse_missing_dirs(text: str) -> set[str]:
    """The directories to create; a link where one should be is refused, never followed."""
    missing = set()
    for line in text.splitlines():
        if line.startswith("!"):
            raise PreconditionError(
                f"{line[1:]} is a symbolic link; dnsctl never creates or changes a directory through a link"
            )
        if line:
            missing.add(line)
    return missing


# --- clients: NetworkManager, the resolver, and who answered ---------------------------

NM_READ_SCRIPT = r"""
connection=$1
if [ -z "$connection" ]; then
  connection=$(nmcli -g NAME,DEVICE connection show --active |
    awk -F: '$2 != "lo" && $2 != "" {print $1; exit}')
fi
[ -n "$connection" ] || { echo "no active NetworkManager connection" >&2; exit 3; }
echo "@@connection"; printf '%s\n' "$connection"
echo "@@settings"; nmcli -g ipv4.dns,ipv4.ignore-auto-dns,ipv4.dns-options connection show "$connection"
"""


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
