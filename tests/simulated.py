"""Simulated hosts built on the fakes: a BIND server and a NetworkManager client.

Each step of a run (preflight, stage, activate, reload, roll back...) declares, in
order, the commands dnsctl runs for it on the host, and answers them as such a host
would: from its in-memory files and its state (is named running, what firewalld
allows, what named serves, which is what FakeDns answers). A test lists the steps of
the run it expects and replaces the one it breaks with its own expectation.
"""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import hashlib
import io
import posixpath
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dnsctl import apply, dnssec, render, service, tsig
from dnsctl.facts.client import parse_resolv_servers
from dnsctl.facts.scripts import EXISTING_SCRIPT, NM_READ_SCRIPT, PREFLIGHT_SCRIPT, READ_FILES_SCRIPT
from dnsctl.models import Inventory, parse_inventory
from dnsctl.ops import converge, keys
from dnsctl.ops.session import Options, Session
from dnsctl.platform import DEBIAN, RHEL, Layout
from dnsctl.remote import Result
from dnsctl.report import Report

from .fakes import Call, FakeConnection, FakeDns, FakeFleet, Matcher, exactly, prefix, script, where
from .test_facts import DEBIAN_RELEASE, RHEL_RELEASE

# /etc/bind as Debian 12's bind9 package installs it.
DEBIAN_FILES = {
    "/etc/bind/named.conf": (
        "// This is the primary configuration file for the BIND DNS server named.\n"
        "//\n"
        "// Please read /usr/share/doc/bind9/README.Debian for information on the\n"
        "// structure of BIND configuration files in Debian, *BEFORE* you customize\n"
        "// this configuration file.\n"
        "//\n"
        "// If you are just adding zones, please do that in /etc/bind/named.conf.local\n"
        "\n"
        'include "/etc/bind/named.conf.options";\n'
        'include "/etc/bind/named.conf.local";\n'
        'include "/etc/bind/named.conf.default-zones";\n'
    ),
    "/etc/bind/named.conf.options": (
        "options {\n"
        '\tdirectory "/var/cache/bind";\n'
        "\n"
        "\t// If there is a firewall between you and nameservers you want\n"
        "\t// to talk to, you may need to fix the firewall to allow multiple\n"
        "\t// ports to talk.  See http://www.kb.cert.org/vuls/id/800113\n"
        "\n"
        "\tdnssec-validation auto;\n"
        "\n"
        "\tlisten-on-v6 { any; };\n"
        "};\n"
    ),
    "/etc/bind/named.conf.local": (
        "//\n"
        "// Do any local configuration here\n"
        "//\n"
        "\n"
        "// Consider adding the 1918 zones here, if they are not used in your\n"
        "// organization\n"
        '//include "/etc/bind/zones.rfc1918";\n'
        "\n"
    ),
}

# /etc/named.conf as a fresh `dnf install bind` leaves it (trimmed).
RHEL_FILES = {
    "/etc/named.conf": (
        "//\n"
        "// named.conf\n"
        "//\n"
        "options {\n"
        "\tlisten-on port 53 { 127.0.0.1; };\n"
        "\tlisten-on-v6 port 53 { ::1; };\n"
        '\tdirectory \t"/var/named";\n'
        '\tdump-file \t"/var/named/data/cache_dump.db";\n'
        "\tallow-query     { localhost; };\n"
        "\trecursion yes;\n"
        "\tdnssec-validation yes;\n"
        "};\n"
        "\n"
        'zone "." IN {\n'
        "\ttype hint;\n"
        '\tfile "named.ca";\n'
        "};\n"
        "\n"
        'include "/etc/named.rfc1912.zones";\n'
        'include "/etc/named.root.key";\n'
    ),
}

TOOLS = ("named", "named-checkconf", "named-checkzone", "rndc", "firewall-cmd", "nmcli", "systemctl")
_STANZA_FIELDS = re.compile(
    r'type (master|slave);.*?file "([^"]+)";(?:.*?masters \{ ([^; ]+)(?: key "([^"]+)")?; \})?', re.DOTALL
)
_TRANSFER_KEYS = re.compile(r"allow-transfer \{([^}]*)\};")


_INCLUDE = re.compile(r'include\s+"([^"]+)"\s*;')


