"""Read remote state: each fact is one shell script plus a pure parser of its output.

Scripts are constants; values (addresses, paths) reach them as positional
parameters, quoted by the connection, never by string formatting.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from dnsctl import namedconf, secrets
from dnsctl.errors import PreconditionError
from dnsctl.namedconf import Statement
from dnsctl.platform import LAYOUTS, Layout, detect_layout

HOST_SCRIPT = r"""
addr=$1
echo "@@os-release"; cat /etc/os-release 2>/dev/null
echo "@@tools"
for tool in named named-checkconf named-checkzone rndc firewall-cmd nmcli systemctl; do
  command -v "$tool" >/dev/null 2>&1 && echo "$tool"
done
echo "@@named-version"; named -v 2>/dev/null
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
    echo "api=dbus"
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
    echo "api=firewall-cmd"
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
    dbus: bool = False  # firewalld is reachable with busctl: change it over D-Bus, not firewall-cmd

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
    named_version: tuple[int, int] | None = None  # (9, 18) from `named -v`; None if unknown

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


# Everything gather() reads, in one round trip, before the host's OS is known: its facts,
# then for each layout it may have, that layout's missing directories and its files. Each
# part is its script above, run as a shell function. $1 the server's address; then per
# layout three words: its name, its directories and its READ_FILES_SCRIPT arguments, each
# list one path per line (dnsctl's paths and zone names never hold a newline).
PREFLIGHT_SCRIPT = f"""
host_facts() {{
{HOST_SCRIPT}
}}
missing_dirs() {{
{MISSING_DIRS_SCRIPT}
}}
read_files() {{
{READ_FILES_SCRIPT}
}}
"""
PREFLIGHT_SCRIPT += r"""
# Call function $1 with the lines of $2 as its arguments: split at newlines only, no globbing.
on_lines() (
  IFS='
'
  set -f
  set -- "$1" $2
  set +f
  unset IFS
  "$@"
)
host_facts "$1"; shift
while [ $# -ge 3 ]; do
  echo "@@layout $1"
  echo "@@missing-dirs"; on_lines missing_dirs "$2"
  echo "@@files"; on_lines read_files "$3"
  shift 3
done
"""
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


# --- named's effective configuration, as `named-checkconf -px` prints it ----------------

# -x prints every key's secret as question marks: no secret leaves the host.
CONFIG_SCRIPT = r"""
conf=$1 zone=$2
echo "@@config"; named-checkconf -px "$conf" 2>&1; echo "status=$?"
echo "@@zonestatus"; rndc zonestatus "$zone" 2>&1; echo "status=$?"
"""


def _find(statement: Statement, keyword: str) -> Statement | None:
    return next((s for s in statement.block or () if s.words[:1] == (keyword,)), None)


def _entries(statement: Statement, *keywords: str) -> tuple[str, ...] | None:
    """The entries of the first `keyword [...] { a; b c; }` among keywords, each as one string."""
    for keyword in keywords:
        found = _find(statement, keyword)
        if found is not None and found.block is not None:
            return tuple(entry.text() for entry in found.block)
    return None


def _value(statement: Statement, keyword: str) -> str | None:
    found = _find(statement, keyword)
    return found.words[1] if found is not None and len(found.words) > 1 else None


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    type: str  # master | primary | slave | secondary | ...
    file: str | None
    primaries: tuple[str, ...]  # "198.51.100.10" or "198.51.100.10 key xfer"
    allow_transfer: tuple[str, ...] | None  # None: not set in the zone
    allow_query: tuple[str, ...] | None
    also_notify: tuple[str, ...]
    notify: str | None  # yes | no | explicit | primary-only | None (not set: yes)

    @property
    def is_primary(self) -> bool:
        return self.type in ("master", "primary")

    @property
    def is_secondary(self) -> bool:
        return self.type in ("slave", "secondary")

    def primary_key(self, address: str) -> str | None:
        """The TSIG key named uses towards the primary at address, if any."""
        for entry in self.primaries:
            words = entry.split()
            if words and words[0] == address and "key" in words[:-1]:
                return words[words.index("key") + 1]
        return None


@dataclass(frozen=True)
class NamedConfig:
    error: str | None  # why named-checkconf rejects the configuration
    directory: str | None
    listen_on: tuple[str, ...] | None  # None: no listen-on, named listens on every IPv4 address
    allow_transfer: tuple[str, ...] | None  # the options' default for every zone
    zones: dict[str, ZoneConfig]

    def path(self, file: str) -> str:
        """A zone file's path as named opens it: relative paths start at the options directory."""
        return file if file.startswith("/") else f"{(self.directory or '.').rstrip('/')}/{file}"


