"""Signals and lost connections never leave a half-made change, and a rollback is proven by
what every server answers: the old records, under a serial above the failed one.

Failures are made real on the lab hosts: an `rndc` that reloads but reports failure
(as it does when a zone fails to load), one that waits while the test cuts the SSH
connection with `ss -K`, and a firewalld rule that keeps a secondary from
transferring. Every result is checked by DNS queries to each server's address and by
files read inside the hosts.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.rcode
import dns.rdatatype
import dns.zone
import pytest

from .conftest import NS1, NS2, dnsctl, dnsctl_ok, set_up, with_record
from .served import ask, served_serial, wait_until

pytestmark = pytest.mark.lab

ZONE = "rollback.test"
INVENTORY = f"""
[zones."{ZONE}"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."{ZONE}".records]]
name = "www"
type = "A"
value = "198.51.100.80"
"""
SERVERS = {"ns1": NS1, "ns2": NS2}
ZONE_FILE = f"/var/lib/bind/{ZONE}.db"
HELD = "/run/dnsctl-test-held"
RELEASE = "/run/dnsctl-test-release"


@pytest.fixture(scope="module")
def rollback_lab(the_lab, tmp_path_factory):
    """rollback.test on ns1 and ns2, and client1 resolving through them."""
    inventory = the_lab.write_inventory(
        tmp_path_factory.mktemp("rollback") / "rollback.toml", extra=INVENTORY
    )
    set_up(inventory, ZONE)
    dnsctl_ok("configure-client", "--yes", inventory=inventory)
    return inventory


def failed_serial(stdout: str) -> int:
    """The serial the failed change published, from its plan's diff."""
    match = re.search(r"^\+\s+(\d+) ; serial$", stdout, re.MULTILINE)
    assert match, stdout
    return int(match.group(1))


def assert_serves_old_zone(old_text: str, zone: str, at_serial: int, gone: str) -> None:
    """Every server answers exactly the old zone's records at at_serial, and not the
    record the failed change added."""
    old = dns.zone.from_text(old_text, origin=f"{zone}.", relativize=False, check_origin=False)
    for server, address in SERVERS.items():
        wait_until(
            lambda a=address: served_serial(a, zone) == at_serial,
            f"{server} to serve {zone} serial {at_serial}",
        )
        for name, rdataset in old.iterate_rdatasets():
            if rdataset.rdtype == dns.rdatatype.SOA:
                continue
            rdtype = dns.rdatatype.to_text(rdataset.rdtype)
            response = ask(address, name.to_text(), rdtype)
            got = {rdata for rrset in response.answer if rrset.name == name for rdata in rrset}
            assert got == set(rdataset), (
                f"{server}: {name} {rdtype}: {got} instead of the old {set(rdataset)}"
            )
        response = ask(address, f"{gone}.{zone}", "A")
        assert response.rcode() == dns.rcode.NXDOMAIN and response.flags & dns.flags.AA, (
            f"{server}: {response}"
        )


def same_records(text_a: str, text_b: str, zone: str) -> bool:
    """Two versions of a zone file hold the same records, the SOA serial aside."""

    def records(text: str) -> set[str]:
        parsed = dns.zone.from_text(text, origin=f"{zone}.", relativize=False, check_origin=False)
        return {
            f"{name} {rdataset.to_text()}"
            for name, rdataset in parsed.iterate_rdatasets()
            if rdataset.rdtype != dns.rdatatype.SOA
        }

    return records(text_a) == records(text_b)


@contextlib.contextmanager
def rndc_replaced(the_lab, script: str) -> Iterator[None]:
    """ns1's rndc replaced by script (the real one is /usr/sbin/rndc.real) for the block."""
    the_lab.exec("ns1", "rm", "-f", HELD, RELEASE)
    the_lab.exec("ns1", "mv", "/usr/sbin/rndc", "/usr/sbin/rndc.real")
    the_lab.exec("ns1", "sh", "-c", "cat > /usr/sbin/rndc && chmod 755 /usr/sbin/rndc", input=script)
    try:
        yield
    finally:
        the_lab.exec("ns1", "touch", RELEASE)
        the_lab.exec("ns1", "mv", "-f", "/usr/sbin/rndc.real", "/usr/sbin/rndc")
        the_lab.exec("ns1", "rm", "-f", HELD, RELEASE)