def _without_comments(text: str) -> str:
    """named.conf text without its comments, strings kept."""
    out, i = [], 0
    while i < len(text):
        if text[i] == '"':
            end = text.find('"', i + 1)
            end = len(text) if end < 0 else end + 1
            out.append(text[i:end])
            i = end
        elif text.startswith("//", i) or text[i] == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def _expanded(files: dict[str, str], path: str) -> str:
    """What named-checkconf -p shows of path: its text, includes read in, no comments
    (the real one also reorders and requotes, which namedconf.parse takes in its stride)."""
    text = _without_comments(files.get(path, ""))
    return _INCLUDE.sub(lambda m: _expanded(files, posixpath.normpath(m.group(1))), text)


def starting(action: str, unit: str = "named") -> Matcher:
    """A start or restart of named (a reset of systemd's start limit included)."""
    return exactly(*service.start_command(action, unit))


def ok(call: Call, stdout: str = "") -> Result:
    return Result(str(call), stdout, "", 0)


def failed(call: Call, stderr: str, status: int = 1) -> Result:
    return Result(str(call), "", stderr, status)


# How far named's signed copy of a zone runs ahead of the file's serial (the lab showed 2 and 3).
SIGNING_STEPS = 2


class BindServer:
    """A name server: its files, named, firewalld, and what it answers by DNS."""

    def __init__(
        self,
        host: FakeConnection,
        dns: FakeDns,
        address: str,
        *,
        layout: Layout = DEBIAN,
        files: dict[str, str] | None = None,
        named_active: bool = True,
        firewall: str = "running",  # or "absent", "not running"
        dns_open: bool = False,
        dbus: bool = False,  # firewalld answers over D-Bus (busctl is there), not only firewall-cmd
        installed: bool = True,
    ) -> None:
        self.host, self.dns, self.address, self.layout = host, dns, address, layout
        self.os_release = RHEL_RELEASE if layout is RHEL else DEBIAN_RELEASE
        self.installed = installed
        self.named_active = named_active and installed
        self.firewall = firewall
        self.runtime_dns = self.permanent_dns = dns_open
        self.dbus = dbus
        self.checkconf_error: str | None = None  # named-checkconf's complaint about today's files
        self.links: dict[str, str] = {}  # symbolic links: path -> where they point
        self.modes: dict[str, tuple[str, str, int]] = {}  # path -> uid, gid, mode (default 0, 0, 0644)
        self.check_dir: str | None = None  # where this run's validation copies are
        self.transfers: list[str] = []  # each zone transfer, in order: "zone with key" or "zone refused"
        self.written: dict[str, int] = {}  # a transferred zone file -> the transfer that last wrote it
        if installed:
            defaults = RHEL_FILES if layout is RHEL else DEBIAN_FILES
            host.files.update(defaults if files is None else files)
            host.dirs.update({layout.directory, layout.primary_dir})
        if self.named_active:
            self.load()

    # --- what the host does: named and its state, and its answer to each command (responders) ---

    def load(self) -> None:
        """named (re)reads its configuration: serve each zone dnsctl's file declares."""
        served = self.dns.zones(self.address)
        for zone in served:
            self.dns.unserve(self.address, zone)
        managed = self.host.files.get(self.layout.managed_conf)
        for zone, stanza in render.parse_managed(managed).items():
            match = _STANZA_FIELDS.search(stanza)
            assert match, stanza
            kind, path, primary, key = match.groups()
            if kind == "master":
                serial = render.zone_serial(self.host.files.get(path))
                if serial is not None and "dnssec-policy" in stanza:
                    serial += SIGNING_STEPS  # inline signing: named serves its signed copy's serial
                self.accept_transfers(zone, stanza)
            else:  # a transfer from the primary, when it serves the zone and takes the key
                serial = self.transfer(zone, path, primary, key)
                if serial is None and path in self.host.files:
                    serial = served.get(zone)  # a failed transfer: the zone stays as it was
            if serial is not None:
                self.dns.serve(self.address, zone, serial)

    def keys(self) -> dict[str, str]:
        """The TSIG keys named reads from dnsctl's key file: name -> secret."""
        text = self.host.files.get(tsig.key_file(self.layout))
        return {name: key.secret for name, key in tsig.parse_keys(text).items()}

    def accept_transfers(self, zone: str, stanza: str) -> None:
        """What the primary's allow-transfer asks of a transfer: a key (with its secret), or nothing."""
        acl = _TRANSFER_KEYS.search(stanza)
        names = tsig.referenced([acl.group(1)]) if acl else []
        if names:
            held = self.keys()
            self.dns.transfer_keys[self.address, zone] = {name: held[name] for name in names if name in held}
        else:
            self.dns.transfer_keys.pop((self.address, zone), None)

    def transfer(self, zone: str, path: str, primary: str, key: str | None) -> int | None:
        """One transfer of the zone from primary, signed with key: the serial it got, or None."""
        serial = self.dns.soa(primary, zone).serial
        wanted = self.dns.transfer_keys.get((primary, zone))
        signed = (key, self.keys().get(key)) if key else None
        if serial is None or (wanted is not None and (signed is None or wanted.get(key) != signed[1])):
            self.transfers.append(f"{zone} refused")
            return None
        self.transfers.append(f"{zone} with {key or 'no key'}")
        self.host.files[path] = f"; {zone} transferred from {primary}, serial {serial}\n"
        self.written[path] = len(self.transfers)
        return serial

    def stop_named(self) -> None:
        self.named_active = False
        for zone in self.dns.zones(self.address):
            self.dns.unserve(self.address, zone)
        self.dns.down[self.address] = "refused (port unreachable)"

    def start_named(self) -> None:
        self.named_active = True
        self.dns.down.pop(self.address, None)
        self.load()

    def on_preflight(self, call: Call) -> Result:
        """PREFLIGHT_SCRIPT: the facts, then per layout its missing directories and its files."""
        words = call.words[5:]  # after sh -c SCRIPT dnsctl-preflight ADDRESS
        text = self.facts_text()
        for name, dirs, arguments in zip(words[::3], words[1::3], words[2::3], strict=True):
            text += f"@@layout {name}\n"
            text += "@@missing-dirs\n" + self.missing_dirs_text(dirs.split("\n") if dirs else [])
            text += "@@files\n" + self.read_text(arguments.split("\n") if arguments else [])
        return ok(call, text)

    def facts_text(self) -> str:
        tools = TOOLS if self.installed else ("firewall-cmd", "nmcli", "systemctl")
        firewall = [f"state={self.firewall}"]
        if self.firewall == "running":
            allowed = ["ssh"]
            firewall += [
                "zone=public",
                "runtime=" + " ".join(allowed + ["dns"] * self.runtime_dns),
                "permanent=" + " ".join(allowed + ["dns"] * self.permanent_dns),
                f"api={'dbus' if self.dbus else 'firewall-cmd'}",
            ]
        text = (
            f"@@os-release\n{self.os_release}@@tools\n"
            + "".join(f"{tool}\n" for tool in tools)
            + f"@@named\n{'active' if self.named_active else 'inactive'}\n@@firewall\n"
            + "".join(f"{line}\n" for line in firewall)
        )
        return text

    def on_read_files(self, call: Call) -> Result:
        return ok(call, self.read_text(list(call.words[4:])))

    def read_text(self, words: list[str]) -> str:
        """READ_FILES_SCRIPT: files dnsctl may change, `--`, include targets (paths or patterns)."""
        split = words.index("--") if "--" in words else len(words)
        lines = []
        for path in words[:split]:
            lines += self._show(path)
        for target in words[split + 1 :]:
            lines.append(f"?{target}")
            if any(char in target for char in "*?["):
                matches = sorted(path for path in self.host.files if fnmatch.fnmatch(path, target))
            else:
                canonical = posixpath.normpath(target)
                matches = [canonical] if canonical in self.host.files else []
            for match in matches:
                lines += [f"={target}", match, *self._show(match)]
        return "".join(f"{line}\n" for line in lines)

    def _show(self, path: str) -> list[str]:
        if path in self.links:
            return [f"!{path}", "is a symbolic link"]
        text = self.host.files.get(path)
        if text is None:
            return [f"-{path}", path]
        uid, gid, mode = self.modes.get(path, ("0", "0", 0o644))
        meta = f"regular file/1/{uid}/{gid}/{mode:o}/2049/{abs(hash(path)) % 10**6}/2026-11-25 10:00:00 +0000"
        return [f"+{path}", path, meta, base64.b64encode(text.encode()).decode(), f"0 {meta}"]

    def on_existing(self, call: Call) -> Result:
        status = f"{self.checkconf_error}\nstatus=1" if self.checkconf_error else "status=0"
        journals = [path for path in call.words[4:] if f"{path}.jnl" in self.host.files]
        return ok(call, f"@@checkconf\n{status}\n@@journals\n" + "".join(f"{p}\n" for p in journals))

    def missing_dirs_text(self, dirs: list[str]) -> str:
        lines = [f"!{d}" if d in self.links else d for d in dirs if d not in self.host.dirs]
        return "".join(f"{line}\n" for line in lines)

    def on_make_dir(self, call: Call) -> Result:
        self.host.dirs.add(call.words[4])
        return ok(call)

    def on_check_dir(self, call: Call) -> Result:
        self.check_dir = call.words[4]
        return ok(call)

    def on_write(self, call: Call) -> Result:
        """WRITE_SCRIPT: create a file exclusively, with an owner and a umask."""
        path, owner, umask = call.words[4:7]
        if path in self.host.files or path in self.links:
            return failed(call, f"dd: failed to open '{path}': File exists")
        why = self.host.write_error(path)
        if why:
            return failed(call, f"dd: failed to open '{path}': {why}")
        self.host.files[path] = call.input.decode() if isinstance(call.input, bytes) else call.input or ""
        uid, _, gid = owner.partition(":")
        self.modes[path] = (uid, gid, 0o666 & ~int(umask, 8))
        return ok(call)

    def on_print(self, call: Call) -> Result:
        """named-checkconf -p FILE: the configuration with includes read in and comments gone."""
        return ok(call, _expanded(self.host.files, call.words[2]))

    def on_unchanged(self, call: Call) -> Result:
        pairs = call.words[4:]
        for target, planned in zip(pairs[::2], pairs[1::2], strict=True):
            if self._fingerprint(target) != planned:
                return Result(str(call), f"CHANGED {target}\n", "", 3)
        return ok(call)

    def _fingerprint(self, path: str) -> str:
        if path in self.links:
            return "a link"
        text = self.host.files.get(path)
        return "absent" if text is None else hashlib.sha256(text.encode()).hexdigest()

    def on_checkzone(self, call: Call) -> Result:
        zone, path = call.words[1], call.words[2]
        serial = render.zone_serial(self.host.files.get(path))
        if serial is None:
            return failed(call, f"zone {zone}/IN: loading from master file {path} failed: file not found")
        return ok(call, f"zone {zone}/IN: loaded serial {serial}\nOK\n")

    def on_keygen(self, call: Call) -> Result:
        name = call.words[4]
        secret = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()  # 32 bytes, as tsig-keygen
        return ok(call, tsig.Key(name, secret).statement())

    def on_retransfer(self, call: Call) -> Result:
        zone = call.words[2]
        stanza = render.parse_managed(self.host.files.get(self.layout.managed_conf))[zone]
        match = _STANZA_FIELDS.search(stanza)
        assert match, stanza
        _, path, primary, key = match.groups()
        if self.transfer(zone, path, primary, key) is not None:
            self.load()
        return ok(call)

    def on_stat(self, call: Call) -> Result:
        """`stat -c %y`: a file's modification time, which here moves with every transfer."""
        path = call.words[-1]
        if path not in self.host.files:
            return failed(call, f"stat: cannot statx '{path}': No such file or directory")
        return ok(call, f"2026-11-25 12:00:00.{self.written.get(path, 0):09d} +0000\n")

    def on_remove(self, call: Call) -> Result:
        recursive = call.words[1] == "-rf"
        for path in call.words[3:]:
            self.host.files.pop(path, None)
            if recursive:
                for inside in [p for p in self.host.files if p.startswith(path + "/")]:
                    del self.host.files[inside]
        return ok(call)

    def on_activate(self, call: Call, fail_at: int | None) -> Result:
        """ACTIVATE_SCRIPT: every target still as planned (else nothing moves), backed up, moved."""
        backup, groups = call.words[4], call.words[5:]
        files = [groups[i : i + 5] for i in range(0, len(groups), 5)]
        for target, _staged, planned, _owner, _umask in files:
            if self._fingerprint(target) != planned:
                return Result(str(call), f"CHANGED {target}\n", "", 3)
            if target in self.host.files:
                self.host.files[backup + target] = self.host.files[target]
        moved = []
        for index, (target, staged, *_rest) in enumerate(files):
            self.host.files[f"{backup}/moving"] = self.host.files.get(f"{backup}/moving", "") + f"{target}\n"
            if index == fail_at or staged not in self.host.files:
                error = f"mv: cannot move '{staged}' to '{target}': Read-only file system"
                return Result(str(call), "".join(f"MOVED {p}\n" for p in moved), error, 1)
            self.host.files[target] = self.host.files.pop(staged)
            if staged in self.modes:
                self.modes[target] = self.modes.pop(staged)
            moved.append(target)
        return ok(call, "".join(f"MOVED {p}\n" for p in moved))

    def on_set_aside(self, call: Call) -> Result:
        backup, paths = call.words[4], call.words[5:]
        for path in paths:
            if path in self.host.files:
                self.host.files[backup + path] = self.host.files.pop(path)
        return ok(call)

    def on_roll_back(self, call: Call) -> Result:
        """ROLLBACK_SCRIPT: per (created | replaced, path) pair, decided from the host's files."""
        backup, words = call.words[4], call.words[5:]
        lines = []
        moving = self.host.files.get(f"{backup}/moving", "").splitlines()
        for planned, target in zip(words[::2], words[1::2], strict=True):
            if target not in moving:
                lines.append(f"untouched {target}")
            elif planned == "created":
                self.host.files.pop(target, None)
                lines.append(f"removed {target}")
            elif backup + target in self.host.files:
                source = backup + target + ".rollback"
                self.host.files[target] = self.host.files.get(source, self.host.files[backup + target])
                lines.append(f"restored {target}")
            else:
                lines.append(f"untouched {target}")
        return ok(call, "".join(f"{line}\n" for line in lines))

    def on_rndc_reload(self, call: Call, loads: bool, fails: bool) -> Result:
        if fails:
            return failed(call, "rndc: 'reload' failed: failure")
        if loads:
            self.load()
        return ok(call, "server reload successful\n")

    def on_refresh(self, call: Call) -> Result:
        """`rndc refresh ZONE` for each zone: the secondary asks its primary again."""
        stanzas = render.parse_managed(self.host.files.get(self.layout.managed_conf))
        for zone in call.words[4:]:
            match = _STANZA_FIELDS.search(stanzas[zone])
            assert match and match.group(1) == "slave", zone
            serial = self.transfer(zone, match.group(2), match.group(3), match.group(4))
            if serial is not None:
                self.dns.serve(self.address, zone, serial)
        return ok(call)

    def on_retire(self, call: Call) -> Result:
        backup, moved = call.words[4], []
        for path in call.words[5:]:
            if path in self.host.files:
                self.host.files[backup + path] = self.host.files.pop(path)
                moved.append(path)
        return ok(call, "".join(f"{path}\n" for path in moved))

    def on_service(self, call: Call) -> Result:
        action = call.words[4] if call.words[:3] == ("sh", "-c", service.START_SCRIPT) else call.words[1]
        if action in ("start", "restart"):
            self.start_named()
        elif action == "stop":
            self.stop_named()
        return ok(call)

    def on_add_dns(self, call: Call) -> Result:
        if "--permanent" in call.words:
            self.permanent_dns = True
        else:
            self.runtime_dns = True
        return ok(call, "success\n")

    def on_dbus_add_dns(self, call: Call) -> Result:
        zone, runtime, permanent = call.words[4:]
        assert zone == "public"
        self.runtime_dns |= runtime == "add"
        self.permanent_dns |= permanent == "add"
        return ok(call)

    def on_install(self, call: Call) -> Result:
        self.installed = True
        self.host.files.update(RHEL_FILES if self.layout is RHEL else DEBIAN_FILES)
        self.host.dirs.update({self.layout.directory, self.layout.primary_dir})
        if self.layout is DEBIAN:  # Debian's package starts named; RHEL's leaves it stopped
            self.start_named()
        return ok(call)

    # --- the steps of a run, in the order dnsctl runs them ------------------------------------

    def preflight(self, *, facts_only: bool | None = None, writes: bool = True) -> None:
        """gather(): facts, missing directories and files in one read; once there is a change,
        the rest of named's include chain; when the plan writes anything, does named accept
        today's files.

        facts_only (default: BIND is not installed yet): gather stops after the read.
        """
        self.host.expect(script(PREFLIGHT_SCRIPT), respond=self.on_preflight)
        if not self.installed if facts_only is None else facts_only:
            return
        self.host.allow(script(READ_FILES_SCRIPT), respond=self.on_read_files)
        if writes:
            self.host.expect(script(EXISTING_SCRIPT), respond=self.on_existing)

    def install(self) -> None:
        self.host.expect(prefix(*self.layout.install, *self.layout.packages), respond=self.on_install)

    def read_keys(self, *, make: bool = False) -> None:
        """A TSIG run reads the primary's keys first; make: a key it lacks is made there."""
        self.host.expect(script(READ_FILES_SCRIPT), respond=self.on_read_files)
        if make:
            self.host.expect(script(keys.KEYGEN_SCRIPT), respond=self.on_keygen)

    def retransfer(self, zone: str) -> None:
        """A forced transfer, proven by the zone file written again."""
        path = self.layout.secondary_file(zone)
        self.host.expect(exactly("stat", "-c", "%y", "--", path), respond=self.on_stat)
        self.host.expect(exactly("rndc", "retransfer", zone), respond=self.on_retransfer)
        self.host.allow(exactly("stat", "-c", "%y", "--", path), respond=self.on_stat)

    def stage(self, zones: tuple[str, ...] = (), *, create_dir: bool = False) -> None:
        """prepare() and stage(): directories, validation, staged files, compare, clean up."""
        if create_dir:
            self.host.expect(script(apply.PREPARE_DIR_SCRIPT), respond=self.on_make_dir)
        self.validate(zones)
        self.host.expect(script(apply.UNCHANGED_SCRIPT), respond=self.on_unchanged)
        self.remove_check_copies()

    def validate(self, zones: tuple[str, ...] = ()) -> None:
        """The private check directory and its copies, named-checkzone per zone,
        named-checkconf -z, and the -p guard (today's configuration, then the new one)."""
        self.host.expect(script(apply.CHECK_DIR_SCRIPT), respond=self.on_check_dir)
        self.host.allow(script(apply.WRITE_SCRIPT), respond=self.on_write)
        for zone in zones:
            self.host.expect(prefix("named-checkzone", zone), respond=self.on_checkzone)
        self.host.expect(prefix("named-checkconf", "-z"))
        self.host.expect(exactly("named-checkconf", "-p", self.layout.named_conf), respond=self.on_print)
        self.host.expect(prefix("named-checkconf", "-p"), respond=self.on_print)

    def remove_check_copies(self) -> None:
        """`rm -rf` of this run's private check directory."""
        self.host.expect(prefix("rm", "-rf", "--"), respond=self.on_remove)

    def remove_staged(self) -> None:
        """`rm -f` of staged files not moved into place."""
        self.host.expect(prefix("rm", "-f", "--"), respond=self.on_remove)

    def activate(self, *, fail_at: int | None = None) -> None:
        """Back up and move the staged files; fail_at: the index of the file whose mv fails
        (the files not moved are then removed)."""
        self.host.expect(script(apply.ACTIVATE_SCRIPT), respond=lambda call: self.on_activate(call, fail_at))
        if fail_at is not None:
            self.remove_staged()

    def set_aside(self) -> None:
        """Inline signing's files of a zone whose signing changes go into the backup directory."""
        self.host.expect(script(apply.MOVE_TO_BACKUP_SCRIPT, "dnsctl-set-aside"), respond=self.on_set_aside)

    def reload(self, *, loads: bool = True, fails: bool = False, starts: bool = False) -> None:
        """named takes the change: `rndc reload`, or (starts) enable and start it when it was not running.

        loads=False: named answers the reload but keeps serving the old zone.
        """
        if not starts:
            self.host.expect(
                exactly("rndc", "reload"), respond=lambda call: self.on_rndc_reload(call, loads, fails)
            )
        else:
            self.host.expect(exactly("systemctl", "enable", self.layout.service), respond=self.on_service)
            self.host.expect(starting("start", self.layout.service), respond=self.on_service)

    def open_firewall(self) -> None:
        if self.dbus:
            self.host.expect(script(apply.FIREWALL_DBUS_SCRIPT), respond=self.on_dbus_add_dns)
            return
        self.host.expect(
            exactly("firewall-cmd", "--zone=public", "--add-service=dns"), respond=self.on_add_dns
        )
        self.host.expect(
            exactly("firewall-cmd", "--permanent", "--zone=public", "--add-service=dns"),
            respond=self.on_add_dns,
        )

    def roll_back(self, *, reload_fails: bool = False) -> None:
        """apply.rollback(): old files back, then reload (restart when the reload fails)."""
        # Where a zone's old content waits, under its new serial, beside the backup.
        self.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=self.on_make_dir)
        self.host.expect(script(apply.ROLLBACK_SCRIPT), respond=self.on_roll_back)
        self.host.expect(
            exactly("rndc", "reload"), respond=lambda call: self.on_rndc_reload(call, True, reload_fails)
        )
        if reload_fails:
            self.host.expect(starting("restart", self.layout.service), respond=self.on_service)

    def transferred(self, zone: str) -> None:
        """add-slave checks that named wrote the transferred zone to disk."""
        path = self.layout.secondary_file(zone)
        self.host.expect(
            where(
                lambda call: script(converge.WAIT_FOR_FILE_SCRIPT)(call) and call.words[4] == path,
                f"dnsctl-wait-file {path} ...",
            ),
            respond=lambda call: ok(call) if self.host.files.get(path) else failed(call, "", 1),
        )

    def refresh(self) -> None:
        """A secondary activated in the stage of its primary is told to ask it again."""
        self.host.expect(script(apply.REFRESH_SCRIPT), respond=self.on_refresh)

    def retire(self) -> None:
        """apply --prune moves the removed zones' files into the run's backup directory."""
        self.host.expect(script(apply.MOVE_TO_BACKUP_SCRIPT, "dnsctl-retire"), respond=self.on_retire)

    def staged_leftovers(self) -> list[str]:
        """Staged files and validation copies dnsctl left behind."""
        return sorted(p for p in self.host.files if ".dnsctl-" in p or p.startswith(apply.CHECK_ROOT + "/"))


