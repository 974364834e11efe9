"""configure-client on the real client: a dry run, a run with nothing to do, and the rollback
when NetworkManager takes the new DNS settings but cannot write /etc/resolv.conf.

That happens to administrators when something else owns the file: a read-only bind
mount (containers, immutable images), chattr +i, another resolver manager. NetworkManager
then brings the connection up anyway and only logs "could not commit DNS changes", so
dnsctl's check of resolv.conf is what notices. Every result is checked with nmcli and
file reads inside client1, not through dnsctl.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_ok

pytestmark = pytest.mark.lab

DNS_SETTINGS = ("nmcli", "-g", "ipv4.dns,ipv4.ignore-auto-dns,ipv4.dns-options", "connection", "show", "lab")


def dns_settings(the_lab) -> str:
    return the_lab.exec("client1", *DNS_SETTINGS).stdout


def connection_state(the_lab) -> str:
    return the_lab.exec("client1", "nmcli", "-g", "GENERAL.STATE", "connection", "show", "lab").stdout.strip()


def nameservers(the_lab) -> list[str]:
    resolv = the_lab.read("client1", "/etc/resolv.conf")
    return [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver ")]


@contextmanager
def read_only_resolv_conf(the_lab) -> Iterator[None]:
    the_lab.exec("client1", "mount", "-o", "bind,ro", "/etc/resolv.conf", "/etc/resolv.conf")
    try:
        yield
    finally:
        the_lab.exec("client1", "umount", "/etc/resolv.conf")


@pytest.fixture(scope="module")
def configured(the_lab) -> str:
    """client1 pointed at ns1 then ns2, as the tutorial leaves it; its nmcli DNS settings."""
    dnsctl_ok("configure-client", "--yes", inventory=the_lab.inventory)
    assert nameservers(the_lab) == [NS1, NS2]
    return dns_settings(the_lab)


def test_dry_run_changes_nothing(the_lab, configured):
    resolv = the_lab.read("client1", "/etc/resolv.conf")
    result = dnsctl_ok(
        "configure-client", "--dry-run", "--dns", NS2, "--dns", NS1, inventory=the_lab.inventory
    )
    assert f"plan: ipv4.dns: {NS1} {NS2} -> {NS2} {NS1}" in result.stdout
    assert result.stdout.rstrip().endswith("dry run: nothing was changed")
    assert dns_settings(the_lab) == configured
    assert the_lab.read("client1", "/etc/resolv.conf") == resolv


def test_second_run_changes_nothing(the_lab, configured):
    result = dnsctl_ok("-v", "configure-client", "--yes", inventory=the_lab.inventory)
    assert "client1               plan: no changes" in result.stdout
    assert "nmcli connection" not in result.stderr  # -v logs every remote command: none changed anything
    assert dns_settings(the_lab) == configured and nameservers(the_lab) == [NS1, NS2]


def test_resolv_conf_nobody_can_write_rolls_the_client_back(the_lab, configured):
    with read_only_resolv_conf(the_lab):
        result = dnsctl("configure-client", "--yes", "--dns", NS2, "--dns", NS1, inventory=the_lab.inventory)
        settings_after, state_after = dns_settings(the_lab), connection_state(the_lab)

    assert result.returncode == 5, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        f"dnsctl: error: client1: /etc/resolv.conf lists {NS1} {NS2}, expected {NS2} {NS1}; "
        "client1 has its previous DNS settings again"
    ]
    assert "Traceback" not in result.stdout + result.stderr
    # nmcli had switched the order before the check failed; the old settings are back, and up.
    assert re.search(r"^OK   client1 .* nmcli: set DNS of lab and bring it up$", result.stdout, re.MULTILINE)
    assert settings_after == configured and state_after == "activated"
    assert nameservers(the_lab) == [NS1, NS2]
    again = dnsctl("configure-client", "--yes", inventory=the_lab.inventory)
    assert again.returncode == 0 and "plan: no changes" in again.stdout, again.stdout + again.stderr
