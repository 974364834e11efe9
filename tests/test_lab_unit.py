"""The lab's pure parts; the lab itself is exercised by every integration test."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsctl import lab, lab_rootfs
from dnsctl.cli import main
from dnsctl.errors import LabError, UsageError
from dnsctl.models import parse_inventory


def test_hosts_and_addresses():
    hosts = lab.lab_hosts(3)
    assert [(h.name, h.address, h.role, h.bare) for h in hosts] == [
        ("ns1", "198.51.100.10", "primary", False),
        ("ns2", "198.51.100.11", "secondary", False),
        ("ns3", "198.51.100.12", "secondary", False),
        ("ns4", "198.51.100.13", "secondary", False),
        ("client1", "198.51.100.200", "client", False),
    ]


def test_address_plan_holds_the_largest_fleet():
    hosts = lab.lab_hosts(lab.MAX_SECONDARIES)
    assert lab.MAX_SECONDARIES >= 32
    addresses = [ipaddress.ip_address(host.address) for host in hosts]
    assert len(set(addresses)) == len(hosts) == lab.MAX_SECONDARIES + 2
    assert all(address in ipaddress.ip_network("198.51.100.0/24") for address in addresses)
    assert ipaddress.ip_address(lab.BRIDGE_ADDRESS) not in addresses
    servers = [host for host in hosts if host.role != "client"]
    assert hosts[-1].name == "client1" and hosts[-1].address == "198.51.100.200"
    # Servers stay below the clients' range, with room to spare.
    assert max(int(host.address.rsplit(".", 1)[1]) for host in servers) < lab.FIRST_CLIENT - 100


@pytest.mark.parametrize(
    ("secondaries", "bare", "message"),
    [
        (0, (), "--secondaries 0: must be between 1 and 64"),
        (lab.MAX_SECONDARIES + 1, (), "--secondaries 65: must be between 1 and 64"),
        (1, ("client1",), "--bare client1: not a server of this lab (ns1 to ns2)"),
        (1, ("ns3",), "--bare ns3: not a server of this lab"),
    ],
)
def test_bad_shapes_are_usage_errors(secondaries, bare, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        lab.lab_hosts(secondaries, bare)


def test_bare_servers():
    hosts = {host.name: host for host in lab.lab_hosts(2, ("ns1", "ns3"))}
    assert hosts["ns1"].bare and hosts["ns3"].bare and not hosts["ns2"].bare
    assert hosts["ns1"].summary == "primary 198.51.100.10, BIND not installed"
    assert hosts["ns2"].summary == "secondary 198.51.100.11"


@pytest.mark.parametrize(
    "arguments",
    [["--bare", "client1"], ["--secondaries", "65"], ["--secondaries", "0"], ["--bare", "ns3"]],
)
def test_lab_up_rejects_bad_arguments_before_touching_anything(monkeypatch, arguments):
    def must_not_run() -> None:
        raise AssertionError("lab up went past argument checks")

    monkeypatch.setattr(lab, "_preflight", must_not_run)
    result = CliRunner().invoke(main, ["lab", "up", "--state-dir", "/nonexistent/lab", *arguments])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert arguments[0] in result.output


def test_lab_up_help_states_the_fleet_limit():
    result = CliRunner().invoke(main, ["lab", "up", "--help"])
    assert f"1 to {lab.MAX_SECONDARIES}" in result.output and "--bare SERVER" in result.output


def test_inventory_is_valid_and_complete():
    state = Path("/var/lib/dnsctl/x")
    text = lab.render_inventory(state, lab.lab_hosts(2))
    inventory = parse_inventory(tomllib.loads(text))
    assert inventory.ssh.key == f"{state}/id_ed25519"
    assert inventory.zones["example.com"].secondaries == ["ns2", "ns3"]
    assert inventory.clients["client1"].connection == "lab"
    assert inventory.clients["client1"].address == "198.51.100.200"
    assert [r.value for r in inventory.records("example.com")] == ["198.51.100.50"]


def test_inventory_keeps_a_state_dir_with_quotes_and_backslashes():
    state = Path('/tmp/a "lab" \\ dir')
    inventory = parse_inventory(tomllib.loads(lab.render_inventory(state, lab.lab_hosts(1))))
    assert inventory.ssh.key == f"{state}/id_ed25519"
    assert inventory.ssh.known_hosts == f"{state}/known_hosts"


def test_inventory_of_a_fleet():
    text = lab.render_inventory(Path("/x"), lab.lab_hosts(32))
    inventory = parse_inventory(tomllib.loads(text))
    assert inventory.zones["example.com"].secondaries == [f"ns{n}" for n in range(2, 34)]
    assert inventory.servers["ns33"].address == "198.51.100.42"


def test_mirror_from_deb822_and_one_line_sources():
    deb822 = (
        "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.test/debian-security\n"
        "Suites: bookworm-security\n"
    )
    assert lab_rootfs.parse_mirror(deb822) == "http://mirror.test/debian"
    assert (
        lab_rootfs.parse_mirror("deb http://other.test/debian bookworm main\n") == "http://other.test/debian"
    )
    assert lab_rootfs.parse_mirror("deb http://x.test/ubuntu jammy main\n") is None


def test_cache_key_follows_the_package_lists(monkeypatch):
    key = lab_rootfs.cache_key()
    monkeypatch.setattr(lab_rootfs, "PACKAGES", (*lab_rootfs.PACKAGES, "vim"))
    assert lab_rootfs.cache_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(lab_rootfs, "REPO_PACKAGES", (*lab_rootfs.REPO_PACKAGES, "bind9-doc"))
    assert lab_rootfs.cache_key() != key


DPKG_STATUS = """\
Package: bind9
Status: install ok installed
Version: 1:9.18.49-1~deb12u1
Depends: adduser, bind9-libs (= 1:9.18.49-1~deb12u1), debconf | debconf-2.0, libc6 (>= 2.34)
Pre-Depends: init-system-helpers (>= 1.54~)
Description: Internet Domain Name Server
 The Berkeley Internet Name Domain (BIND 9) implements an Internet domain
 name server.

