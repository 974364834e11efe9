"""doctor against the lab: each link of the transfer path broken for real by hand on a host
(checked independently), doctor names that link and exits 1, the break is undone, and doctor
finds the pair healthy again (exit 0)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import dns.exception
import dns.flags
import dns.message
import dns.query
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_json

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


def serial_at(server: str, *, tcp: bool = False) -> int | None:
    query = dns.message.make_query("doctor.test", "SOA")
    try:
        response = (dns.query.tcp if tcp else dns.query.udp)(query, server, timeout=1)
    except (dns.exception.DNSException, OSError):
        return None
    if not response.flags & dns.flags.AA or not response.answer:
        return None
    return response.answer[0][0].serial


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("doctor") / "doctor.toml", extra=ZONE)
    for command in ("init-primary", "add-slave"):
        result = dnsctl(command, "doctor.test", "--yes", inventory=path)
        assert result.returncode == 0, result.stdout + result.stderr
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
    assert serial_at(NS1) == serial_at(NS2) is not None
    result = dnsctl("doctor", "doctor.test", inventory=inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert f"OK   ns2                   serves ns1's serial: serial {serial_at(NS1)}, as ns1" in result.stdout


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
            "ns1 still transfers to ns2",
        )
        broken = doctor_names(inventory, "ns2", "ns1 transfers doctor.test to ns2")
        assert "(allow-transfer { none; })" in broken["detail"]
        assert broken["fix"].startswith(f"allow {NS2} in the allow-transfer of doctor.test on ns1")
        assert any("zone transfer 'doctor.test/AXFR/IN' denied" in line for line in broken["log"])
    finally:
        the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reload', "sh", MANAGED, input=managed)
    wait_until(
        lambda: "Transfer failed" not in the_lab.exec("ns2", "dig", f"@{NS1}", "doctor.test", "AXFR").stdout,
        "ns1 does not transfer to ns2 again",
    )
    assert_healthy(inventory)


def test_tcp_53_closed_on_the_primary(the_lab, inventory):
    the_lab.exec("ns1", "firewall-cmd", f"--add-rich-rule={TCP_REJECT}")
    try:
        assert serial_at(NS1, tcp=True) is None and serial_at(NS1) is not None
        broken = doctor_names(inventory, "ns2", "reaches ns1 over TCP port 53")
        assert "connection refused" in broken["detail"]
        assert broken["fix"].startswith(
            'on ns1: firewall-cmd --zone=public --remove-rich-rule=\'rule family="ipv4"'
        )
    finally:
        the_lab.exec("ns1", "firewall-cmd", f"--remove-rich-rule={TCP_REJECT}")
    assert serial_at(NS1, tcp=True) is not None
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
    serial = serial_at(NS1)
    lower = re.sub(r"^(\s+)\d+( ; serial)$", rf"\g<1>{serial - 10}\2", original, count=1, flags=re.MULTILINE)
    the_lab.exec("ns1", "sh", "-c", 'cat > "$1" && rndc reload doctor.test', "sh", ZONE_FILE, input=lower)
    try:
        wait_until(lambda: serial_at(NS1) == serial - 10, "ns1 never served the lower serial")
        assert serial_at(NS2) == serial
        broken = doctor_names(inventory, "ns1", "ns1's serial is not below ns2's")
        assert f"ns1 serves serial {serial - 10}, below ns2's {serial}" in broken["detail"]
        assert broken["fix"].startswith("on ns2: rndc retransfer doctor.test")
    finally:
        the_lab.exec(
            "ns1", "sh", "-c", 'cat > "$1" && rndc reload doctor.test', "sh", ZONE_FILE, input=original
        )
    wait_until(lambda: serial_at(NS1) == serial, "ns1 never served its serial again")
    assert_healthy(inventory)


def test_named_stopped_on_the_primary(the_lab, inventory):
    the_lab.exec("ns1", "systemctl", "stop", "named")
    try:
        assert serial_at(NS1) is None
        broken = doctor_names(inventory, "ns1", "named runs")
        assert broken["fix"].startswith("on ns1: systemctl start named")
    finally:
        the_lab.exec("ns1", "systemctl", "start", "named")
    wait_until(lambda: serial_at(NS1) is not None, "named on ns1 never answered again")
    assert_healthy(inventory)
