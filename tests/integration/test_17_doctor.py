"""doctor against the lab: each link of the transfer path broken for real by hand on a host
(checked independently), doctor names that link and exits 1, the break is undone, and doctor
finds the pair healthy again (exit 0)."""

from __future__ import annotations

import re

import pytest

from .conftest import NS1, NS2, dnsctl_json, dnsctl_ok, set_up
from .served import served_serial, wait_until

pytestmark = pytest.mark.lab

ZONE = """
[zones."doctor.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."doctor.test".records]]
name = "www"
type = "A"
value = "198.51.100.75"
"""
MANAGED = "/etc/bind/named.conf.dnsctl"
ZONE_FILE = "/var/lib/bind/doctor.test.db"
SLAVES = "/var/cache/bind/slaves"
TCP_REJECT = "rule family=ipv4 port port=53 protocol=tcp reject"


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("doctor") / "doctor.toml", extra=ZONE)
    set_up(path, "doctor.test")
    return path


def doctor_names(inventory, host: str, check: str) -> dict:
    """Run doctor on the broken pair: exit 1, the named link broken; its report of that link."""
    code, document = dnsctl_json("doctor", "doctor.test", inventory=inventory)
    assert code == 1, document
    broken = document["doctor"]["ns2"]["broken"]
    assert (broken["host"], broken["check"]) == (host, check), broken
    assert document["error"].startswith(f"doctor.test to ns2: {check}: ")
    return broken


def assert_healthy(inventory) -> None:
    code, document = dnsctl_json("doctor", "doctor.test", "ns2", inventory=inventory)
    assert code == 0, document
    assert document["doctor"] == {"ns2": {"healthy": True, "broken": None}}


def test_a_healthy_pair(inventory):
    assert served_serial(NS1, "doctor.test") == served_serial(NS2, "doctor.test") is not None
    result = dnsctl_ok("doctor", "doctor.test", inventory=inventory)
    assert "FAIL" not in result.stdout
    assert (
        f"OK   ns2                   serves ns1's serial: serial {served_serial(NS1, 'doctor.test')}, as ns1"
        in result.stdout
    )


def test_secondary_left_out_of_allow_transfer(the_lab, inventory):
    managed = the_lab.read("ns1", MANAGED)
    stanza = re.search(r'^zone "doctor.test" \{\n.*?^\};\n', managed, re.MULTILINE | re.DOTALL).group(0)
    closed = managed.replace(
        stanza, stanza.replace(f"allow-transfer {{ {NS2}; }}", "allow-transfer { none; }")
    )
    assert closed != managed
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reload', "sh", MANAGED, input=closed)
    try:
        wait_until(
            lambda: "Transfer failed" in the_lab.exec("ns2", "dig", f"@{NS1}", "doctor.test", "AXFR").stdout,
            "ns1 to refuse ns2's transfer",
            seconds=10,
        )
        broken = doctor_names(inventory, "ns2", "ns1 transfers doctor.test to ns2")
        assert "(allow-transfer { none; })" in broken["detail"]
        assert broken["fix"].startswith(f"allow {NS2} in the allow-transfer of doctor.test on ns1")
        assert any("zone transfer 'doctor.test/AXFR/IN' denied" in line for line in broken["log"])
    finally:
        the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reload', "sh", MANAGED, input=managed)
    wait_until(
        lambda: "Transfer failed" not in the_lab.exec("ns2", "dig", f"@{NS1}", "doctor.test", "AXFR").stdout,
        "ns1 to transfer to ns2 again",
        seconds=10,
    )
    assert_healthy(inventory)


def test_tcp_53_closed_on_the_primary(the_lab, inventory):
    the_lab.exec("ns1", "firewall-cmd", f"--add-rich-rule={TCP_REJECT}")
    try:
        assert (
            served_serial(NS1, "doctor.test", tcp=True) is None
            and served_serial(NS1, "doctor.test") is not None
        )
        broken = doctor_names(inventory, "ns2", "reaches ns1 over TCP port 53")
        assert "connection refused" in broken["detail"]
        assert broken["fix"].startswith(
            'on ns1: firewall-cmd --zone=public --remove-rich-rule=\'rule family="ipv4"'
        )
    finally:
        the_lab.exec("ns1", "firewall-cmd", f"--remove-rich-rule={TCP_REJECT}")
    assert served_serial(NS1, "doctor.test", tcp=True) is not None
    assert_healthy(inventory)


def test_secondary_directory_owned_by_root(the_lab, inventory):
    the_lab.exec("ns2", "sh", "-c", f"chown root:root {SLAVES} && chmod 755 {SLAVES}")
    try:
        assert the_lab.exec("ns2", "stat", "-c", "%U:%G %a", SLAVES).stdout.strip() == "root:root 755"
        broken = doctor_names(inventory, "ns2", f"named can write {SLAVES}")
        assert (
            "named (user bind) cannot write" in broken["detail"] and "root:root, mode 755" in broken["detail"]
        )
        assert broken["fix"] == f"on ns2: chown root:bind {SLAVES} && chmod 775 {SLAVES}"
    finally:
        the_lab.exec("ns2", "sh", "-c", f"chown root:bind {SLAVES} && chmod 775 {SLAVES}")
    assert_healthy(inventory)


def test_primary_serial_below_the_secondary_s(the_lab, inventory):
    original = the_lab.read("ns1", ZONE_FILE)
    serial = served_serial(NS1, "doctor.test")
    lower = re.sub(r"^(\s+)\d+( ; serial)$", rf"\g<1>{serial - 10}\2", original, count=1, flags=re.MULTILINE)
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reload doctor.test', "sh", ZONE_FILE, input=lower)
    try:
        wait_until(
            lambda: served_serial(NS1, "doctor.test") == serial - 10,
            "ns1 to serve the lower serial",
            seconds=10,
        )
        assert served_serial(NS2, "doctor.test") == serial
        broken = doctor_names(inventory, "ns1", "ns1's serial is not below ns2's")
        assert f"ns1 serves serial {serial - 10}, below ns2's {serial}" in broken["detail"]
        assert broken["fix"].startswith("on ns2: rndc retransfer doctor.test")
    finally:
        the_lab.exec(
            "ns1", "sh", "-c", 'cat > "$1" && rndc reload doctor.test', "sh", ZONE_FILE, input=original
        )
    wait_until(
        lambda: served_serial(NS1, "doctor.test") == serial, "ns1 to serve its serial again", seconds=10
    )
    assert_healthy(inventory)


def test_named_stopped_on_the_primary(the_lab, inventory):
    the_lab.exec("ns1", "systemctl", "stop", "named")
    try:
        assert served_serial(NS1, "doctor.test") is None
        broken = doctor_names(inventory, "ns1", "named runs")
        assert broken["fix"].startswith("on ns1: systemctl start named")
    finally:
        the_lab.exec("ns1", "systemctl", "start", "named")
    wait_until(
        lambda: served_serial(NS1, "doctor.test") is not None, "named on ns1 to answer again", seconds=10
    )
    assert_healthy(inventory)
