"""Every shell script dnsctl runs to read a host, and the `@@name` sections their output is
framed in. Their parsers live beside the subject they read (host, files, named_config,
client, dig, doctor).

Scripts are constants; values (addresses, paths) reach them as positional
parameters, quoted by the connection, never by string formatting.
"""

from __future__ import annotations


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


# --- the host: OS, tools, named, firewalld ------------------------------------------------

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


# --- files dnsctl reads and may change, and the directories it needs ----------------------

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


MISSING_DIRS_SCRIPT = r"""
for d in "$@"; do
  if [ -L "$d" ]; then printf '!%s\n' "$d"; elif [ ! -d "$d" ]; then printf '%s\n' "$d"; fi
done
"""


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


# --- the existing configuration: does named accept it, and does a zone take dynamic updates?

EXISTING_SCRIPT = r"""
echo "@@checkconf"
if command -v named-checkconf >/dev/null 2>&1; then named-checkconf 2>&1; echo "status=$?"; fi
echo "@@journals"
for zone_file in "$@"; do if [ -e "$zone_file.jnl" ]; then echo "$zone_file"; fi; done
"""


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


# --- named's effective configuration, as `named-checkconf -px` prints it ----------------

# -x prints every key's secret as question marks: no secret leaves the host.
CONFIG_SCRIPT = r"""
conf=$1 zone=$2
echo "@@config"; named-checkconf -px "$conf" 2>&1; echo "status=$?"
echo "@@zonestatus"; rndc zonestatus "$zone" 2>&1; echo "status=$?"
"""


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
  trap 'exit 1' HUP INT TERM  # dash runs no EXIT trap on a signal: exit, so the key goes too
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