class NmClient:
    """A NetworkManager client: one connection's DNS settings, resolv.conf, and its resolver."""

    def __init__(
        self,
        host: FakeConnection,
        dns: FakeDns,
        *,
        connection: str = "lab",
        servers: tuple[str, ...] = (),
        ignore_auto_dns: str = "no",
        options: tuple[str, ...] = (),
        addresses: dict[str, set[str]] | None = None,  # what each name resolves to, when served
    ) -> None:
        self.host, self.dns, self.connection = host, dns, connection
        self.settings = {
            "ipv4.dns": " ".join(servers),
            "ipv4.ignore-auto-dns": ignore_auto_dns,
            "ipv4.dns-options": ",".join(options),
        }
        self.active = dict(self.settings)  # what the running connection uses
        self.addresses = addresses or {}
        self.resolv_conf_writable = True
        self.write_resolv_conf()

    def write_resolv_conf(self) -> None:
        servers = self.active["ipv4.dns"].split()
        options = self.active["ipv4.dns-options"].replace(",", " ")
        self.host.files["/etc/resolv.conf"] = (
            "# Generated by NetworkManager\n"
            + "".join(f"nameserver {server}\n" for server in servers)
            + (f"options {options}\n" if options else "")
        )

    def nameservers(self) -> list[str]:
        return parse_resolv_servers(self.host.files.get("/etc/resolv.conf", ""))

    def answering(self, fqdn: str) -> str | None:
        """The first server in resolv.conf that answers for the zone holding fqdn."""
        for server in self.nameservers():
            served = self.dns.zones(server) if server not in self.dns.down else {}
            if any(fqdn == zone or fqdn.endswith("." + zone) for zone in served):
                return server
        return None

    def on_read(self, call: Call) -> Result:
        dns = ",".join(self.settings["ipv4.dns"].split())
        options = self.settings["ipv4.dns-options"].replace(":", "\\:")
        return ok(
            call,
            f"@@connection\n{self.connection}\n@@settings\n{dns}\n"
            f"{self.settings['ipv4.ignore-auto-dns']}\n{options}\n",
        )

    def on_modify(self, call: Call) -> Result:
        pairs = call.words[4:]
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            self.settings[key] = value
        return ok(call)

    def on_up(self, call: Call, fails: bool) -> Result:
        if fails:
            return failed(
                call, "Error: Connection activation failed: IP configuration could not be reserved", 4
            )
        self.active = dict(self.settings)
        if self.resolv_conf_writable:
            self.write_resolv_conf()
        return ok(call, "Connection successfully activated\n")

    def on_getent(self, call: Call) -> Result:
        fqdn = call.words[2]
        server = self.answering(fqdn)
        if server is None or fqdn not in self.addresses:
            return failed(call, "", 2)
        return ok(call, "".join(f"{address}  STREAM {fqdn}\n" for address in sorted(self.addresses[fqdn])))

    def on_dig(self, call: Call) -> Result:
        server = self.answering(call.words[-2])
        if server is None:
            return ok(call, ";; communications error: timed out\n")
        return ok(call, f";; SERVER: {server}#53({server}) (UDP)\n")

    # --- the steps of a run --------------------------------------------------------------------

    def read(self) -> None:
        self.host.expect(script(NM_READ_SCRIPT), respond=self.on_read)

    def set_dns(self, *, up_fails: bool = False) -> None:
        """`nmcli connection modify` then `nmcli connection up`."""
        self.host.expect(prefix("nmcli", "connection", "modify", self.connection), respond=self.on_modify)
        self.host.expect(
            exactly("nmcli", "connection", "up", self.connection),
            respond=lambda call: self.on_up(call, up_fails),
        )

    def resolve(self, fqdn: str, rdtype: str = "A") -> None:
        database = "ahostsv6" if rdtype == "AAAA" else "ahostsv4"
        self.host.expect(exactly("getent", database, fqdn), respond=self.on_getent)

    def dig(self, fqdn: str, rdtype: str = "A") -> None:
        self.host.expect(
            exactly("dig", "+time=2", "+tries=1", "+nocomments", fqdn, rdtype), respond=self.on_dig
        )


