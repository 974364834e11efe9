"""The lab's cached root file system, and the package source kept inside it.

Built once with debootstrap from the machine's own Debian mirror and cached by
its package lists; every lab host boots from it under its own overlay layer.
The .debs of BIND and everything it depends on are kept from the build as a
flat apt repository, so a bare lab host installs BIND without leaving the lab.
"""

from __future__ import annotations

import contextlib
import email.utils
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
# What a bare host can install from the lab's own package source (with their dependencies).
REPO_PACKAGES = ("bind9", "bind9-utils")
REPO_DIR = "srv/lab-apt"  # inside the root file system
# Bump when the files baked into the root file system change, to rebuild the cache.
ROOTFS_REVISION = "2"
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
    text = "\n".join([SUITE, ROOTFS_REVISION, *PACKAGES, "repo:", *REPO_PACKAGES])
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
    try:
        _customise(build)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
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
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text("# lab host: NetworkManager writes this\n")
    (root / "etc/bind/named.conf.options").write_text(NAMED_OPTIONS)
    (root / "etc/ssh/sshd_config.d/lab.conf").write_text(SSHD_CONFIG)
    (root / "etc/NetworkManager/conf.d/lab.conf").write_text(NM_MAIN)
    (root / "etc/sysctl.d/90-lab.conf").write_text(SYSCTL)
    _build_local_repo(root)
    for path in ("var/lib/apt/lists", "var/cache/apt/archives"):
        for item in (root / path).glob("*"):
            if item.is_file() and item.name not in ("lock",):
                item.unlink()
    (root / "etc/dnsctl-lab").write_text(cache_key() + "\n")


# --- the local package source -----------------------------------------------------


def parse_dpkg_status(text: str) -> dict[str, dict[str, str]]:
    """The installed packages' fields by package name, from /var/lib/dpkg/status."""
    installed = {}
    for paragraph in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in paragraph.splitlines():
            if line[:1] in (" ", "\t"):
                if key:
                    fields[key] += "\n" + line
                continue
            key, sep, value = line.partition(":")
            if sep:
                fields[key] = value.strip()
        if "Package" in fields and fields.get("Status", "").endswith(" installed"):
            installed[fields["Package"]] = fields
    return installed


def _relation_names(text: str) -> list[list[str]]:
    """A Depends-style field as alternatives of bare names: `a (>= 1) | b:any, c` -> [[a, b], [c]]."""
    groups = []
    for group in text.split(","):
        names = [alternative.split("(")[0].strip().split(":")[0] for alternative in group.split("|")]
        if any(names):
            groups.append([name for name in names if name])
    return groups


def dependency_closure(installed: dict[str, dict[str, str]], roots: tuple[str, ...]) -> set[str]:
    """roots and every installed package they need (Pre-Depends, Depends), recursively."""
    providers: dict[str, str] = {}
    for name, fields in installed.items():
        for virtual in _relation_names(fields.get("Provides", "")):
            providers.setdefault(virtual[0], name)
    needed: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in needed:
            continue
        if name not in installed:
            raise LabError(f"the lab's package source needs {name}, which the root file system lacks")
        needed.add(name)
        for field in ("Pre-Depends", "Depends"):
            for alternatives in _relation_names(installed[name].get(field, "")):
                chosen = next((alt for alt in alternatives if alt in installed), None) or next(
                    (providers[alt] for alt in alternatives if alt in providers), None
                )
                if chosen is None:
                    raise LabError(
                        f"the lab's package source: nothing installed satisfies {name}'s {alternatives}"
                    )
                pending.append(chosen)
    return needed


def index_entry(control: str, filename: str, size: int, sha256: str) -> str:
    """One Packages paragraph: the .deb's control fields plus where it is and its hash."""
    return f"{control.rstrip()}\nFilename: ./{filename}\nSize: {size}\nSHA256: {sha256}\n"


def release_file(packages: bytes, date: str) -> str:
    return f"Date: {date}\nSHA256:\n {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n"


def _build_local_repo(root: Path) -> None:
    """Keep the .debs of REPO_PACKAGES and their dependencies as a flat apt repository.

    debootstrap downloaded exactly the installed versions into the archive cache;
    the index is made with dpkg-deb, which every Debian machine has.
    """
    installed = parse_dpkg_status((root / "var/lib/dpkg/status").read_text())
    needed = dependency_closure(installed, REPO_PACKAGES)
    debs = {deb.name.split("_")[0]: deb for deb in (root / "var/cache/apt/archives").glob("*.deb")}
    missing = sorted(needed - set(debs))
    if missing:
        raise LabError(
            f"debootstrap kept no .deb for {', '.join(missing)}; cannot make the lab's package source"
        )
    repo = root / REPO_DIR
    repo.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in sorted(needed):
        deb = debs[name].rename(repo / debs[name].name)
        fields = subprocess.run(["dpkg-deb", "--field", str(deb)], capture_output=True, text=True)
        if fields.returncode != 0:
            raise LabError(f"dpkg-deb cannot read {deb.name}: {fields.stderr.strip()}")
        control = fields.stdout
        data = deb.read_bytes()
        entries.append(index_entry(control, deb.name, len(data), hashlib.sha256(data).hexdigest()))
    packages = "\n".join(entries).encode()
    (repo / "Packages").write_bytes(packages)
    (repo / "Release").write_text(release_file(packages, email.utils.formatdate(usegmt=True)))