# rndc reaches named, which reloads, but reports failure, as it does when a zone fails to
# load: the new zone is live when dnsctl starts rolling back. The pause keeps the
# rollback busy when the test's signal arrives.
RELOADS_BUT_FAILS = """#!/bin/sh
/usr/sbin/rndc.real "$@" || exit
sleep 0.5
echo "rndc: 'reload' failed: failure" >&2
exit 1
"""

# rndc that takes half a second, so a signal sent as it starts arrives during it.
SLOW = """#!/bin/sh
sleep 0.5
exec /usr/sbin/rndc.real "$@"
"""

# rndc that, the first time, waits for the test before doing anything: the test cuts
# the SSH connection meanwhile.
HELD_FIRST_TIME = f"""#!/bin/sh
if [ ! -e {HELD} ]; then
  touch {HELD}
  while [ ! -e {RELEASE} ]; do sleep 0.05; done
fi
exec /usr/sbin/rndc.real "$@"
"""


# rndc that reloads, then holds its answer until the test has seen the new zone spread,
# and reports failure; later calls are the real rndc.
HELD_AFTER_RELOAD = f"""#!/bin/sh
/usr/sbin/rndc.real "$@" || exit
if [ ! -e {HELD} ]; then
  touch {HELD}
  while [ ! -e {RELEASE} ]; do sleep 0.05; done
  echo "rndc: 'reload' failed: failure" >&2
  exit 1
fi
"""