@dataclass(frozen=True)
class ZoneStatus:
    """`rndc zonestatus ZONE`: what the running named has loaded."""

    error: str | None  # rndc's reason when named cannot tell (not running, no such zone)
    type: str | None = None
    serial: int | None = None
    files: str | None = None


def _section_status(lines: list[str]) -> tuple[list[str], int | None]:
    """A section's output lines and the exit status the script appended as `status=N`."""
    if lines and lines[-1].startswith("status="):
        return lines[:-1], int(lines[-1].removeprefix("status=") or 1)
    return lines, None


def parse_config(text: str) -> tuple[NamedConfig, ZoneStatus]:
    """CONFIG_SCRIPT's output."""
    parts = sections(text)
    config_lines, status = _section_status(parts.get("config", []))
    config = parse_named_config("\n".join(config_lines), None if status == 0 else _last_line(config_lines))
    zone_lines, status = _section_status(parts.get("zonestatus", []))
    if status != 0:
        return config, ZoneStatus(_last_line(zone_lines) or "rndc zonestatus failed")
    fields = dict(line.split(": ", 1) for line in zone_lines if ": " in line)
    serial = fields.get("serial", "")
    return config, ZoneStatus(
        None, fields.get("type"), int(serial) if serial.isdigit() else None, fields.get("files")
    )


