"""The lab's cached root file system.

Built once with debootstrap from the machine's own Debian mirror and cached by
its package lists; every lab host boots from it under its own overlay layer.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from dnsctl.errors import LabError

Progress = Callable[[str], None]

CACHE_DIR = Path("/var/cache/dnsctl")
SUITE = "bookworm"
PACKAGES = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libpam-systemd",
    "openssh-server",
    "sudo",
    "bind9",
    "bind9-utils",
    "bind9-dnsutils",
    "firewalld",
    "network-manager",
    "iproute2",
    "procps",
    "python3",
)
# Bump when the files baked into the root file system change, to rebuild the cache.
ROOTFS_REVISION = "1"
ROOTFS_KEEP = 3  # cached root file systems kept, most recently used first

NAMED_OPTIONS = """\
// The lab: authoritative only, so no query ever leaves 198.51.100.0/24.
options {
\tdirectory "/var/cache/bind";
\trecursion no;
\tdnssec-validation no;
\tlisten-on-v6 { none; };
};
"""

SSHD_CONFIG = """\
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
"""

NM_MAIN = "[main]\nno-auto-default=*\n"

SYSCTL = "net.ipv6.conf.all.disable_ipv6 = 1\nnet.ipv6.conf.default.disable_ipv6 = 1\n"


def cache_key() -> str:
    text = "\n".join([SUITE, ROOTFS_REVISION, *PACKAGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def debian_mirror(sources: list[Path] | None = None) -> str:
    """The machine's own Debian mirror, from its apt sources."""
    paths = sources or [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in paths:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            mirror = parse_mirror(path.read_text())
            if mirror:
                return mirror
    raise LabError("no Debian mirror found in /etc/apt/sources.list(.d); debootstrap needs one")


def parse_mirror(text: str) -> str | None:
    """The first main-archive URI (not security) for the lab's suite in an apt sources text."""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "deb" and words[2] == SUITE:
            return words[1]
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith("#"):
                fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and SUITE in fields.get("suites", "").split():
            uris = fields.get("uris", "").split()
            if uris and "security" not in uris[0]:
                return uris[0]
    return None


def rootfs(progress: Progress) -> Path:
    """The cached root file system, built on first use."""
    path = CACHE_DIR / f"rootfs-{cache_key()}"
    marker = path / "etc" / "dnsctl-lab"
    if marker.exists():
        marker.touch()  # most recently used: kept when old ones are pruned
        return path
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    _remove_dead_builds()
    build = CACHE_DIR / f"build-{os.getpid()}"
    shutil.rmtree(build, ignore_errors=True)
    mirror = debian_mirror()
    progress(f"building the lab's root file system with debootstrap from {mirror} (about 70 s, once)")
    started = time.monotonic()
    result = subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(build), mirror],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(build, ignore_errors=True)
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["failed"]
        raise LabError(f"debootstrap failed: {tail[0]}")
    _customise(build)
    shutil.rmtree(path, ignore_errors=True)
    build.rename(path)  # atomic: a killed build never leaves a half cache behind
    progress(f"root file system cached in {path} ({time.monotonic() - started:.0f} s)")
    _prune_rootfs()
    return path


def _remove_dead_builds() -> None:
    """Builds whose process is gone (killed half-way) are only litter."""
    for build in CACHE_DIR.glob("build-*"):
        pid = build.name.removeprefix("build-")
        if not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            shutil.rmtree(build, ignore_errors=True)


def _prune_rootfs() -> None:
    """Keep the few most recently used root file systems: branches with other package
    lists take turns on one machine, and each rebuild costs a minute."""

    def last_used(path: Path) -> float:
        with contextlib.suppress(OSError):
            return (path / "etc" / "dnsctl-lab").stat().st_mtime
        return 0.0

    cached = sorted(CACHE_DIR.glob("rootfs-*"), key=last_used, reverse=True)
    for old in cached[ROOTFS_KEEP:]:
        shutil.rmtree(old, ignore_errors=True)


def _customise(root: Path) -> None:
    """Lab settings shared by every host; per-host identity is added per layer."""
    for path in [*root.glob("etc/ssh/ssh_host_*"), root / "etc/bind/rndc.key"]:
        path.unlink(missing_ok=True)
    (root / "etc/machine-id").write_text("")
    with contextlib.suppress(FileNotFoundError):
        (root / "etc/resolv.conf").unlink()
    (root / "etc/resolv.conf").write_text("# lab host: NetworkManager writes this\n")
    (root / "etc/bind/named.conf.options").write_text(NAMED_OPTIONS)
    (root / "etc/ssh/sshd_config.d/lab.conf").write_text(SSHD_CONFIG)
    (root / "etc/NetworkManager/conf.d/lab.conf").write_text(NM_MAIN)
    (root / "etc/sysctl.d/90-lab.conf").write_text(SYSCTL)
    for path in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for item in (root / path).glob("*"):
            if item.is_file() and item.name not in ("lock",):
                item.unlink()
    (root / "etc/dnsctl-lab").write_text(cache_key() + "\n")