def start(inventory: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "dnsctl", "-v", "-i", str(inventory), *args, "--yes"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def signal_at(process: subprocess.Popen, *moments: tuple[str, signal.Signals]) -> tuple[int, str, str]:
    """Send each signal when dnsctl's log shows its remote command (logged just before it is sent)."""
    assert process.stderr is not None
    seen = []
    pending = list(moments)
    for line in process.stderr:
        seen.append(line)
        if pending and pending[0][0] in line:
            process.send_signal(pending.pop(0)[1])
            if not pending:
                break
    out, err = process.communicate(timeout=120)
    assert not pending, "".join(seen) + err
    return process.returncode, out, "".join(seen) + err


def test_ctrl_c_during_the_rollback_does_not_stop_it(the_lab, rollback_lab, tmp_path):
    inventory = with_record(rollback_lab, tmp_path, ZONE, "sigint", "198.51.100.81")
    old_text = the_lab.read("ns1", ZONE_FILE)
    with rndc_replaced(the_lab, RELOADS_BUT_FAILS):
        code, out, err = signal_at(start(inventory, "init-primary", ZONE), ("dnsctl-rollback", signal.SIGINT))
    assert code == 5, out + err
    assert "SIGINT received; finishing the rollback first" in err
    assert "rolled back ns1" in err.splitlines()[-1]
    assert_serves_old_zone(old_text, ZONE, failed_serial(out) + 1, gone="sigint")
    assert same_records(the_lab.read("ns1", ZONE_FILE), old_text, ZONE)
    assert the_lab.leftovers("ns1") == ""


@pytest.mark.parametrize(
    ("signum", "address"), [(signal.SIGTERM, "198.51.100.82"), (signal.SIGHUP, "198.51.100.83")]
)
def test_sigterm_or_sighup_twice_rolls_back_completely(the_lab, rollback_lab, tmp_path, signum, address):
    name = signum.name.lower()
    inventory = with_record(rollback_lab, tmp_path, ZONE, name, address)
    old_text = the_lab.read("ns1", ZONE_FILE)
    with rndc_replaced(the_lab, SLOW):
        # The first while named reloads the new zone, the second while it is being undone.
        code, out, err = signal_at(
            start(inventory, "init-primary", ZONE),
            ("$ rndc reload", signum),
            ("dnsctl-rollback", signum),
        )
    assert code == 5, out + err
    assert "interrupted; rolled back ns1" in err.splitlines()[-1]
    assert_serves_old_zone(old_text, ZONE, failed_serial(out) + 1, gone=name)
    assert the_lab.leftovers("ns1") == ""


def cut_ssh(the_lab) -> None:
    """Kill every SSH connection to ns1 at the TCP level, as a network failure would."""
    the_lab.exec("ns1", "ss", "-K", "state", "established", "( sport = :22 )")


def test_connection_cut_during_activation_is_recovered_and_rolled_back(the_lab, rollback_lab, tmp_path):
    inventory = with_record(rollback_lab, tmp_path, ZONE, "cut", "198.51.100.84")
    old_text = the_lab.read("ns1", ZONE_FILE)
    config = the_lab.exec("ns1", "sh", "-c", "md5sum /etc/bind/named.conf*").stdout
    with rndc_replaced(the_lab, HELD_FIRST_TIME):
        process = start(inventory, "init-primary", ZONE)
        wait_until(lambda: the_lab.exec("ns1", "test", "-e", HELD, check=False).returncode == 0, "the reload")
        cut_ssh(the_lab)  # the new files are in place, the reload is under way
        the_lab.exec("ns1", "touch", RELEASE)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 5, out + err
    last = err.splitlines()[-1]
    assert "`rndc reload`" in last and "rolled back ns1" in last, err
    assert "reconnected" in err
    assert same_records(the_lab.read("ns1", ZONE_FILE), old_text, ZONE)
    assert_serves_old_zone(old_text, ZONE, failed_serial(out) + 1, gone="cut")
    assert the_lab.exec("ns1", "sh", "-c", "md5sum /etc/bind/named.conf*").stdout == config
    assert the_lab.leftovers("ns1") == ""


def test_connection_that_cannot_be_made_again_exits_6_naming_the_host(the_lab, rollback_lab, tmp_path):
    inventory = with_record(rollback_lab, tmp_path, ZONE, "gone", "198.51.100.85")
    try:
        with rndc_replaced(the_lab, HELD_FIRST_TIME):
            process = start(inventory, "init-primary", ZONE)
            wait_until(
                lambda: the_lab.exec("ns1", "test", "-e", HELD, check=False).returncode == 0, "the reload"
            )
            the_lab.exec("ns1", "systemctl", "stop", "ssh")
            cut_ssh(the_lab)
            out, err = process.communicate(timeout=120)
            assert process.returncode == 6, out + err
            last = err.splitlines()[-1]
            assert "ROLLBACK FAILED: ns1: NOT rolled back" in last and "gave up reconnecting" in last
            assert "/var/backups/dnsctl/" in last
            assert "`rndc reload`" in last  # why the rollback began
    finally:
        the_lab.exec("ns1", "systemctl", "start", "ssh")
    # The administrator's way back: the previous inventory, applied again.
    dnsctl_ok("init-primary", ZONE, "--yes", inventory=rollback_lab)
    response = ask(NS1, f"gone.{ZONE}", "A")
    assert response.rcode() == dns.rcode.NXDOMAIN


ONE_LINE_ZONE = "oneline.test"


def test_rollback_of_a_zone_file_with_its_serial_on_the_soa_line(the_lab, rollback_lab, tmp_path):
    """The administrator's file writes the SOA on one line; a secondary took the failed
    version before the rollback: every server must come back to the old records."""
    inventory = tmp_path / "oneline.toml"
    inventory.write_text(rollback_lab.read_text() + INVENTORY.replace(ZONE, ONE_LINE_ZONE))
    set_up(inventory, ONE_LINE_ZONE)
    path = f"/var/lib/bind/{ONE_LINE_ZONE}.db"
    admin_serial = served_serial(NS1, ONE_LINE_ZONE) + 50
    admin_text = (
        f"$ORIGIN {ONE_LINE_ZONE}.\n$TTL 300\n"
        f"@ IN SOA ns1.example.com. hostmaster.{ONE_LINE_ZONE}. {admin_serial} 3600 600 86400 300\n"
        "@ IN NS ns1.example.com.\n@ IN NS ns2.example.com.\n"
        "www IN A 198.51.100.80 ; as the inventory has it\nold IN A 198.51.100.91\n"
    )
    the_lab.exec("ns1", "sh", "-c", f"cat > {path} && rndc reload {ONE_LINE_ZONE}", input=admin_text)
    wait_until(
        lambda: served_serial(NS2, ONE_LINE_ZONE) == admin_serial, "ns2 to take the administrator's version"
    )
    changed = with_record(inventory, tmp_path, ONE_LINE_ZONE, "new", "198.51.100.92")
    with rndc_replaced(the_lab, HELD_AFTER_RELOAD):
        process = start(changed, "init-primary", ONE_LINE_ZONE)
        wait_until(lambda: the_lab.exec("ns1", "test", "-e", HELD, check=False).returncode == 0, "the reload")
        # The failed version has spread: ns2 serves the new record.
        wait_until(lambda: ask(NS2, f"new.{ONE_LINE_ZONE}", "A").answer, "ns2 to take the failed version")
        the_lab.exec("ns1", "touch", RELEASE)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 5, out + err
    restored = failed_serial(out) + 1
    assert_serves_old_zone(admin_text, ONE_LINE_ZONE, restored, gone="new")
    # The administrator's text, byte for byte, but for the serial.
    assert the_lab.read("ns1", path) == admin_text.replace(str(admin_serial), str(restored))


SLAVE_ZONE = "slave.test"
BLOCK_AXFR = f"rule family=ipv4 source address={NS2} port port=53 protocol=tcp reject"


def test_add_slave_whose_transfer_fails_is_rolled_back(the_lab, rollback_lab, tmp_path):
    alone = tmp_path / "alone.toml"
    alone.write_text(rollback_lab.read_text() + INVENTORY.replace(ZONE, SLAVE_ZONE).replace('["ns2"]', "[]"))
    paired = tmp_path / "paired.toml"
    paired.write_text(rollback_lab.read_text() + INVENTORY.replace(ZONE, SLAVE_ZONE))
    result = dnsctl_ok("init-primary", SLAVE_ZONE, "--yes", inventory=alone)
    old_text = the_lab.read("ns1", f"/var/lib/bind/{SLAVE_ZONE}.db")
    managed = the_lab.read("ns2", "/etc/bind/named.conf.dnsctl")
    the_lab.exec("ns1", "firewall-cmd", f"--add-rich-rule={BLOCK_AXFR}")
    try:
        result = dnsctl("add-slave", SLAVE_ZONE, "--yes", "--timeout", "5", inventory=paired)
        assert result.returncode == 5, result.stdout + result.stderr
        last = result.stderr.splitlines()[-1]
        assert f"ns2: {SLAVE_ZONE} not transferred within 5 s" in last and "rolled back ns1, ns2" in last
        # ns2 does not answer for the zone at all (REFUSED), rather than failing it (SERVFAIL).
        response = ask(NS2, SLAVE_ZONE, "SOA")
        assert response.rcode() == dns.rcode.REFUSED, response
        assert the_lab.read("ns2", "/etc/bind/named.conf.dnsctl") == managed
        # The primary's NS set is back to itself alone, under a serial above the failed one.
        assert {r.to_text() for r in ask(NS1, SLAVE_ZONE, "NS").answer[0]} == {"ns1.example.com."}
        assert_primary_serves(old_text, SLAVE_ZONE, failed_serial(result.stdout) + 1)
    finally:
        the_lab.exec("ns1", "firewall-cmd", f"--remove-rich-rule={BLOCK_AXFR}")
        # named on ns2 now holds ns1 as an unreachable primary for a minute or more and
        # skips every transfer from it meanwhile; a restart forgets that.
        the_lab.exec("ns2", "systemctl", "restart", "named")
    dnsctl_ok("add-slave", SLAVE_ZONE, "--yes", inventory=paired)
    assert ask(NS2, SLAVE_ZONE, "SOA").flags & dns.flags.AA


def assert_primary_serves(old_text: str, zone: str, at_serial: int) -> None:
    old = dns.zone.from_text(old_text, origin=f"{zone}.", relativize=False, check_origin=False)
    wait_until(lambda: served_serial(NS1, zone) == at_serial, f"ns1 to serve {zone} serial {at_serial}")
    for name, rdataset in old.iterate_rdatasets():
        if rdataset.rdtype != dns.rdatatype.SOA:
            response = ask(NS1, name.to_text(), dns.rdatatype.to_text(rdataset.rdtype))
            assert {rdata for rrset in response.answer for rdata in rrset} == set(rdataset)


def test_a_change_started_during_failover_test_is_refused(the_lab, rollback_lab):
    # drop mode: the client waits out its resolver timeout on the silent primary, seconds
    # in which the test runs and holds the lock of the client and the primary.
    process = start(rollback_lab, "failover-test", ZONE, "--mode", "drop")
    assert process.stderr is not None
    for line in process.stderr:
        if "--add-rich-rule" in line:
            break
    change = dnsctl("init-primary", ZONE, "--yes", inventory=rollback_lab)
    client = dnsctl("configure-client", "--yes", inventory=rollback_lab)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, out + err
    assert change.returncode == 7, change.stdout + change.stderr
    assert "ns1" in change.stderr and "locked by dnsctl pid" in change.stderr
    assert client.returncode == 7 and "client1" in client.stderr, client.stdout + client.stderr
    assert served_serial(NS1, ZONE) is not None  # and the primary is back
