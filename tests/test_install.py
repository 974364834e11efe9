"""apply.install on the recorded double: the commands it runs, in order, for each outcome."""

from __future__ import annotations

import pytest

from dnsctl import apply
from dnsctl.errors import CommandFailed
from dnsctl.facts.host import parse_host_facts
from dnsctl.plan import HostPlan
from dnsctl.platform import DEBIAN, RHEL, Layout

from .fakes import FakeConnection
from .test_facts import DEBIAN_HOST

APT_INSTALL = (*DEBIAN.install, *DEBIAN.packages)
APT_UPDATE = ("apt-get", "update", "-q")
UNKNOWN = "E: Unable to locate package bind9\n"


def plan_for(layout: Layout) -> HostPlan:
    return HostPlan("ns1", "198.51.100.10", layout, parse_host_facts(DEBIAN_HOST), install=True)


def test_installs_from_the_lists_the_server_has():
    host = FakeConnection("ns1")
    host.expect(APT_INSTALL)
    apply.install(host, plan_for(DEBIAN))
    host.verify()


def test_updates_the_lists_once_when_apt_cannot_install():
    host = FakeConnection("ns1")
    host.expect(APT_INSTALL, stderr=UNKNOWN, status=100)
    host.expect(APT_UPDATE)
    host.expect(APT_INSTALL)
    apply.install(host, plan_for(DEBIAN))
    host.verify()


def test_a_failed_update_is_the_error():
    host = FakeConnection("ns1")
    host.expect(APT_INSTALL, stderr=UNKNOWN, status=100)
    host.expect(APT_UPDATE, stderr="E: Failed to fetch file:/srv/lab-apt/./Packages\n", status=100)
    with pytest.raises(CommandFailed, match="ns1: `apt-get update -q` failed: E: Failed to fetch"):
        apply.install(host, plan_for(DEBIAN))
    host.verify()


def test_a_second_failure_names_apt_s_reason():
    host = FakeConnection("ns1")
    host.expect(APT_INSTALL, stderr=UNKNOWN, status=100)
    host.expect(APT_UPDATE)
    host.expect(APT_INSTALL, stderr=UNKNOWN, status=100)
    with pytest.raises(CommandFailed, match=f"failed: {UNKNOWN.strip()}"):
        apply.install(host, plan_for(DEBIAN))
    host.verify()


def test_dnf_is_not_retried():
    host = FakeConnection("ns1")
    host.expect(("dnf", "install", "-y", "-q", "bind", "bind-utils"), stderr="Error: no match\n", status=1)
    with pytest.raises(CommandFailed, match="Error: no match"):
        apply.install(host, plan_for(RHEL))
    host.verify()
