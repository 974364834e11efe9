"""The disposable lab: real hosts as systemd-nspawn containers with systemd inside.

The address plan, all in 198.51.100.0/24: the bridge is .1, servers count up
from .10 (ns1 the primary, ns2.. the secondaries, room up to .199) and clients
from .200 (client1). Every host boots from one cached Debian root file system,
each with its own overlay layer (dnsctl.lab_rootfs), on bridge ctllab0 with no
route or NAT anywhere. A bare server has BIND purged in its own layer and apt
pointed only at the package source inside the root file system, so installing
BIND never leaves the lab.

Everything the lab makes on this machine is named so that `lab_down` can find it
again even when the state directory is gone: the bridge ctllab0, veths vb-*,
cgroups dnslab-*, nspawn machines dnslab-*, overlay mounts on .../dnslab-*/root.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from dnsctl import interrupt
from dnsctl.errors import LabError, UsageError
from dnsctl.lab_rootfs import REPO_DIR, REPO_PACKAGES, Progress, rootfs

DEFAULT_STATE_DIR = Path("/var/lib/dnsctl/lab")
BRIDGE = "ctllab0"
BRIDGE_ADDRESS = "198.51.100.1"
NETWORK = "198.51.100."
FIRST_SERVER = 10  # ns1; ns2, ns3.. follow
FIRST_CLIENT = 200  # client1
# Far below the plan's room (.10-.199): each host takes ~112 MiB and boots on the same few cores.
MAX_SECONDARIES = 64
HOST_MEMORY_MIB = 128
PREFIX = "dnslab-"
HOST_TOOLS = ("debootstrap", "systemd-nspawn", "nsenter", "ip", "ssh-keygen", "mount", "chroot", "dpkg-deb")
BOOT_TIMEOUT = 90.0


@dataclass(frozen=True)
class LabHost:
    name: str
    address: str
    role: str  # primary | secondary | client
    bare: bool = False  # a server without BIND, to be installed by dnsctl

    @property
    def summary(self) -> str:
        return f"{self.role} {self.address}" + (", BIND not installed" if self.bare else "")


def lab_hosts(secondaries: int = 1, bare: tuple[str, ...] = ()) -> list[LabHost]:
    """The lab's hosts by the address plan; bad arguments are usage errors."""
    if not 1 <= secondaries <= MAX_SECONDARIES:
        raise UsageError(f"--secondaries {secondaries}: must be between 1 and {MAX_SECONDARIES}")
    servers = [f"ns{number}" for number in range(1, secondaries + 2)]
    for name in bare:
        if name not in servers:
            raise UsageError(f"--bare {name}: not a server of this lab (ns1 to {servers[-1]})")
    hosts = [
        LabHost(
            name, f"{NETWORK}{FIRST_SERVER + index}", "primary" if index == 0 else "secondary", name in bare
        )
        for index, name in enumerate(servers)
    ]
    return [*hosts, LabHost("client1", f"{NETWORK}{FIRST_CLIENT}", "client")]


# --- per host ----------------------------------------------------------------------


def _host_dir(state_dir: Path, name: str) -> Path:
    return state_dir / f"{PREFIX}{name}"


def _prepare_host(state_dir: Path, lower: Path, host: LabHost, public_key: str) -> Path:
    base = _host_dir(state_dir, host.name)
    shutil.rmtree(base, ignore_errors=True)
    for part in ("upper", "work", "root"):
        (base / part).mkdir(parents=True)
    _run(
        [
            "mount",
            "-t",
            "overlay",
            "overlay",
            "-o",
            f"lowerdir={lower},upperdir={base / 'upper'},workdir={base / 'work'}",
            str(base / "root"),
        ]
    )
    root = base / "root"
    if host.bare:
        _remove_bind(root)
    (root / "etc/hostname").write_text(host.name + "\n")
    (root / "etc/hosts").write_text(f"127.0.0.1 localhost\n{host.address} {host.name}\n")
    (root / "etc/machine-id").write_text(secrets.token_hex(16) + "\n")
    _run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            f"root@{host.name}",
            "-f",
            str(root / "etc/ssh/ssh_host_ed25519_key"),
        ]
    )
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text(public_key)
    (ssh_dir / "authorized_keys").chmod(0o600)
    if not host.bare:
        _write_rndc_key(root)
    keyfile = root / "etc/NetworkManager/system-connections/lab.nmconnection"
    keyfile.write_text(
        "[connection]\nid=lab\ntype=ethernet\ninterface-name=host0\nautoconnect=true\n\n"
        f"[ipv4]\nmethod=manual\naddress1={host.address}/24\n\n[ipv6]\nmethod=disabled\n"
    )
    keyfile.chmod(0o600)  # NetworkManager ignores a keyfile others can read
    if host.role == "client":
        unit = root / "etc/systemd/system/named.service"
        unit.unlink(missing_ok=True)
        unit.symlink_to("/dev/null")  # masked: a client runs no name server
    return root


