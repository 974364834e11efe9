"""Parsers of remote command output, on captured output."""

from __future__ import annotations

import base64
import re
import subprocess

import pytest

from dnsctl.errors import PreconditionError
from dnsctl.facts.files import FileState, parse_files, parse_missing_dirs, parse_resolved
from dnsctl.facts.host import parse_host_facts, preflight_arguments, split_preflight
from dnsctl.facts.scripts import PREFLIGHT_SCRIPT, sections
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
    host = parse_host_facts(DEBIAN_HOST)
    assert host.layout is DEBIAN
    assert host.bind_installed and host.named_active
    assert host.firewall.state == "running" and host.firewall.zone == "public"
    assert not host.firewall.runtime_dns and not host.firewall.dns_open


def test_rhel_host_without_bind_and_firewalld_stopped():
    host = parse_host_facts(RHEL_HOST)
    assert host.layout is RHEL
    assert not host.bind_installed and not host.named_active
    assert host.firewall.state == "not running"


def test_dns_open_needs_runtime_and_permanent():
    text = DEBIAN_HOST.replace("runtime=dhcpv6-client ssh", "runtime=dns ssh")
    assert not parse_host_facts(text).firewall.dns_open
    text = text.replace("permanent=dhcpv6-client ssh", "permanent=ssh dns")
    assert parse_host_facts(text).firewall.dns_open


def test_firewalld_over_dbus_or_firewall_cmd():
    assert not parse_host_facts(DEBIAN_HOST).firewall.dbus
    assert parse_host_facts(DEBIAN_HOST + "api=dbus\n").firewall.dbus
    assert not parse_host_facts(DEBIAN_HOST + "api=firewall-cmd\n").firewall.dbus


def test_no_firewalld_at_all_counts_as_open():
    host = parse_host_facts("@@os-release\nID=debian\n@@firewall\nstate=absent\n")
    assert host.firewall.state == "absent" and host.firewall.dns_open


def test_inventory_layout_overrides_detection():
    assert parse_host_facts(DEBIAN_HOST, "rhel").layout is RHEL
    assert parse_host_facts("@@os-release\nID=alpine\n").layout is None


def test_detect_layout():
    assert detect_layout("ID=ubuntu\nID_LIKE=debian\n") is DEBIAN
    assert detect_layout('ID="fedora"\n') is RHEL
    assert detect_layout('ID="almalinux"\nID_LIKE="rhel centos fedora"\n') is RHEL
    assert detect_layout("ID=alpine\n") is None
    assert detect_layout("") is None


def test_parse_files_with_missing_utf8_owner_and_mode():
    text = "ünïcödé zone ✓\n"
    meta = "regular file/1/0/107/640/39/1559451/2026-11-25 15:59:52.162198378 +0000"
    output = (
        f"+/etc/bind/named.conf.local\n/etc/bind/named.conf.local\n{meta}\n"
        f"{base64.b64encode(text.encode()).decode()}\n0 {meta}\n"
        "-/etc/bind/named.conf.dnsctl\n/etc/bind/named.conf.dnsctl\n"
        f"+/var/lib/bind/empty.db\n/srv/zones/empty.db\n{meta}\n\n0 {meta}\n"
    )
    files = parse_files(output)
    assert files["/etc/bind/named.conf.local"] == FileState(
        "/etc/bind/named.conf.local", "/etc/bind/named.conf.local", text, "0", "107", 0o640, 1
    )
    assert files["/etc/bind/named.conf.dnsctl"].text is None
    assert files["/var/lib/bind/empty.db"].text == ""
    assert files["/var/lib/bind/empty.db"].canonical == "/srv/zones/empty.db"


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("!/var/lib/bind/x.db\nis a symbolic link\n", "/var/lib/bind/x.db is a symbolic link"),
        ("!/var/lib/bind/x.db\nis not a regular file (fifo)\n", "not a regular file (fifo)"),
        # The inode or ctime moved while it was read: what was read may be another file.
        (
            "+/x\n/x\nregular file/1/0/0/644/1/2/t1\nYQ==\n0 regular file/1/0/0/644/1/3/t2\n",
            "/x changed while dnsctl read it",
        ),
        # dd refused to open it (a link planted between lstat and open).
        ("+/x\n/x\nregular file/1/0/0/644/1/2/t1\n\n1 \n", "/x changed while dnsctl read it"),
    ],
)
def test_parse_files_refuses_links_and_races(output, needle):
    with pytest.raises(PreconditionError, match=re.escape(needle)):
        parse_files(output)


def test_parse_resolved_lists_what_each_include_loads():
    output = "?/etc/bind/conf.d/*.conf\n=/etc/bind/conf.d/*.conf\n/etc/bind/conf.d/a.conf\n?/nothing*\n"
    assert parse_resolved(output) == {
        "/etc/bind/conf.d/*.conf": ["/etc/bind/conf.d/a.conf"],
        "/nothing*": [],
    }


def test_missing_dirs_refuses_a_link():
    assert parse_missing_dirs("/var/cache/bind/slaves\n") == {"/var/cache/bind/slaves"}
    with pytest.raises(PreconditionError, match="symbolic link"):
        parse_missing_dirs("!/var/cache/bind/slaves\n")


def test_sections():
    assert sections("ignored\n@@a\n1\n2\n@@b\n@@a\n3\n") == {"a": ["1", "2", "3"], "b": []}


def test_preflight_is_every_read_in_one_command(tmp_path):
    """Run for real by sh: each part sees only its own arguments, and each layout's reads come
    back apart, so what the host's other layout would read (here a link) is never parsed."""
    present, absent, link = tmp_path / "named.conf", tmp_path / "named.conf.dnsctl", tmp_path / "other"
    present.write_text("ünïcödé ✓\n")
    link.symlink_to(present)
    reads = {
        "debian": (
            [str(tmp_path), str(tmp_path / "slaves")],
            [str(present), str(absent), "--", str(present)],
        ),
        "rhel": ([str(link)], [str(link)]),
    }
    argv = [
        "sh",
        "-c",
        PREFLIGHT_SCRIPT,
        "dnsctl-preflight",
        *preflight_arguments("192.0.2.1", reads),
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=True)
    facts_text, read = split_preflight(result.stdout)
    assert "@@os-release" in facts_text and "@@firewall" in facts_text
    dirs_text, files_text = read["debian"]
    assert parse_missing_dirs(dirs_text) == {str(tmp_path / "slaves")}
    files = parse_files(files_text)
    assert files[str(present)].text == "ünïcödé ✓\n" and files[str(absent)].text is None
    assert parse_resolved(files_text) == {str(present): [str(present)]}
    with pytest.raises(PreconditionError, match="symbolic link"):
        parse_files(read["rhel"][1])
