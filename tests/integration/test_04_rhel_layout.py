"""The RHEL layout, for real: ns2 becomes a host whose named runs from /etc/named.conf
with directory /var/named, listening on 127.0.0.1 only and answering localhost only,
as a fresh `dnf install bind` leaves it (the tutorial's starting point)."""

from __future__ import annotations

import pytest

from .conftest import NS1, NS2, NS2_TABLE, dnsctl, dnsctl_ok, set_up
from .served import soa

pytestmark = pytest.mark.lab

RHEL_NAMED_CONF = """//
// named.conf, as Fedora / RHEL install it (trimmed to what a lab host can run)
//
options {
\tlisten-on port 53 { 127.0.0.1; };
\tlisten-on-v6 port 53 { none; };
\tdirectory \t"/var/named";
\tallow-query     { localhost; };
\trecursion no;
\tdnssec-validation no;
};
"""

ZONES = """
[zones."rhel.test"]
primary = "ns2"
secondaries = ["ns1"]

[[zones."rhel.test".records]]
name = "www"
type = "A"
value = "198.51.100.90"

[zones."rhel2.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."rhel2.test".records]]
name = "www"
type = "A"
value = "198.51.100.91"
"""


@pytest.fixture(scope="module")
def rhel(the_lab, tmp_path_factory):
    """ns2 with the RHEL layout, and an inventory that says so; ns2 is a Debian host again afterwards."""
    debian_defaults = the_lab.read("ns2", "/etc/default/named")
    the_lab.exec("ns2", "sh", "-c", "cat > /etc/named.conf", input=RHEL_NAMED_CONF)
    the_lab.exec(
        "ns2",
        "sh",
        "-c",
        "groupadd -f named && usermod -aG named bind && install -d -o root -g named -m 0770 /var/named && "
        "sed -i 's|^OPTIONS=.*|OPTIONS=\"-u bind -c /etc/named.conf\"|' /etc/default/named && "
        "systemctl restart named",
    )
    inventory = the_lab.write_inventory(
        tmp_path_factory.mktemp("rhel") / "rhel.toml",
        extra=ZONES,
        **{NS2_TABLE: NS2_TABLE + '\nlayout = "rhel"'},
    )
    assert 'layout = "rhel"' in inventory.read_text()
    yield inventory
    the_lab.exec(
        "ns2", "sh", "-c", "cat > /etc/default/named && systemctl restart named", input=debian_defaults
    )


def test_rhel_primary(the_lab, rhel):
    dry = dnsctl_ok("init-primary", "rhel.test", "--dry-run", inventory=rhel)
    assert "+\tlisten-on port 53 { 127.0.0.1; 198.51.100.11; };" in dry.stdout
    dnsctl_ok("init-primary", "rhel.test", "--yes", inventory=rhel)
    named_conf = the_lab.read("ns2", "/etc/named.conf")
    assert "listen-on port 53 { 127.0.0.1; 198.51.100.11; };" in named_conf
    assert 'include "/etc/named.dnsctl.conf";' in named_conf
    # The administrator's text is kept, but for the one address added to listen-on.
    assert named_conf.replace(" 198.51.100.11;", "", 1).startswith(RHEL_NAMED_CONF)
    assert 'file "/var/named/rhel.test.db";' in the_lab.read("ns2", "/etc/named.dnsctl.conf")
    assert "198.51.100.90" in the_lab.read("ns2", "/var/named/rhel.test.db")
    assert soa(NS2, "rhel.test")[1]


def test_debian_secondary_of_a_rhel_primary(the_lab, rhel):
    dnsctl_ok("add-slave", "rhel.test", "--yes", inventory=rhel)
    assert soa(NS1, "rhel.test") == soa(NS2, "rhel.test")
    assert the_lab.exec("ns1", "test", "-s", "/var/cache/bind/slaves/rhel.test.db").returncode == 0


def test_rhel_secondary(the_lab, rhel):
    set_up(rhel, "rhel2.test")
    assert soa(NS2, "rhel2.test") == soa(NS1, "rhel2.test")
    assert soa(NS2, "rhel2.test")[1]
    assert the_lab.exec("ns2", "test", "-s", "/var/named/slaves/rhel2.test.db").returncode == 0
    again = dnsctl("add-slave", "rhel2.test", "--yes", inventory=rhel)
    assert again.returncode == 0 and again.stdout.count("no changes") == 2