def _last_line(lines: list[str]) -> str | None:
    """The most telling line of a failed command: rndc puts the reason last, after its own."""
    meaningful = [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else None


def parse_named_config(text: str, error: str | None = None) -> NamedConfig:
    statements = namedconf.parse(text)
    options = next((s for s in statements if s.words == ("options",)), Statement(("options",), ()))
    listen_on: list[str] | None = None
    for statement in options.block or ():
        # listen-on [port N] { ... }: only the DNS port matters here.
        if statement.words[:1] == ("listen-on",) and statement.words[1:] in ((), ("port", "53")):
            listen_on = [*(listen_on or []), *(entry.text() for entry in statement.block or ())]
    zones: dict[str, ZoneConfig] = {}
    views = [s for s in statements if s.words[:1] == ("view",)]
    for statement in [*statements, *(inner for view in views for inner in view.block or ())]:
        if statement.words[:1] != ("zone",) or len(statement.words) < 2 or statement.block is None:
            continue
        name = statement.words[1].rstrip(".").lower()
        zones.setdefault(
            name,
            ZoneConfig(
                name=name,
                type=_value(statement, "type") or "",
                file=_value(statement, "file"),
                primaries=_entries(statement, "primaries", "masters") or (),
                allow_transfer=_entries(statement, "allow-transfer"),
                allow_query=_entries(statement, "allow-query"),
                also_notify=_entries(statement, "also-notify") or (),
                notify=_value(statement, "notify"),
            ),
        )
    return NamedConfig(
        error=error,
        directory=_value(options, "directory"),
        listen_on=tuple(listen_on) if listen_on is not None else None,
        allow_transfer=_entries(options, "allow-transfer"),
        zones=zones,
    )


# --- dig, run on a server to test the path to another -------------------------------------

_DIG_ERROR = re.compile(
    r"^;; (?:communications error to \S+: |Connection to \S+ for \S+ failed: |)"
    r"(connection refused|host unreachable|network unreachable|connection timed out|timed out|"
    r"connection reset|end of file)",
    re.IGNORECASE,
)
_TSIG_ERROR = re.compile(r"\b(BADSIG|BADKEY|BADTIME|BADTRUNC|BADMODE|BADNAME|BADALG)\b")


def _dig_error(text: str) -> str | None:
    for line in text.splitlines():
        match = _DIG_ERROR.match(line)
        if match:
            reason = match.group(1).lower()
            return "timed out" if "timed out" in reason else reason
    return None


@dataclass(frozen=True)
class DigAnswer:
    """A query by dig, as its default output shows it."""

    status: str | None  # the rcode; None when no answer came
    authoritative: bool
    records: tuple[tuple[str, str, str, str], ...]  # (section, owner, type, data)
    error: str | None  # "connection refused", "host unreachable", "timed out"...

    @property
    def serial(self) -> int | None:
        soa = [data for section, _, rdtype, data in self.records if section == "ANSWER" and rdtype == "SOA"]
        return int(soa[0].split()[2]) if soa else None

    def addresses(self, owner: str) -> set[str]:
        """The A and AAAA data for owner (absolute, with its final dot) in any section."""
        return {data for _, name, rdtype, data in self.records if name == owner and rdtype in ("A", "AAAA")}


def parse_dig(text: str) -> DigAnswer:
    status = None
    authoritative = False
    section = ""
    records = []
    for line in text.splitlines():
        if line.startswith(";; ->>HEADER<<-"):
            status = line.split("status:", 1)[1].split(",", 1)[0].strip()
        elif line.startswith(";; flags:"):
            authoritative = "aa" in line.split(";", 3)[2].split(":", 1)[1].split()
        elif line.startswith(";; ") and line.endswith(" SECTION:"):
            section = line[3:].split()[0]
        elif line.strip() and not line.startswith(";"):
            fields = line.split(None, 4)
            if len(fields) == 5:
                owner, _ttl, _class, rdtype, data = fields
                records.append((section, owner, rdtype, data.strip()))
    return DigAnswer(status, authoritative, tuple(records), None if status else _dig_error(text))


# --- zone transfers, asked with dig from one host of another ---------------------------------

# $1 zone, $2 source address ("" for any), $3 the TSIG key named uses ("" for none),
# $4 named.conf, $5 "count" (keep dig's comments, count the records) or "dump" (everything),
# then the addresses to ask, each answer under @@ADDRESS.
TRANSFER_SCRIPT = r"""
zone=$1 source=$2 key=$3 conf=$4 mode=$5; shift 5
if ! command -v dig >/dev/null 2>&1; then echo "@@no-dig"; exit 0; fi
keyfile=""
if [ -n "$key" ]; then
  umask 077
  dir=$(mktemp -d) || exit 1
  trap 'rm -rf "$dir"' EXIT
  keyfile=$dir/key
  # The key's secret goes from named's configuration into a file only root reads: never an argument.
  named-checkconf -p "$conf" |
    awk -v want="key \"$key\" {" '$0 == want {p = 1} p {print} p && /^};/ {exit}' > "$keyfile"
fi
for addr in "$@"; do
  echo "@@$addr"
  if [ "$mode" = dump ]; then
    dig +time=2 +tries=1 ${source:+-b "$source"} ${keyfile:+-k "$keyfile"} axfr "$zone" "@$addr" 2>&1
  else
    dig +time=2 +tries=1 ${source:+-b "$source"} ${keyfile:+-k "$keyfile"} axfr "$zone" "@$addr" 2>&1 |
      awk '/^;/ || $4 == "TSIG" {print; next} NF {n++} END {print ";; dnsctl records: " n + 0}'
  fi
done
"""


@dataclass(frozen=True)
class Transfer:
    """One AXFR attempt as dig reports it."""

    records: int  # records received (the SOA counted twice, as dig shows it)
    failed: bool  # the server answered with an error: dig says "Transfer failed."
    tsig_error: str | None  # BADSIG, BADKEY, BADTIME...: the server did not accept our signature
    error: str | None  # no answer at all: "connection refused", "timed out"...

    @property
    def ok(self) -> bool:
        return self.records > 0 and not (self.failed or self.tsig_error or self.error)

    def describe(self) -> str:
        if self.error:
            return self.error
        if self.tsig_error:
            return f"TSIG error {self.tsig_error}"
        if self.failed or not self.records:
            return "refused (Transfer failed)"
        return f"transferred {self.records} records"


def parse_transfers(text: str) -> dict[str, Transfer]:
    """TRANSFER_SCRIPT's output, by address asked."""
    if text.startswith("@@no-dig"):
        return {}
    return {address: parse_transfer("\n".join(lines)) for address, lines in sections(text).items()}


def parse_transfer(text: str) -> Transfer:
    counted = re.search(r"^;; dnsctl records: (\d+)$", text, re.MULTILINE)
    records = (
        int(counted.group(1))
        if counted
        else sum(1 for line in text.splitlines() if line.strip() and not line.startswith(";"))
    )
    tsig = _TSIG_ERROR.search(text)
    failed = "; Transfer failed." in text
    error = _dig_error(text)
    if not (records or failed or tsig or error):
        # dig itself failed (a source address the host does not have, no such option...)
        said = [line.strip() for line in text.splitlines() if line.strip() and "dnsctl records" not in line]
        error = f"dig failed: {said[-1].lstrip(';').strip()}" if said else "dig printed nothing"
    return Transfer(records, failed, tsig.group(1) if tsig else None, error)


def dig_missing(text: str) -> bool:
    return text.startswith("@@no-dig")


# --- doctor: each side of a zone's transfer path ------------------------------------------

# Run on the primary. $1 zone, $2 its file as named opens it, $3 the firewalld zone ("" when
# firewalld does not run).
PRIMARY_PATH_SCRIPT = r"""
zone=$1 file=$2 fwzone=$3
echo "@@listen"
ss -H -lnu 'sport = :53' | awk '{print "udp " $4}'
ss -H -lnt 'sport = :53' | awk '{print "tcp " $4}'
echo "@@firewall"
[ -n "$fwzone" ] && firewall-cmd --zone="$fwzone" --list-all 2>&1
echo "@@journal"
[ -n "$file" ] && [ -e "$file.jnl" ] && printf '%s\n' "$file.jnl"
echo "@@log"
journalctl -u named --no-pager -o short-iso -n 20000 2>/dev/null |
  grep -F -e "zone $zone/" -e "'$zone/" -e "($zone)" -e "zone '$zone'" -e "TSIG" | tail -n 40
echo "@@clock"; date +%s.%N
"""

# Run on the secondary. $1 zone, $2 the primary's address, $3 the zone's file as named opens
# it, $4 the user named runs as when it does not run now.
SECONDARY_PATH_SCRIPT = r"""
zone=$1 primary=$2 file=$3 user=$4
if ! command -v dig >/dev/null 2>&1; then echo "@@no-dig"; exit 0; fi
echo "@@udp"
dig +norecurse +time=2 +tries=1 +nocmd +nostats +noquestion +notcp SOA "$zone" "@$primary" 2>&1
echo "@@tcp"
dig +norecurse +time=2 +tries=1 +nocmd +nostats +noquestion +tcp SOA "$zone" "@$primary" 2>&1
echo "@@directory"
dir=$(dirname "$file")
running=$(ps -o user= -C named 2>/dev/null | head -n 1)
[ -n "$running" ] && user=$running
echo "path=$dir"
echo "user=$user"
stat -c 'owner=%U
group=%G
mode=%a' "$dir" 2>&1
if ! command -v runuser >/dev/null 2>&1; then echo "writable=unknown"
elif runuser -u "$user" -- test -w "$dir" 2>/dev/null; then echo "writable=yes"
else echo "writable=no"; fi
if command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then echo "selinux=$(stat -c %C "$dir")"; fi
echo "@@journal"
[ -e "$file.jnl" ] && printf '%s\n' "$file.jnl"
echo "@@log"
# Writing the zone's file is logged by path ("dumping master file: DIR/tmp-...: permission denied").
journalctl -u named --no-pager -o short-iso -n 20000 2>/dev/null |
  grep -F -e "zone $zone/" -e "'$zone/" -e "($zone)" -e "zone '$zone'" -e "$dir/" | tail -n 40
echo "@@clock"; date +%s.%N
"""


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
        if sep and line.startswith("  ") and not line.startswith("\t"):
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


def parse_primary_path(text: str, firewall_zone: str | None) -> PrimaryPath:
    parts = sections(text)
    journal = [line.strip() for line in parts.get("journal", []) if line.strip()]
    return PrimaryPath(
        listening=parse_listening(parts.get("listen", [])),
        firewall=parse_firewall_zone(firewall_zone, parts.get("firewall", [])) if firewall_zone else None,
        journal=journal[0] if journal else None,
        log=_log(parts.get("log", [])),
        clock=_clock(parts.get("clock", [])),
    )


def parse_secondary_path(text: str) -> SecondaryPath | None:
    """None when dig is not installed on the secondary."""
    if dig_missing(text):
        return None
    parts = sections(text)
    journal = [line.strip() for line in parts.get("journal", []) if line.strip()]
    return SecondaryPath(
        udp=parse_dig("\n".join(parts.get("udp", []))),
        tcp=parse_dig("\n".join(parts.get("tcp", []))),
        directory=parse_directory(parts.get("directory", [])),
        journal=journal[0] if journal else None,
        log=_log(parts.get("log", [])),
        clock=_clock(parts.get("clock", [])),
    )
