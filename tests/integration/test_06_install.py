"""Installing BIND for real: `dnsctl lab up --bare ns1 --bare ns2` gives servers whose
BIND is purged and whose apt knows only the lab's own package source (and has no
package lists yet, like a fresh image). init-primary and add-slave must install,
plan again on what was installed, and serve."""

from __future__ import annotations

import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import soa

pytestmark = pytest.mark.lab

BARE = ("ns1", "ns2")


@pytest.fixture(scope="module")
def bare_lab(the_lab):
    with the_lab.reshaped(*(option for name in BARE for option in ("--bare", name))) as result:
        assert "primary 198.51.100.10, BIND not installed" in result.stdout
        yield the_lab


def package_status(the_lab, host: str, package: str) -> str:
    result = the_lab.exec(host, "dpkg-query", "-W", "-f", "${Status} ${Version}", package, check=False)
    return result.stdout if result.returncode == 0 else "not installed"


def lab_source_version(the_lab, host: str, package: str) -> str:
    paragraphs = the_lab.read(host, "/srv/lab-apt/Packages").split("\n\n")
    fields = next(p for p in paragraphs if p.startswith(f"Package: {package}\n")).splitlines()
    return next(line.split(": ", 1)[1] for line in fields if line.startswith("Version: "))


def test_bare_servers_have_no_bind_and_only_the_lab_source(bare_lab):
    for host in BARE:
        assert package_status(bare_lab, host, "bind9") == "not installed"
        assert package_status(bare_lab, host, "bind9-utils") == "not installed"
        assert bare_lab.exec(host, "sh", "-c", "command -v named", check=False).returncode != 0
        sources = bare_lab.exec(host, "sh", "-c", "grep -rh '^deb' /etc/apt/sources.list*").stdout
        assert sources == "deb [trusted=yes] file:/srv/lab-apt ./\n"
    assert package_status(bare_lab, "client1", "bind9").startswith("install ok installed")
    code, document = dnsctl_json("lab", "status", "--state-dir", str(bare_lab.state_dir))
    assert code == 0, document
    hosts = {host["name"]: host for host in document["hosts"]}
    assert hosts["ns1"]["bare"] and hosts["ns2"]["bare"] and not hosts["client1"]["bare"]
    assert hosts["ns1"]["running"] and hosts["ns1"]["named"] != "active"


def test_dry_run_plans_the_install_and_installs_nothing(bare_lab):
    result = dnsctl_ok("init-primary", "example.com", "--dry-run", inventory=bare_lab.inventory)
    assert "plan: install bind9 bind9-utils, then plan the configuration" in result.stdout
    assert package_status(bare_lab, "ns1", "bind9") == "not installed"


def test_init_primary_installs_bind_then_serves(bare_lab):
    result = dnsctl_ok("-v", "init-primary", "example.com", "--yes", inventory=bare_lab.inventory)
    assert "install bind9 bind9-utils" in result.stdout
    # No package lists on the bare host: apt could not find bind9 until dnsctl ran apt-get update.
    assert "apt-get update" in result.stderr
    for package in ("bind9", "bind9-utils"):
        version = lab_source_version(bare_lab, "ns1", package)
        assert package_status(bare_lab, "ns1", package) == f"install ok installed {version}"
    assert bare_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"
    serial, authoritative = soa(NS1, "example.com")
    assert authoritative
    assert f"{serial} ; serial" in bare_lab.read("ns1", "/var/lib/bind/example.com.db")
    # Planned again on Debian's freshly installed files: our include joined its named.conf.local.
    assert 'include "/etc/bind/named.conf.dnsctl";' in bare_lab.read("ns1", "/etc/bind/named.conf.local")


def test_failed_install_changes_nothing(bare_lab):
    """A secondary whose apt has nowhere to install from: one line naming it, nothing done."""
    bare_lab.exec("ns2", "mv", "/etc/apt/sources.list.d/lab.list", "/root/lab.list")
    before = bare_lab.read("ns1", "/etc/bind/named.conf.dnsctl")
    try:
        result = dnsctl("add-slave", "example.com", "--yes", inventory=bare_lab.inventory)
    finally:
        bare_lab.exec("ns2", "mv", "/root/lab.list", "/etc/apt/sources.list.d/lab.list")
    assert result.returncode == 8, result.stdout + result.stderr  # a command failed before any change
    error = result.stderr.strip()
    assert error.count("\n") == 0 and "Traceback" not in error
    assert error.startswith("dnsctl: error: ns2: ") and "bind9" in error
    assert package_status(bare_lab, "ns2", "bind9") == "not installed"
    assert bare_lab.read("ns1", "/etc/bind/named.conf.dnsctl") == before


def test_add_slave_installs_on_a_bare_secondary(bare_lab):
    result = dnsctl_ok("add-slave", "example.com", "--yes", inventory=bare_lab.inventory)
    assert "install bind9 bind9-utils" in result.stdout
    assert package_status(bare_lab, "ns2", "bind9").startswith("install ok installed")
    assert soa(NS2, "example.com") == soa(NS1, "example.com")
    assert soa(NS2, "example.com")[1]


def test_nothing_left_to_install(bare_lab):
    for result in set_up(bare_lab.inventory, "example.com"):
        assert "install" not in result.stdout and "no changes" in result.stdout
