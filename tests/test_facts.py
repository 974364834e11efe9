"""Parsers of remote command output, on captured output."""

from __future__ import annotations

import base64

from dnsctl import facts
from dnsctl.platform import DEBIAN, RHEL, detect_layout

DEBIAN_RELEASE = """PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
"""

RHEL_RELEASE = """NAME="Rocky Linux"
VERSION="9.4 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
"""

DEBIAN_HOST = f"""@@os-release
{DEBIAN_RELEASE}@@tools
named
named-checkconf
named-checkzone
rndc
firewall-cmd
nmcli
systemctl
@@named
active
@@firewall
state=running
zone=public
runtime=dhcpv6-client ssh
permanent=dhcpv6-client ssh
"""

RHEL_HOST = f"""@@os-release
{RHEL_RELEASE}@@tools
firewall-cmd
systemctl
@@named
inactive
@@firewall
state=not running
"""


def test_debian_host_with_firewall_closed():
    host = facts.parse_host_facts(DEBIAN_HOST)
    assert host.layout is DEBIAN
    assert host.bind_installed and host.named_active
    assert host.firewall.state == "running" and host.firewall.zone == "public"
    assert not host.firewall.runtime_dns and not host.firewall.dns_open


def test_rhel_host_without_bind_and_firewalld_stopped():
    host = facts.parse_host_facts(RHEL_HOST)
    assert host.layout is RHEL
    assert not host.bind_installed and not host.named_active
    assert host.firewall.state == "not running"


def test_dns_open_needs_runtime_and_permanent():
    text = DEBIAN_HOST.replace("runtime=dhcpv6-client ssh", "runtime=dns ssh")
    assert not facts.parse_host_facts(text).firewall.dns_open
    text = text.replace("permanent=dhcpv6-client ssh", "permanent=ssh dns")
    assert facts.parse_host_facts(text).firewall.dns_open


def test_no_firewalld_at_all_counts_as_open():
    host = facts.parse_host_facts("@@os-release\nID=debian\n@@firewall\nstate=absent\n")
    assert host.firewall.state == "absent" and host.firewall.dns_open


def test_inventory_layout_overrides_detection():
    assert facts.parse_host_facts(DEBIAN_HOST, "rhel").layout is RHEL
    assert facts.parse_host_facts("@@os-release\nID=alpine\n").layout is None


def test_detect_layout():
    assert detect_layout("ID=ubuntu\nID_LIKE=debian\n") is DEBIAN
    assert detect_layout('ID="fedora"\n') is RHEL
    assert detect_layout('ID="almalinux"\nID_LIKE="rhel centos fedora"\n') is RHEL
    assert detect_layout("ID=alpine\n") is None
    assert detect_layout("") is None


def test_parse_files_with_missing_and_utf8():
    text = "ünïcödé zone ✓\n"
    output = (
        f"+/etc/bind/named.conf.local\n{base64.b64encode(text.encode()).decode()}\n"
        "-/etc/bind/named.conf.dnsctl\n"
        "+/var/lib/bind/empty.db\n\n"
    )
    assert facts.parse_files(output) == {
        "/etc/bind/named.conf.local": text,
        "/etc/bind/named.conf.dnsctl": None,
        "/var/lib/bind/empty.db": "",
    }


def test_sections():
    assert facts.sections("ignored\n@@a\n1\n2\n@@b\n@@a\n3\n") == {"a": ["1", "2", "3"], "b": []}
