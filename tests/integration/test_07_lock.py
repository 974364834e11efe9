"""The per-host lock: no local user can hold dnsctl off or redirect its lock,
and a lock held by another dnsctl run still stops a second one (exit 7)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import dns.flags
import dns.message
import dns.query
import pytest

from dnsctl import lab

from .conftest import NS1, dnsctl, dnsctl_ok

pytestmark = pytest.mark.lab

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]

ZONES = """
[zones."lockdir.test"]
primary = "ns1"
allow_query = ["198.51.100.0/24"]

[[zones."lockdir.test".records]]
name = "www"
type = "A"
value = "198.51.100.90"

[zones."lockheld.test"]
primary = "ns1"
allow_query = ["198.51.100.0/24"]

[[zones."lockheld.test".records]]
name = "www"
type = "A"
value = "198.51.100.91"
"""


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    return the_lab.write_inventory(tmp_path_factory.mktemp("lock") / "lock.toml", extra=ZONES)


def served_address(zone: str) -> str | None:
    """www's address as ns1 answers it with authority, or None."""
    response = dns.query.udp(dns.message.make_query(f"www.{zone}", "A"), NS1, timeout=2)
    if not response.flags & dns.flags.AA or not response.answer:
        return None
    return response.answer[0][0].address


def test_a_local_user_cannot_hold_dnsctl_off(the_lab, inventory):
    # What `nobody` could do to the lock's old place, /run/lock (mode 1777):
    # create the lock file and hold it, so that every dnsctl run would wait or fail.
    squatter = subprocess.Popen(
        ["nsenter", "-t", str(lab.leader_of("ns1")), "-a", *NOBODY, "sh", "-c",
         "exec 9>>/run/lock/dnsctl.lock && flock -n 9 && echo held && exec cat >/dev/null"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert squatter.stdout is not None and squatter.stdout.readline() == "held\n"
        # ... and plant a symlink where the lock is now: only root may create there.
        for path in ("/run/dnsctl", "/run/dnsctl/lock"):
            planted = the_lab.exec("ns1", *NOBODY, "ln", "-sT", "/tmp", path, check=False)
            assert planted.returncode != 0, f"nobody could create {path}"
        dnsctl_ok("init-primary", "lockdir.test", "--yes", inventory=inventory)
        assert served_address("lockdir.test") == "198.51.100.90"
        lock_dir = the_lab.exec("ns1", "stat", "-c", "%U %a %F", "/run/dnsctl").stdout.strip()
        assert lock_dir == "root 700 directory"
        assert the_lab.read("ns1", "/run/dnsctl/holder").startswith("dnsctl pid ")
    finally:
        squatter.communicate(timeout=10)  # closing its input ends it and frees the flock


def test_a_lock_directory_not_made_by_dnsctl_is_refused(the_lab, inventory):
    the_lab.exec("ns1", "sh", "-c", "mkdir -p /run/dnsctl && mv /run/dnsctl /run/dnsctl.saved")
    the_lab.exec("ns1", "mkdir", "-p", "/tmp/lock-elsewhere")
    the_lab.exec("ns1", "ln", "-s", "/tmp/lock-elsewhere", "/run/dnsctl")
    try:
        result = dnsctl("init-primary", "lockdir.test", "--yes", inventory=inventory)
        assert result.returncode == 7, result.stdout + result.stderr
        assert "/run/dnsctl is not a directory that only root can write" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert the_lab.exec("ns1", "ls", "-A", "/tmp/lock-elsewhere").stdout == ""
    finally:
        the_lab.exec("ns1", "sh", "-c", "rm /run/dnsctl && mv /run/dnsctl.saved /run/dnsctl")


def test_a_lock_held_by_another_dnsctl_run(the_lab, inventory):
    # The first run stops at its question, holding the lock, as a run does while
    # its administrator reads the plan.
    controller, terminal = pty.openpty()
    first = subprocess.Popen(
        [sys.executable, "-m", "dnsctl", "-i", str(inventory), "init-primary", "lockheld.test"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        read_until(controller, b"Apply these changes?", first)
        second = dnsctl("init-primary", "lockheld.test", "--yes", inventory=inventory)
        assert second.returncode == 7, second.stdout + second.stderr
        assert f"ns1 (198.51.100.10): locked by dnsctl pid {first.pid} on " in second.stderr
        os.write(controller, b"n\n")
        first.wait(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
        os.close(controller)
    assert served_address("lockheld.test") is None
    dnsctl_ok("init-primary", "lockheld.test", "--yes", inventory=inventory)
    assert served_address("lockheld.test") == "198.51.100.91"


def read_until(controller: int, wanted: bytes, process: subprocess.Popen, seconds: float = 60) -> None:
    seen = b""
    deadline = time.monotonic() + seconds
    while wanted not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and process.poll() is None, f"no {wanted!r} in {seen.decode(errors='replace')}"
        if select.select([controller], [], [], remaining)[0]:
            seen += os.read(controller, 4096)