def configured_files(
    inventory: Inventory, wants: dict[str, str], serial: int, layout: Layout = DEBIAN
) -> dict[str, str]:
    """The files of a server dnsctl already set up from inventory (zone -> role), zones at serial."""
    base = RHEL_FILES if layout is RHEL else DEBIAN_FILES
    files = dict(base)
    stanzas = {}
    for zone, role in wants.items():
        if role == "primary":
            files[layout.primary_file(zone)] = render.render_zone(inventory, zone, serial)
            signing = dnssec.zone_options(inventory, zone, layout, None)
            stanzas[zone] = render.primary_stanza(inventory, zone, layout, signing)
        else:
            stanzas[zone] = render.secondary_stanza(inventory, zone, layout)
    policies = list(dnssec.policy_statements(inventory, stanzas, None).values())
    files[layout.managed_conf] = render.render_managed(stanzas, policies)
    files[layout.include_parent] = render.ensure_include(files[layout.include_parent], layout.managed_conf)
    return files


TODAY = dt.date(2026, 11, 25)


class Scene:
    """One test's world: the fake fleet, the DNS table, the inventory, and sessions on them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, inventory: Inventory) -> None:
        self.fleet = FakeFleet()
        self.dns = FakeDns().install(monkeypatch)
        self.inventory = inventory
        self.out = io.StringIO()
        self.path: Path | None = None  # the inventory file, for commands that edit it

    @classmethod
    def editing(cls, monkeypatch: pytest.MonkeyPatch, path: Path, text: str) -> Scene:
        """A scene whose sessions edit the inventory file at path, written with text."""
        path.write_text(text)
        scene = cls(monkeypatch, parse_inventory(tomllib.loads(text)))
        scene.path = path
        return scene

    def server(self, name: str, **state: Any) -> BindServer:
        host = self.fleet.host(name)
        return BindServer(host, self.dns, self.inventory.servers[name].address, **state)

    def client(self, name: str, **state: Any) -> NmClient:
        return NmClient(self.fleet.host(name), self.dns, **state)

    def session(self, command: str = "test", **options: Any) -> Session:
        """A fresh run (as a new dnsctl process would start) on the same hosts."""
        self.fleet.close()
        self.out = io.StringIO()
        report = Report(command, out=self.out)
        options = Options(today=lambda: TODAY, **options)
        return Session(self.inventory, report, self.fleet, options, inventory_path=self.path)

    @property
    def output(self) -> str:
        return self.out.getvalue()