Package: bind9-libs
Status: install ok installed
Depends: libc6 (>= 2.34), libuv1

Package: adduser
Status: install ok installed
Depends: passwd, perl:any

Package: perl-base
Status: install ok installed
Provides: perl:any, perl5

Package: debconf-2.0-provider
Status: install ok installed
Provides: debconf-2.0

Package: libc6
Status: install ok installed

Package: libuv1
Status: install ok installed
Depends: libc6

Package: passwd
Status: install ok installed

Package: init-system-helpers
Status: install ok installed

Package: debconf
Status: deinstall ok config-files

Package: vim
Status: install ok installed
Depends: libc6
"""


def test_dependency_closure_follows_alternatives_and_virtual_packages():
    installed = lab_rootfs.parse_dpkg_status(DPKG_STATUS)
    assert "debconf" not in installed  # only config files left: not installed
    assert installed["bind9"]["Description"].endswith("name server.")
    assert lab_rootfs.dependency_closure(installed, ("bind9",)) == {
        "bind9",
        "bind9-libs",
        "adduser",
        "passwd",
        "perl-base",
        "debconf-2.0-provider",
        "libc6",
        "libuv1",
        "init-system-helpers",
    }


def test_dependency_closure_names_what_is_missing():
    installed = lab_rootfs.parse_dpkg_status(DPKG_STATUS.replace("Package: libuv1\n", "Package: libuv2\n"))
    with pytest.raises(LabError, match="libuv1"):
        lab_rootfs.dependency_closure(installed, ("bind9",))


def test_index_entry_and_release():
    control = "Package: x\nVersion: 1\nDescription: x\n more\n"
    entry = lab_rootfs.index_entry(control, "x_1_all.deb", 42, "ab" * 32)
    assert entry == (
        "Package: x\nVersion: 1\nDescription: x\n more\n"
        f"Filename: ./x_1_all.deb\nSize: 42\nSHA256: {'ab' * 32}\n"
    )
    packages = entry.encode()
    release = lab_rootfs.release_file(packages, "Tue, 25 Nov 2025 12:00:00 GMT")
    assert release == (
        "Date: Tue, 25 Nov 2025 12:00:00 GMT\nSHA256:\n"
        f" {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n"
    )


def _fake_deb(directory: Path, name: str, depends: str = "") -> None:
    tree = directory / f"tree-{name}"
    (tree / "DEBIAN").mkdir(parents=True)
    fields = f"Package: {name}\nVersion: 1:1.0\nArchitecture: all\nMaintainer: lab <lab@example.test>\n"
    fields += f"Depends: {depends}\n" if depends else ""
    (tree / "DEBIAN/control").write_text(fields + "Description: test package\n")
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "-b", str(tree), str(directory / f"{name}_1%3a1.0_all.deb")],
        check=True,
        capture_output=True,
    )
    shutil.rmtree(tree)


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_local_repo_keeps_the_closure_and_indexes_it(tmp_path, monkeypatch):
    archives = tmp_path / "var/cache/apt/archives"
    archives.mkdir(parents=True)
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(
        "Package: server\nStatus: install ok installed\nDepends: libserver (>= 1)\n\n"
        "Package: libserver\nStatus: install ok installed\n\n"
        "Package: unrelated\nStatus: install ok installed\n"
    )
    for name, depends in (("server", "libserver (>= 1)"), ("libserver", ""), ("unrelated", "")):
        _fake_deb(archives, name, depends)
    monkeypatch.setattr(lab_rootfs, "REPO_PACKAGES", ("server",))
    lab_rootfs._build_local_repo(tmp_path)
    repo = tmp_path / lab_rootfs.REPO_DIR
    assert sorted(path.name for path in repo.glob("*.deb")) == [
        "libserver_1%3a1.0_all.deb",
        "server_1%3a1.0_all.deb",
    ]
    assert [path.name for path in archives.glob("*.deb")] == ["unrelated_1%3a1.0_all.deb"]
    paragraphs = (repo / "Packages").read_text().split("\n\n")
    assert [p.splitlines()[0] for p in paragraphs] == ["Package: libserver", "Package: server"]
    server = dict(line.split(": ", 1) for line in paragraphs[1].splitlines() if ": " in line)
    deb = (repo / server["Filename"]).read_bytes()
    assert server["Depends"] == "libserver (>= 1)" and server["Version"] == "1:1.0"
    assert int(server["Size"]) == len(deb) and server["SHA256"] == hashlib.sha256(deb).hexdigest()
    assert hashlib.sha256((repo / "Packages").read_bytes()).hexdigest() in (repo / "Release").read_text()


def test_memory_shortfall():
    meminfo = "MemTotal:       24000000 kB\nMemAvailable:    4194304 kB\n"
    assert lab.memory_shortfall(meminfo, 3) is None
    assert lab.memory_shortfall(meminfo, 34) == (
        f"34 lab hosts need about {34 * lab.HOST_MEMORY_MIB} MiB of memory, 4096 MiB is available"
    )


def test_inotify_limit_is_raised_only_when_the_hosts_need_it():
    assert lab.inotify_limit_needed(in_use=20, hosts=3, limit=128) is None
    assert lab.inotify_limit_needed(in_use=20, hosts=34, limit=128) == 20 + 34 * lab.INOTIFY_PER_HOST
    assert lab.inotify_limit_needed(in_use=20, hosts=34, limit=8192) is None
