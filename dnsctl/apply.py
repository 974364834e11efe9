"""Carry out a host plan safely: validate -> stage -> compare -> back up -> atomic move -> reload.

dnsctl runs as root where less trusted accounts (the user named runs as, local
users) can write some of the directories it works in (/var/lib/bind is root:bind
775), so nothing here follows a name someone else may have planted:

- Validation copies of the whole new configuration and zones go into a fresh
  private directory (0700, random name, under a root-only parent); named-checkzone,
  named-checkconf -z and the `named-checkconf -p` guard (namedconf.compare) read
  only those, so they read exactly what named will read after activation.
- Staged files get random names beside their targets and are created exclusively
  (`dd conv=excl`: O_CREAT|O_EXCL, which never follows a link), with their mode
  set by the umask at creation and their owner by `chown -h`; never a chmod by name.
- Just before the move, each target must still hold what the plan was made
  against (sha256), or nothing on the host is replaced. A copy of it goes to a
  root-only backup directory, read with O_NOFOLLOW, with its owner and mode.
- `mv -T` renames over the target: a link there is replaced, never followed.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
from dataclasses import dataclass, field, replace
from secrets import token_hex

import dns.serial

from dnsctl import interrupt, namedconf, render, secrets, tsig
from dnsctl.errors import CommandFailed, RemoteError, RolledBack, ValidationError
from dnsctl.plan import FileChange, HostPlan
from dnsctl.remote import Connection, Result
from dnsctl.service import start_command

BACKUP_ROOT = "/var/backups/dnsctl"
CHECK_ROOT = "/run/dnsctl"  # validation copies, each run in its own private directory
NEW_FILE_MODE = 0o644


@dataclass
class Activation:
    """What was done on one host, so it can be undone."""

    plan: HostPlan
    backup_dir: str
    restored_serials: dict[str, int] = field(default_factory=dict)  # zone -> serial after rollback


# --- creating files without following anything ---------------------------------------

WRITE_SCRIPT = r"""
# Create $1 from standard input; fail if anything at all, even a dangling link, has that name.
set -e
umask "$3"
dd of="$1" conv=excl status=none
chown -h -- "$2" "$1"
"""

CHECK_DIR_SCRIPT = r"""
# $1: a new private directory; then the directories to make inside it.
set -e
umask 077
dir=$1; shift
parent=${dir%/*}
if [ -L "$parent" ]; then echo "$parent is a symbolic link" >&2; exit 1; fi
mkdir -p -- "$parent"
owner_mode=$(stat -c '%u %a' -- "$parent")
if [ "${owner_mode% *}" != "$(id -u)" ] || [ $(( 0${owner_mode#* } & 022 )) -ne 0 ]; then
  echo "$parent must be owned by $(id -un) and writable by no one else" >&2; exit 1
fi
mkdir -- "$dir"
for sub in "$@"; do mkdir -p -- "$dir$sub"; done
"""


def fresh_name(target: str) -> str:
    """A name beside target that no one can have guessed and planted in advance."""
    return f"{target}.dnsctl-{token_hex(8)}"


def write_new_files(connection: Connection, files: list[tuple[str, str, str, int]]) -> None:
    """Create each path exclusively with its content, owner ("uid:gid" or names) and mode:
    (path, content, owner, mode). Side by side, each on its own channel: one round trip."""
    commands = [
        ["sh", "-c", WRITE_SCRIPT, "dnsctl-write", path, owner, f"{0o777 & ~mode:04o}"]
        for path, _, owner, mode in files
    ]
    connection.run_all(commands, inputs=[content for _, content, _, _ in files])


def ownership(plan: HostPlan, change: FileChange) -> tuple[str, int]:
    """Owner and mode for a file's new version: the old one's (minus any execute or set-id
    bit), or for a new file root, the plan's group and 0644; a file that must keep a mode
    (a key file: 0640) gets root, the plan's group and that mode, new or not."""
    if change.mode is not None:
        return f"root:{change.group}", change.mode
    state = plan.files.get(change.path)
    if state is not None and state.text is not None:
        return f"{state.uid}:{state.gid}", state.mode & 0o666
    return f"root:{change.group}", NEW_FILE_MODE


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- validation ----------------------------------------------------------------------


def shadow(plan: HostPlan, check_dir: str) -> tuple[str, dict[str, str]]:
    """Copies under check_dir of the new zones and of every file of named's include chain
    that is, or leads to, a changed file; includes and zone files point at the copies.

    Returns the file to give named-checkconf (the copy of named's main file) and the
    copies by path. named-checkconf then reads exactly what named would read after
    activation, and nothing anyone else can write.
    """
    chain = plan.chain
    assert chain is not None, "gather() reads the include chain of every plan with changes"
    zone_changes = [change for change in plan.changes if change.kind == "zone"]
    copies = {check_dir + change.path: change.new for change in zone_changes}
    reaching = chain.reaching()
    managed = plan.files[plan.layout.managed_conf].canonical
    for path in chain.order:
        if path not in reaching:
            continue
        text = chain.texts[path]
        # From the last include back, so the offsets of the earlier ones stay right.
        for include in reversed(chain.includes[path]):
            if include.files and include.files[0] in reaching:
                text = f'{text[: include.start]}"{check_dir}{include.files[0]}"{text[include.end :]}'
        if path == managed:
            for change in zone_changes:
                text = text.replace(f'file "{change.path}";', f'file "{check_dir}{change.path}";')
        copies[check_dir + path] = text
    main = check_dir + chain.root if chain.root in reaching else chain.root
    return main, copies


def stage(connection: Connection, plan: HostPlan) -> None:
    """Validate the new configuration and zones, then stage every new file beside its target.

    Raises ValidationError when named would reject the change or would load anything the
    inventory does not say, RolledBack when a target changed since the plan was made;
    either way nothing is left behind.
    """
    if not plan.changes:
        return
    check_dir = f"{CHECK_ROOT}/check-{token_hex(8)}"
    try:
        main, copies = shadow(plan, check_dir)
        directories = sorted({posixpath.dirname(path)[len(check_dir) :] for path in copies})
        connection.run(["sh", "-c", CHECK_DIR_SCRIPT, "dnsctl-check-dir", check_dir, *directories])
        write_new_files(connection, [(path, text, "0:0", 0o600) for path, text in copies.items()])
        checks = [
            (
                f"named-checkzone rejected zone {change.zone}",
                ["named-checkzone", change.zone, check_dir + change.path],
            )
            for change in plan.changes
            if change.kind == "zone"
        ]
        checks.append(("named-checkconf rejected the new configuration", ["named-checkconf", "-z", main]))
        # Each checker loads the new zones (0.4 s for 100,000 records): side by side.
        results = connection.run_all([argv for _, argv in checks], check=False)
        for (rejected, _), result in zip(checks, results, strict=True):
            if not result.ok:
                raise ValidationError(
                    f"{plan.server}: {rejected}: {_checker_reason(result.stdout + result.stderr, check_dir)}"
                )
        guard(connection, plan, main, check_dir)
        # Recorded before they exist, so clean-up finds even a half-written file.
        plan.staged.update({change.path: fresh_name(change.path) for change in plan.changes})
        write_new_files(
            connection,
            [(plan.staged[change.path], change.new, *ownership(plan, change)) for change in plan.changes],
        )
        compare = ["sh", "-c", UNCHANGED_SCRIPT, "dnsctl-compare", *_planned(plan)]
        _refuse_changed(plan, connection.run(compare, check=False))
    except BaseException:
        discard(connection, plan)
        raise
    finally:
        _remove(connection, [check_dir], recursive=True)


def guard(connection: Connection, plan: HostPlan, main: str, check_dir: str) -> None:
    """The second, independent check that named loads exactly what the inventory says.

    Compares the configuration named parses today with the staged one, both as
    `named-checkconf -p` prints them: dnsctl's zones must be what the inventory
    says and nothing else may change but this server's address in listen-on. A
    renderer bug or a value that smuggled configuration text in stops here.
    """
    parsed = []
    sources = (plan.layout.named_conf, main)
    for result in connection.run_all([["named-checkconf", "-p", source] for source in sources], check=False):
        secrets.remember(result.stdout)
        if not result.ok:
            raise ValidationError(
                f"{plan.server}: named-checkconf -p failed: {_checker_reason(result.stderr, check_dir)}"
            )
        parsed.append(namedconf.parse(result.stdout))
    zone_files = {check_dir + change.path: change.path for change in plan.changes if change.kind == "zone"}
    problems = namedconf.compare(
        parsed[0],
        parsed[1],
        plan.expected_zones,
        plan.address,
        zone_files,
        _carried(plan),
        plan.expected_keys,
        frozenset(tsig.parse_keys(plan.current.get(tsig.key_file(plan.layout)))),
        frozenset(plan.removed),
        plan.policies,
        plan.consumes,
    )
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationError(
            f"{plan.server}: refusing a configuration that is not what the inventory says: "
            f"{problems[0].replace(check_dir, '')}{more}; nothing was changed"
        )


def _carried(plan: HostPlan) -> frozenset[str]:
    """The zones of dnsctl's own file that this run keeps exactly as they were."""
    managed = plan.layout.managed_conf
    old = render.parse_managed(plan.current.get(managed))
    new = render.parse_managed(
        next((c.new for c in plan.changes if c.path == managed), plan.current.get(managed))
    )
    return frozenset(
        zone for zone, stanza in new.items() if zone not in plan.expected_zones and old.get(zone) == stanza
    )


def _checker_reason(output: str, check_dir: str) -> str:
    """The first line of named-check* output that says what is wrong, in the files' real names."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        lowered = line.lower()
        if "loaded serial" in lowered or lowered == "ok":
            continue
        return line.replace(check_dir, "")
    return lines[-1].replace(check_dir, "") if lines else "rejected"


# --- compare before replace ----------------------------------------------------------

UNCHANGED_SCRIPT = r"""
# Pairs of target and the sha256 the plan was made against ("absent": nothing there).
while [ $# -gt 0 ]; do
  target=$1 planned=$2; shift 2
  if [ "$planned" = absent ]; then
    if [ -e "$target" ] || [ -L "$target" ]; then echo "CHANGED $target"; exit 3; fi
    continue
  fi
  if [ -L "$target" ] || [ ! -f "$target" ] || [ "$(stat -c %h -- "$target")" != 1 ]; then
    echo "CHANGED $target"; exit 3
  fi
  sum=$(dd if="$target" iflag=nofollow,nonblock status=none | sha256sum)
  if [ "${sum%% *}" != "$planned" ]; then echo "CHANGED $target"; exit 3; fi
done
"""


def _planned(plan: HostPlan) -> list[str]:
    return [
        word
        for change in plan.changes
        for word in (change.path, "absent" if change.old is None else _sha256(change.old))
    ]


def _refuse_changed(plan: HostPlan, result: Result) -> None:
    changed = [
        line.removeprefix("CHANGED ") for line in result.stdout.splitlines() if line.startswith("CHANGED ")
    ]
    if changed:
        raise RolledBack(
            f"{plan.server}: {changed[0]} changed since the plan was made (edited meanwhile?); "
            "dnsctl did not overwrite it"
        )
    if not result.ok:
        # stdout lists what was checked or moved so far; why the next step failed is on stderr.
        raise CommandFailed(plan.server, replace(result, stdout=""))


def discard(connection: Connection, plan: HostPlan) -> None:
    """Remove staged files by their recorded names; used when a run stops before moving them."""
    _remove(connection, list(plan.staged.values()))
    plan.staged.clear()


def _remove(connection: Connection, paths: list[str], *, recursive: bool = False) -> None:
    """Best effort: a leftover staged name never shadows a live file. rm unlinks a link
    itself, never what it points at. A Ctrl-C that stopped the run waits for this
    clean-up, and a dropped connection is opened again for it."""
    if paths:
        argv = ["rm", "-rf" if recursive else "-f", "--", *paths]
        with interrupt.shield("removing the staged files"), contextlib.suppress(RemoteError):
            connection.run(argv, check=False, reconnect=True)


def install(connection: Connection, plan: HostPlan) -> None:
    """Install BIND with the layout's package manager.

    apt installs from the package lists the server has, as an administrator's
    `apt-get install` would. When that fails (no lists yet, as on fresh cloud and
    container images, or lists older than the mirror, whose files are gone) it does
    what the administrator does next: `apt-get update`, then install once more.
    Lists that work are left alone. dnf refreshes expired metadata by itself.
    """
    command = [*plan.layout.install, *plan.layout.packages]
    first = connection.run(command, check=False, timeout=900)
    if first.ok:
        return
    if "apt-get" not in plan.layout.install:
        raise CommandFailed(plan.server, first)
    connection.run(["apt-get", "update", "-q"], timeout=900)
    connection.run(command, timeout=900)


PREPARE_DIR_SCRIPT = r"""
# A directory named writes into: its mode from the umask at creation ($3, default 002),
# its group by lchown, so nothing follows a link planted meanwhile.
set -e
umask "${3:-002}"
mkdir -- "$1"
chown -h -- "root:$2" "$1"
"""


def prepare(connection: Connection, plan: HostPlan) -> None:
    """Create the directories named must write into; staging needs them."""
    for directory in plan.directories:
        umask = f"{0o777 & ~int(plan.directory_modes.get(directory, '0775'), 8):03o}"
        connection.run(["sh", "-c", PREPARE_DIR_SCRIPT, "dnsctl-mkdir", directory, plan.layout.group, umask])
    relabel = [directory for directory in plan.directories if directory in plan.relabel]
    if relabel:
        connection.run(["sh", "-c", RELABEL_SCRIPT, "dnsctl-relabel", *relabel])


# SELinux (RHEL): named may write only where the policy's label says so.
RELABEL_SCRIPT = 'if command -v restorecon >/dev/null 2>&1; then restorecon -R "$@"; fi'


ACTIVATE_SCRIPT = r"""
# $1: the backup directory; then, per file: target, staged file, the sha256 the plan was
# made against (or "absent"), and the owner and umask its backup copy keeps.
backup=$1; shift
umask 077
root=${backup%/*}
if [ -L "$root" ]; then echo "$root is a symbolic link" >&2; exit 2; fi
mkdir -p -- "$root" || exit 2
if [ "$(stat -c %u -- "$root")" != "$(id -u)" ]; then echo "$root is not owned by $(id -un)" >&2; exit 2; fi
chmod 0700 -- "$root" && mkdir -- "$backup" || exit 2

# First every target, before anything is replaced: back it up (never through a link)
# and prove the copy is what the plan was made against.
keep() {
  while [ $# -gt 0 ]; do
    target=$1 planned=$3 owner=$4 mask=$5; shift 5
    if [ "$planned" = absent ]; then
      if [ -e "$target" ] || [ -L "$target" ]; then echo "CHANGED $target"; return 3; fi
      continue
    fi
    copy=$backup$target
    mkdir -p -- "${copy%/*}" || return 2
    if [ -L "$target" ] || [ ! -f "$target" ] || [ "$(stat -c %h -- "$target")" != 1 ]; then
      echo "CHANGED $target"; return 3
    fi
    ( umask "$mask" && dd if="$target" of="$copy" iflag=nofollow,nonblock conv=excl status=none ) || return 2
    chown -h -- "$owner" "$copy" || return 2
    sum=$(sha256sum < "$copy")
    if [ "${sum%% *}" != "$planned" ]; then echo "CHANGED $target"; return 3; fi
  done
}

# Each target is listed in $backup/moving before it is moved: rollback, which may run
# over a new connection after this one was cut, reads there which files may have moved.
move() {
  while [ $# -gt 0 ]; do
    target=$1 staged=$2; shift 5
    printf '%s\n' "$target" >> "$backup/moving" || return 2
    mv -f -T -- "$staged" "$target" || return 2
    echo "MOVED $target"
    # SELinux (RHEL): give the file the label its path calls for, as named expects.
    if command -v restorecon >/dev/null 2>&1; then restorecon -- "$target" || true; fi
  done
}

keep "$@" || { status=$?; rm -rf -- "$backup"; exit $status; }
move "$@"
"""


def activate(connection: Connection, activation: Activation) -> None:
    """Back up and move every staged file into place, then make named use them.

    A failure half-way is undone by rollback(), which finds on the host which files were
    moving (ACTIVATE_SCRIPT lists them in the backup directory before it moves them).
    A target that no longer holds what the plan was made against stops it before
    anything on the host is replaced (RolledBack).
    """
    plan = activation.plan
    plan.backup_dir = activation.backup_dir
    if plan.changes:
        arguments = []
        for change in plan.changes:
            owner, mode = ownership(plan, change)
            planned = "absent" if change.old is None else _sha256(change.old)
            arguments += [change.path, plan.staged[change.path], planned, owner, f"{0o777 & ~mode:04o}"]
        result = connection.run(
            ["sh", "-c", ACTIVATE_SCRIPT, "dnsctl-activate", activation.backup_dir, *arguments],
            check=False,
        )
        for line in result.stdout.splitlines():
            if line.startswith("MOVED "):
                del plan.staged[line.removeprefix("MOVED ")]
        if not result.ok:
            discard(connection, plan)
            _refuse_changed(plan, result)
    if plan.set_aside:
        # Not put back by a rollback: named rebuilds a zone's signed copy from the zone
        # file and the keys, which stay where they are.
        connection.run(
            ["sh", "-c", MOVE_TO_BACKUP_SCRIPT, "dnsctl-set-aside", activation.backup_dir, *plan.set_aside]
        )
    reload(connection, plan)


def reload(connection: Connection, plan: HostPlan) -> None:
    if plan.restart:
        _service(connection, plan, "restart")
    elif not plan.facts.named_active:
        _service(connection, plan, "enable", check=False)
        _service(connection, plan, "start")
    elif plan.changes:
        connection.run(["rndc", "reload"])


def _service(
    connection: Connection, plan: HostPlan, action: str, check: bool = True, reconnect: bool = False
) -> None:
    service = plan.layout.service
    if "systemctl" in plan.facts.tools and action in ("start", "restart"):
        connection.run(start_command(action, service), check=check, reconnect=reconnect)
    elif "systemctl" in plan.facts.tools:
        connection.run(["systemctl", action, service], check=check, reconnect=reconnect)
    elif action != "enable":
        connection.run(["service", service, action], check=check, reconnect=reconnect)


# $1 a directory to create, parents included, that only root may enter.
PRIVATE_DIR_SCRIPT = 'umask 077 && mkdir -p -- "$1"'

# $1 the backup directory, then pairs: how the file was planned (created | replaced) and
# its path. Decides from what is on the host, not from what dnsctl saw of the
# activation, which a lost connection may have cut short; safe to run again.
ROLLBACK_SCRIPT = r"""
backup=$1; shift
status=0
while [ $# -gt 1 ]; do
  planned=$1 target=$2; shift 2
  if ! grep -qxF -- "$target" "$backup/moving" 2>/dev/null; then
    # The activation never got to it (ACTIVATE_SCRIPT lists each file before moving it).
    echo "untouched $target"
  elif [ "$planned" = created ]; then
    rm -f "$target" || status=1
    echo "removed $target"
  elif [ -e "$backup$target" ]; then
    source=$backup$target
    if [ -e "$source.rollback" ]; then source=$source.rollback; fi
    # A new file, created exclusively at an unguessable name (never through a link
    # planted in the group-writable directory), its mode set by the umask at creation
    # and its owner with chown -h; a fresh modification time, so named sees the change.
    tmp=$target.dnsctl-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    mode=$(stat -c '%a' -- "$backup$target") owner=$(stat -c '%u:%g' -- "$backup$target")
    if (umask "$(printf '%04o' $((0777 & ~0$mode)))" && dd if="$source" of="$tmp" conv=excl status=none) &&
       chown -h -- "$owner" "$tmp" && mv -fT -- "$tmp" "$target"; then
      if command -v restorecon >/dev/null 2>&1; then restorecon "$target" || true; fi
      echo "restored $target"
    else
      rm -f "$tmp"
      status=1
    fi
  else
    echo "untouched $target"
  fi
done
exit $status
"""


def rollback(connection: Connection, activation: Activation) -> None:
    """Put the old files back and make named serve them again.

    Every planned file is considered, whether or not dnsctl saw it moved: the
    script finds out on the host. A zone's old content goes back with a serial
    above the new one (kept beside the backup as ``.rollback``): secondaries may
    already hold the new serial and only follow a higher one. Every step is safe
    to repeat, so each reconnects and runs again when the connection drops.
    """
    plan = activation.plan
    serials = {}
    for change in plan.changes:
        if change.kind == "zone" and change.old is not None and render.zone_serial(change.old) is not None:
            assert change.zone is not None
            serial = (dns.serial.Serial(plan.expect_serials[change.zone]) + 1).value
            copy = f"{activation.backup_dir}{change.path}.rollback"
            connection.run(
                ["sh", "-c", PRIVATE_DIR_SCRIPT, "dnsctl-mkdir", posixpath.dirname(copy)], reconnect=True
            )
            connection.put(copy, render.with_serial(change.old, serial), mode=0o600, reconnect=True)
            serials[change.path] = (change.zone, serial)
    if plan.changes:
        pairs = [word for c in plan.changes for word in ("created" if c.old is None else "replaced", c.path)]
        result = connection.run(
            ["sh", "-c", ROLLBACK_SCRIPT, "dnsctl-rollback", activation.backup_dir, *pairs],
            check=False,
            reconnect=True,
        )
        done = set(result.stdout.splitlines())
        activation.restored_serials = dict(
            serial for path, serial in serials.items() if f"restored {path}" in done
        )
        if not result.ok:
            raise CommandFailed(plan.server, result)
    if not plan.facts.named_active:
        _service(connection, plan, "stop", check=False, reconnect=True)
    elif plan.restart or not connection.run(["rndc", "reload"], check=False, reconnect=True).ok:
        _service(connection, plan, "restart", reconnect=True)


MOVE_TO_BACKUP_SCRIPT = r"""
# $1: the run's backup directory (root-only, made by the activation); then files. Each one
# present is renamed to its own path under the backup (a link is moved as a link, never
# followed) and printed.
set -e
backup=$1; shift
umask 077
for file in "$@"; do
  if [ -e "$file" ] || [ -L "$file" ]; then
    mkdir -p -- "$backup${file%/*}"
    mv -f -T -- "$file" "$backup$file"
    echo "$file"
  fi
done
"""


def retire(connection: Connection, plan: HostPlan) -> list[str]:
    """Move the files of the zones the plan removed (and their journals) into its backup
    directory, once named no longer loads them; the files moved."""
    if not plan.retire:
        return []
    assert plan.backup_dir is not None, "retire() comes after activate()"
    files = [file for target in plan.retire for file in (target, f"{target}.jnl")]
    result = connection.run(["sh", "-c", MOVE_TO_BACKUP_SCRIPT, "dnsctl-retire", plan.backup_dir, *files])
    return result.stdout.split()


REFRESH_SCRIPT = 'for zone in "$@"; do rndc refresh "$zone" || exit 1; done'


def refresh(connection: Connection, zones: list[str]) -> None:
    """Have a secondary ask its primary for each zone now, not at its next retry."""
    connection.run(["sh", "-c", REFRESH_SCRIPT, "dnsctl-refresh", *zones])


FIREWALL_DBUS_SCRIPT = r"""
# $1: the firewalld zone; $2, $3: "add" to allow DNS now (runtime), and across reloads
# (permanent), the calls firewall-cmd itself makes. ALREADY_ENABLED is what we want.
fw=/org/fedoraproject/FirewallD1
call() {
  if out=$(busctl call org.fedoraproject.FirewallD1 "$@" 2>&1); then printf '%s\n' "$out"; return; fi
  case $out in *ALREADY_ENABLED*) return 0 ;; esac
  printf '%s\n' "$out" >&2; return 1
}
if [ "$2" = add ]; then
  call $fw org.fedoraproject.FirewallD1.zone addService ssi "$1" dns 0 >/dev/null || exit
fi
if [ "$3" = add ]; then
  config=$(call $fw/config org.fedoraproject.FirewallD1.config getZoneByName s "$1") || exit
  config=${config#o \"}; config=${config%\"}
  call "$config" org.fedoraproject.FirewallD1.config.zone addService s dns >/dev/null || exit
fi
"""


def open_firewall(connection: Connection, plan: HostPlan) -> None:
    """Allow DNS in the zone of the server's interface, now and across reloads.

    Over D-Bus where busctl is there (~10 ms a call); firewall-cmd otherwise, which
    costs ~0.15-0.3 s of CPU per call on the host, twice per server.
    """
    firewall = plan.facts.firewall
    zone = firewall.zone or "public"
    if firewall.dbus:
        runtime, permanent = (
            "keep" if done else "add" for done in (firewall.runtime_dns, firewall.permanent_dns)
        )
        connection.run(["sh", "-c", FIREWALL_DBUS_SCRIPT, "dnsctl-firewall", zone, runtime, permanent])
        return
    if not firewall.runtime_dns:
        connection.run(["firewall-cmd", f"--zone={zone}", "--add-service=dns"])
    if not firewall.permanent_dns:
        connection.run(["firewall-cmd", "--permanent", f"--zone={zone}", "--add-service=dns"])
