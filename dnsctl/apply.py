"""Carry out a host plan safely: stage -> validate -> back up -> atomic move -> reload.

Files are first written beside their targets (``.dnsctl-new``) and validated on
the host with named-checkzone and named-checkconf -z against the complete new
configuration (shadow copies, ``.dnsctl-check``), so nothing named would reject is
ever moved into place. Old files are kept under /var/backups/dnsctl/<stamp>/ and
restored, with a reload, when anything later fails.
"""

from __future__ import annotations

import contextlib
import posixpath
import re
from dataclasses import dataclass, field, replace

import dns.serial

from dnsctl import interrupt, render
from dnsctl.errors import CommandFailed, RemoteError, ValidationError
from dnsctl.plan import HostPlan
from dnsctl.remote import Connection

STAGED = ".dnsctl-new"
CHECK = ".dnsctl-check"
BACKUP_ROOT = "/var/backups/dnsctl"


@dataclass
class Activation:
    """What was done on one host, so it can be undone."""

    plan: HostPlan
    backup_dir: str
    restored_serials: dict[str, int] = field(default_factory=dict)  # zone -> serial after rollback


def include_pattern(path: str) -> re.Pattern[str]:
    return re.compile(rf'(include\s+"){re.escape(path)}("\s*;)')


def shadow(plan: HostPlan) -> dict[str, str]:
    """The check copies of the configuration chain, each pointing at the others and at staged zones.

    named-checkconf then reads exactly what named would read after activation.
    """
    layout = plan.layout
    current = plan.current
    new_content = {change.path: change.new for change in plan.changes}
    staged_zones = [change.path for change in plan.changes if change.kind == "zone"]
    copies = {}
    for path in layout.config_files():
        text = new_content.get(path, current.get(path))
        if text is None:
            continue
        for other in layout.config_files():
            text = include_pattern(other).sub(lambda m, o=other: f"{m.group(1)}{o}{CHECK}{m.group(2)}", text)
        if path == layout.managed_conf:
            for zone_file in staged_zones:
                text = text.replace(f'file "{zone_file}";', f'file "{zone_file}{STAGED}";')
        copies[path + CHECK] = text
    return copies


def stage(connection: Connection, plan: HostPlan) -> None:
    """Upload and validate every new file; on rejection remove them all and raise."""
    try:
        for change in plan.changes:
            connection.put(change.path + STAGED, change.new, mode=0o644, group=change.group)
        for change in plan.changes:
            if change.kind == "zone":
                result = connection.run(["named-checkzone", change.zone, change.path + STAGED], check=False)
                if not result.ok:
                    raise ValidationError(
                        f"{plan.server}: named-checkzone rejected zone {change.zone}: "
                        f"{_checker_reason(result.stdout + result.stderr)}"
                    )
        copies = shadow(plan)
        for path, text in copies.items():
            connection.put(path, text, mode=0o644, group=plan.layout.group)
        main = plan.layout.named_conf + CHECK
        result = connection.run(["named-checkconf", "-z", main], check=False)
        if not result.ok:
            raise ValidationError(
                f"{plan.server}: named-checkconf rejected the new configuration: "
                f"{_checker_reason(result.stdout + result.stderr)}"
            )
    except BaseException:
        discard(connection, plan)
        raise
    finally:
        _remove(connection, [path + CHECK for path in plan.layout.config_files()])


def _checker_reason(output: str) -> str:
    """The first line of named-check* output that says what is wrong."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        lowered = line.lower()
        if "loaded serial" in lowered or lowered == "ok":
            continue
        return line.replace(STAGED, "").replace(CHECK, "")
    return lines[-1] if lines else "rejected"


def discard(connection: Connection, plan: HostPlan) -> None:
    """Remove staged files; used when a run stops before activation."""
    _remove(connection, [change.path + STAGED for change in plan.changes])


def _remove(connection: Connection, paths: list[str]) -> None:
    if paths:
        # Best effort: a leftover staged name never shadows a live file. A Ctrl-C that
        # stopped the run waits for this clean-up.
        with interrupt.shield("removing the staged files"), contextlib.suppress(RemoteError):
            connection.run(["rm", "-f", "--", *paths], check=False)


def install(connection: Connection, plan: HostPlan) -> None:
    """Install BIND with the layout's package manager."""
    connection.run([*plan.layout.install, *plan.layout.packages], timeout=900)


def prepare(connection: Connection, plan: HostPlan) -> None:
    """Create the directories named must write into; staging needs them."""
    for directory in plan.directories:
        connection.run(["install", "-d", "-m", "0775", "-o", "root", "-g", plan.layout.group, directory])


ACTIVATE_SCRIPT = r"""
set -e
backup=$1; shift
mkdir -p "$backup"
while [ $# -gt 0 ]; do
  target=$1; shift
  if [ -e "$target" ]; then
    mkdir -p "$backup$(dirname "$target")"
    cp -p "$target" "$backup$target"
    chown --reference="$target" "$target.dnsctl-new"
    chmod --reference="$target" "$target.dnsctl-new"
  fi
  mv -f "$target.dnsctl-new" "$target"
  echo "$target"
  # SELinux (RHEL): give the file the label its path calls for, as named expects.
  if command -v restorecon >/dev/null 2>&1; then restorecon "$target" || true; fi
done
"""


def activate(connection: Connection, activation: Activation) -> None:
    """Back up and move every staged file into place, then make named use them.

    A failure half-way is undone by rollback(), which finds on the host which files moved.
    """
    plan = activation.plan
    if plan.changes:
        result = connection.run(
            ["sh", "-c", ACTIVATE_SCRIPT, "dnsctl-activate", activation.backup_dir]
            + [change.path for change in plan.changes],
            check=False,
        )
        if not result.ok:
            # stdout lists the files moved so far; why the next one failed is on stderr.
            raise CommandFailed(plan.server, replace(result, stdout=""))
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
    if "systemctl" in plan.facts.tools:
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
  if [ -e "$target.dnsctl-new" ]; then
    # Still staged: it never went into place.
    rm -f "$target.dnsctl-new" || status=1
    echo "untouched $target"
  elif [ "$planned" = created ]; then
    rm -f "$target" || status=1
    echo "removed $target"
  elif [ -e "$backup$target" ]; then
    source=$backup$target
    if [ -e "$source.rollback" ]; then source=$source.rollback; fi
    # A new file, never one found at a guessable name; a fresh modification time,
    # so named sees the zone file changed.
    if tmp=$(mktemp "$target.dnsctl-XXXXXX") && cat "$source" > "$tmp" &&
       chown --reference="$backup$target" "$tmp" && chmod --reference="$backup$target" "$tmp" &&
       mv -f "$tmp" "$target"; then
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


def open_firewall(connection: Connection, plan: HostPlan) -> None:
    """Allow DNS in the zone of the server's interface, now and across reloads."""
    zone = plan.facts.firewall.zone or "public"
    if not plan.facts.firewall.runtime_dns:
        connection.run(["firewall-cmd", f"--zone={zone}", "--add-service=dns"])
    if not plan.facts.firewall.permanent_dns:
        connection.run(["firewall-cmd", "--permanent", f"--zone={zone}", "--add-service=dns"])