def _remove_bind(root: Path) -> None:
    """Purge BIND in this host's own layer and leave apt only the lab's package source.

    No package lists are made: like a fresh cloud image, the host knows no package
    until `apt-get update`. policy-rc.d keeps dpkg from running init scripts on
    this machine (a chroot shares its processes and network).
    """
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    try:
        _run(
            ["chroot", str(root), "env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "--purge", *REPO_PACKAGES]
        )
    finally:
        policy.unlink()
    (root / "etc/apt/sources.list").write_text("# lab host: packages come from the lab only\n")
    (root / "etc/apt/sources.list.d/lab.list").write_text(f"deb [trusted=yes] file:/{REPO_DIR} ./\n")


def _write_rndc_key(root: Path) -> None:
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    path = root / "etc/bind/rndc.key"
    path.write_text(f'key "rndc-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n')
    gid = _group_id(root, "bind")
    os.chown(path, 0, gid)
    path.chmod(0o640)


def _group_id(root: Path, group: str) -> int:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == group:
            return int(fields[2])
    raise LabError(f"the lab root file system has no group {group}")


def _cgroup_dirs(name: str) -> list[Path]:
    return [Path("/sys/fs/cgroup") / tree / f"{PREFIX}{name}" for tree in ("systemd", "unified")]


def _start(state_dir: Path, host: LabHost, root: Path) -> None:
    """Boot the container detached, in its own cgroups (it shares ours otherwise)."""
    cgroups = [path for path in _cgroup_dirs(host.name) if path.parent.is_dir()]
    for path in cgroups:
        path.mkdir(exist_ok=True)
    join = "".join(f'echo $$ > "{path}/cgroup.procs"; ' for path in cgroups)
    command = [
        "systemd-nspawn",
        "--quiet",
        "-D",
        str(root),
        f"--machine={PREFIX}{host.name}",
        "--boot",
        "--register=no",
        "--keep-unit",
        "--resolv-conf=off",
        "--link-journal=no",
        "--timezone=off",
        "--console=passive",
        f"--network-veth-extra=vb-{host.name}:host0",
    ]
    log = (_host_dir(state_dir, host.name) / "console.log").open("ab")
    subprocess.Popen(
        ["sh", "-c", join + 'exec "$@"', "dnslab-start", *command],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()


def _attach_veth(name: str, deadline: float) -> None:
    veth = f"vb-{name}"
    while not Path(f"/sys/class/net/{veth}").exists():
        if time.monotonic() > deadline:
            raise LabError(f"{name}: its network link {veth} never appeared")
        interrupt.checkpoint()
        time.sleep(0.05)
    _disable_ipv6(veth)
    _run(["ip", "link", "set", veth, "master", BRIDGE, "up"])


def _disable_ipv6(interface: str) -> None:
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6").write_text("1")


INOTIFY_LIMIT = Path("/proc/sys/fs/inotify/max_user_instances")
# Each host's systemd, logind, NetworkManager, firewalld and getty hold ~10 inotify
# instances as root, and the kernel's default allows 128 per user: 11 hosts at most.
INOTIFY_PER_HOST = 12
# What lab_up raised the limit from and to; in /run, which a reboot clears like the setting.
INOTIFY_SAVED = Path("/run/dnsctl-lab-inotify")


def inotify_limit_needed(in_use: int, hosts: int, limit: int) -> int | None:
    """The limit a lab of that many hosts needs, or None when the current one will do."""
    needed = in_use + hosts * INOTIFY_PER_HOST
    return needed if needed > limit else None


def _root_inotify_instances() -> int:
    count = 0
    for proc in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if proc.name.isdigit() and proc.stat().st_uid == 0:
                count += sum("inotify" in os.readlink(fd) for fd in (proc / "fd").iterdir())
    return count


def _raise_inotify_limit(hosts: int, progress: Progress) -> None:
    limit = int(INOTIFY_LIMIT.read_text())
    needed = inotify_limit_needed(_root_inotify_instances(), hosts, limit)
    if needed is None:
        return
    original = INOTIFY_SAVED.read_text().split()[0] if INOTIFY_SAVED.exists() else str(limit)
    INOTIFY_SAVED.write_text(f"{original} {needed}\n")
    INOTIFY_LIMIT.write_text(f"{needed}\n")
    progress(
        f"fs.inotify.max_user_instances raised from {limit} to {needed} for {hosts} hosts (until lab down)"
    )


def _restore_inotify_limit() -> None:
    """Put back what lab_up raised, unless someone has set another value since."""
    with contextlib.suppress(FileNotFoundError):
        original, raised = INOTIFY_SAVED.read_text().split()
        if INOTIFY_LIMIT.read_text().strip() == raised:
            INOTIFY_LIMIT.write_text(f"{original}\n")
        INOTIFY_SAVED.unlink()


def _ensure_bridge() -> None:
    if not Path(f"/sys/class/net/{BRIDGE}").exists():
        _run(["ip", "link", "add", BRIDGE, "type", "bridge", "mcast_snooping", "0"])
    _disable_ipv6(BRIDGE)
    addresses = _run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE]).stdout
    if f"{BRIDGE_ADDRESS}/24" not in addresses:
        _run(["ip", "addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE])
    _run(["ip", "link", "set", BRIDGE, "up"])


# --- finding what runs ---------------------------------------------------------------


def _nspawn_processes() -> dict[str, int]:
    """Lab host name -> pid of its systemd-nspawn, found by command line.

    Only root's: anyone can name a process systemd-nspawn --machine=dnslab-ns1, and the lab
    kills these processes and runs commands as root in their children's namespaces.
    """
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != 0:
                continue
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"systemd-nspawn"):
            for arg in argv:
                if arg.startswith(f"--machine={PREFIX}".encode()):
                    found[arg.decode().split("=", 1)[1].removeprefix(PREFIX)] = int(proc.name)
    return found


def _leader(nspawn_pid: int) -> int | None:
    """The container's init: the child of systemd-nspawn whose pid inside is 1."""
    for task in Path(f"/proc/{nspawn_pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                status = Path(f"/proc/{child}/status").read_text()
                nspid = next((line for line in status.splitlines() if line.startswith("NSpid:")), "")
                if nspid.split()[-1:] == ["1"]:
                    return int(child)
    return None


def leader_of(name: str) -> int:
    pid = _nspawn_processes().get(name)
    leader = _leader(pid) if pid else None
    if leader is None:
        raise LabError(f"lab host {name} is not running (dnsctl lab up)")
    return leader


def host_exec(
    name: str,
    argv: list[str],
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    """Run argv inside a lab host, bypassing SSH: how tests check results independently.

    The host is found by its running container, whichever state directory started it.
    """
    return subprocess.run(
        ["nsenter", "-t", str(leader_of(name)), "-a", *argv],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _wait_ready(host: LabHost, deadline: float) -> None:
    services = ["ssh", "firewalld", "NetworkManager"] + (["named"] if _runs_named(host) else [])
    checks = [
        (
            "systemd",
            ["systemctl", "is-system-running", "--wait"],
            lambda out: out.strip() in ("running", "degraded"),
        ),
        (
            "its address",
            ["ip", "-4", "-o", "addr", "show", "dev", "host0"],
            lambda out: f" {host.address}/" in out,
        ),
        (
            "services",
            ["systemctl", "is-active", *services],
            lambda out: out.split() == ["active"] * len(services),
        ),
    ]
    for what, argv, ready in checks:
        last = ""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LabError(
                    f"{host.name}: not ready within {BOOT_TIMEOUT:.0f} s, "
                    f"waiting for {what} ({last.strip()[:80]})"
                )
            try:
                result = host_exec(host.name, argv, timeout=max(1.0, min(remaining, 20)))
                last = result.stdout + result.stderr
                if ready(result.stdout):
                    break
            except (LabError, subprocess.TimeoutExpired) as exc:
                last = str(exc)
            interrupt.checkpoint()
            time.sleep(0.2)


def _runs_named(host: LabHost) -> bool:
    return host.role != "client" and not host.bare


# --- up, down, status ---------------------------------------------------------------


def _preflight() -> None:
    _preflight_root()
    for tool in HOST_TOOLS:
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is not installed (apt-get install systemd-container debootstrap)")


SHAPE_FILE = "lab.json"  # the arguments the running lab was brought up with


def _shape(secondaries: int, bare: tuple[str, ...]) -> dict:
    return {"secondaries": secondaries, "bare": sorted(bare)}


def _running_shape(state_dir: Path) -> dict | None:
    with contextlib.suppress(OSError, ValueError):
        return json.loads((state_dir / SHAPE_FILE).read_text())
    return None


def _running(state_dir: Path, hosts: list[LabHost], shape: dict) -> bool:
    """Is exactly this lab up, with its inventory written?"""
    if _running_shape(state_dir) != shape or not (state_dir / "inventory.toml").exists():
        return False
    if set(_nspawn_processes()) != {host.name for host in hosts}:
        return False
    try:
        for host in hosts:
            if host_exec(host.name, ["true"], timeout=5).returncode != 0:
                return False
    except (LabError, subprocess.TimeoutExpired):
        return False
    return True


def memory_shortfall(meminfo: str, hosts: int) -> str | None:
    """Why this machine cannot hold that many lab hosts, or None when it can."""
    fields = dict(line.split(":", 1) for line in meminfo.splitlines() if ":" in line)
    available_mib = int(fields.get("MemAvailable", "0 kB").split()[0]) // 1024
    needed_mib = hosts * HOST_MEMORY_MIB
    if available_mib >= needed_mib:
        return None
    return f"{hosts} lab hosts need about {needed_mib} MiB of memory, {available_mib} MiB is available"


def lab_up(
    state_dir: Path = DEFAULT_STATE_DIR,
    secondaries: int = 1,
    bare: tuple[str, ...] = (),
    progress: Progress = lambda s: None,
) -> list[LabHost]:
    hosts = lab_hosts(secondaries, tuple(bare))
    shape = _shape(secondaries, tuple(bare))
    _preflight()
    state_dir = Path(state_dir)
    if _running(state_dir, hosts, shape):
        progress("the lab is already up")
        return hosts
    leftovers = (
        _nspawn_processes()
        or Path(f"/sys/class/net/{BRIDGE}").exists()
        or _lab_mounts()
        or list(Path("/sys/fs/cgroup").glob(f"*/{PREFIX}*"))
    )
    if leftovers:
        progress("removing the lab that runs now (other hosts) or was left behind")
        lab_down(state_dir, progress)
    shortfall = memory_shortfall(Path("/proc/meminfo").read_text(), len(hosts))
    if shortfall:
        raise LabError(f"{shortfall}; ask for fewer --secondaries")
    lower = rootfs(progress)
    _raise_inotify_limit(len(hosts), progress)
    started = time.monotonic()
    state_dir.mkdir(parents=True, exist_ok=True)
    key = state_dir / "id_ed25519"
    if not key.exists():
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dnsctl-lab", "-f", str(key)])
    public_key = Path(f"{key}.pub").read_text()

    def boot(host: LabHost) -> str:
        root = _prepare_host(state_dir, lower, host, public_key)
        host_key = (root / "etc/ssh/ssh_host_ed25519_key.pub").read_text().split()
        _start(state_dir, host, root)
        return f"{host.address} {host_key[0]} {host_key[1]}\n"

    try:
        _ensure_bridge()
        # Threads: each host's preparation is mostly waiting on mount, ssh-keygen and dpkg.
        with ThreadPoolExecutor(min(len(hosts), 8)) as pool:
            known_hosts = list(pool.map(boot, hosts))
        deadline = time.monotonic() + BOOT_TIMEOUT
        for host in hosts:
            _attach_veth(host.name, deadline)
        with ThreadPoolExecutor(len(hosts)) as pool:
            for future in [pool.submit(_wait_ready, host, deadline) for host in hosts]:
                future.result()
    except BaseException:
        lab_down(state_dir)
        raise
    (state_dir / "known_hosts").write_text("".join(known_hosts))
    (state_dir / "inventory.toml").write_text(render_inventory(state_dir, hosts))
    (state_dir / SHAPE_FILE).write_text(json.dumps(shape) + "\n")
    progress(f"{len(hosts)} hosts up in {time.monotonic() - started:.1f} s")
    return hosts


def render_inventory(state_dir: Path, hosts: list[LabHost]) -> str:
    servers = [host for host in hosts if host.role != "client"]
    secondaries = ", ".join(f'"{host.name}"' for host in servers if host.role == "secondary")
    lines = [
        "# The lab's inventory, written by `dnsctl lab up`.",
        "[ssh]",
        'user = "root"',
        # JSON's string escapes are TOML's: a --state-dir with a quote or a backslash stays a path.
        f"key = {json.dumps(str(state_dir / 'id_ed25519'))}",
        f"known_hosts = {json.dumps(str(state_dir / 'known_hosts'))}",
        "",
    ]
    for host in servers:
        lines += [f"[servers.{host.name}]", f'address = "{host.address}"', ""]
    for host in hosts:
        if host.role == "client":
            lines += [f"[clients.{host.name}]", f'address = "{host.address}"', 'connection = "lab"', ""]
    lines += [
        '[zones."example.com"]',
        'primary = "ns1"',
        f"secondaries = [{secondaries}]",
        'allow_query = ["198.51.100.0/24"]',
        "",
        '[[zones."example.com".records]]',
        'name = "pc1"',
        'type = "A"',
        'value = "198.51.100.50"',
    ]
    return "\n".join(lines) + "\n"


def lab_down(state_dir: Path = DEFAULT_STATE_DIR, progress: Progress = lambda s: None) -> None:
    """Remove every lab this machine has, whatever state directory it came from."""
    _preflight_root()
    processes = _nspawn_processes()
    for pid in processes.values():
        # Nothing in a lab host is worth a clean shutdown: killing its init ends every
        # process in its namespaces at once, and nspawn then cleans up and exits.
        leader = _leader(pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(leader or pid, signal.SIGKILL if leader else signal.SIGTERM)
    deadline = time.monotonic() + 15
    while _nspawn_processes() and time.monotonic() < deadline:
        time.sleep(0.1)
    for name, pid in _nspawn_processes().items():
        for victim in filter(None, (_leader(pid), pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)
        progress(f"{name} did not stop in time: killed")
    _kill_cgroup_members()
    for link in Path("/sys/class/net").glob("vb-*"):
        subprocess.run(["ip", "link", "delete", link.name], capture_output=True)
    if Path(f"/sys/class/net/{BRIDGE}").exists():
        subprocess.run(["ip", "link", "delete", BRIDGE], capture_output=True)
    # A lab started from another state directory is found by its mounts: clean that too.
    state_dirs = {Path(state_dir)}
    for mountpoint in _lab_mounts():
        subprocess.run(["umount", "-l", mountpoint], capture_output=True)
        state_dirs.add(Path(mountpoint).parent.parent)
    _remove_cgroups()
    _restore_inotify_limit()
    for directory in state_dirs:
        for item in directory.glob(f"{PREFIX}*"):
            shutil.rmtree(item, ignore_errors=True)
        for name in ("inventory.toml", "known_hosts", "id_ed25519", "id_ed25519.pub", SHAPE_FILE):
            (directory / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            directory.rmdir()  # only when nothing else of the user's is in it
    if processes:
        progress(f"stopped {', '.join(sorted(processes))}")


def _preflight_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates containers, a bridge and mounts)")


def _lab_mounts() -> list[str]:
    mounts = []
    for line in Path("/proc/mounts").read_text().splitlines():
        mountpoint = line.split()[1].replace("\\040", " ")
        if re.search(rf"/{PREFIX}[^/]+/root$", mountpoint):
            mounts.append(mountpoint)
    return sorted(mounts, key=len, reverse=True)


def _kill_cgroup_members() -> None:
    for procs in Path("/sys/fs/cgroup").glob(f"*/{PREFIX}*/**/cgroup.procs"):
        with contextlib.suppress(OSError):
            for pid in procs.read_text().split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)


def _remove_cgroups() -> None:
    """Deepest first; a cgroup whose last process is still exiting refuses for a moment."""
    for top in Path("/sys/fs/cgroup").glob(f"*/{PREFIX}*"):
        for directory, _subdirs, _files in os.walk(top, topdown=False):
            if directory != str(top):
                with contextlib.suppress(OSError):
                    os.rmdir(directory)
        deadline = time.monotonic() + 5
        while True:
            try:
                top.rmdir()
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.05)


def lab_status(state_dir: Path = DEFAULT_STATE_DIR) -> list[dict]:
    shape = _running_shape(Path(state_dir)) or _shape(1, ())
    processes = _nspawn_processes()
    status = []
    for host in lab_hosts(shape["secondaries"], tuple(shape["bare"])):
        entry: dict = {
            "name": host.name,
            "address": host.address,
            "role": host.role,
            "bare": host.bare,
            "running": host.name in processes,
        }
        if entry["running"]:
            services = ["named", "firewalld", "NetworkManager", "ssh"]
            with contextlib.suppress(LabError, subprocess.TimeoutExpired):
                result = host_exec(host.name, ["systemctl", "is-active", *services], timeout=5)
                entry.update(dict(zip(services, result.stdout.split(), strict=False)))
        status.append(entry)
    return status


def _run(argv: list[str]) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.returncode}"]
        raise LabError(f"`{' '.join(argv[:3])}` failed: {reason[0]}")
    return result
