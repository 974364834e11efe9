"""The recorded double itself: it must fail a test that runs anything else than declared."""

from __future__ import annotations

import contextlib

import pytest

from dnsctl import interrupt, verify
from dnsctl.errors import CommandFailed, RemoteError
from dnsctl.remote import Target

from .fakes import FakeDns, FakeFleet, dropped, exactly, prefix, script, where


def test_commands_run_in_the_declared_order_with_their_results():
    host = FakeFleet().host("ns1")
    host.expect(["rndc", "reload"], "server reload successful\n")
    host.expect(prefix("named-checkzone", "example.com"), stderr="bad\n", status=1)
    assert host.run(["rndc", "reload"]).stdout == "server reload successful\n"
    result = host.run(["named-checkzone", "example.com", "/x"], check=False)
    assert (result.status, result.reason()) == (1, "bad")
    host.verify()


def test_a_failing_command_raises_unless_checked_by_the_caller():
    host = FakeFleet().host("ns1")
    host.expect(["false"], status=1, stderr="no\n")
    with pytest.raises(CommandFailed, match=r"^ns1: `false` failed: no$"):
        host.run(["false"])


def test_an_unexpected_command_fails_the_test_even_when_dnsctl_catches_exceptions():
    host = FakeFleet().host("ns1")
    host.expect(["rndc", "reload"])
    unexpected = pytest.raises(pytest.fail.Exception, match="unexpected command `rm -rf /`; expected rndc")
    with unexpected, contextlib.suppress(Exception):  # what dnsctl's last-resort handlers do
        host.run(["rm", "-rf", "/"])
    with pytest.raises(AssertionError, match="unexpected command"):
        host.verify()


def test_verify_fails_when_a_declared_command_never_ran():
    host = FakeFleet().host("ns1")
    host.expect(["rndc", "reload"])
    with pytest.raises(AssertionError, match=r"expected commands never ran: \['rndc reload'\]"):
        host.verify()


def test_standing_commands_may_run_any_time_and_raises_and_responders_work():
    host = FakeFleet().host("ns1")
    host.allow(where(lambda call: call.words[0] == "true", "true ..."))
    host.expect(script("echo hi\n", "label"), respond=lambda call: None, stdout="hi\n")
    host.expect(["rndc", "reload"], raises=dropped("ns1", "rndc reload"))
    host.run(["true"])
    assert host.run(["sh", "-c", "echo hi\n", "label", "arg"]).stdout == "hi\n"
    host.run(["true", "again"])
    with pytest.raises(RemoteError, match="SSH failed during `rndc reload`"):
        host.run(["rndc", "reload"])
    assert host.commands() == ["true", "label arg", "true again", "rndc reload"]
    assert host.ran(exactly("true", "again")) and not host.ran(["false"])
    host.verify()


def test_a_dropped_connection_is_retried_only_where_dnsctl_asks_to_reconnect():
    host = FakeFleet().host("ns1")
    host.expect(["rndc", "reload"], raises=dropped("ns1", "rndc reload"))
    host.expect(["rndc", "reload"], "server reload successful\n")
    assert host.run(["rndc", "reload"], reconnect=True).ok and host.reconnects == 1
    host.expect(["rndc", "reload"], raises=dropped("ns1", "rndc reload"))
    with pytest.raises(RemoteError, match="Socket is closed"):
        host.run(["rndc", "reload"])
    host.expect(["rndc", "reload"], raises=dropped("ns1", "rndc reload"))
    host.reconnect_error = RemoteError("ns1: unreachable on port 22: timed out")
    with pytest.raises(RemoteError, match="unreachable"):
        host.run(["rndc", "reload"], reconnect=True)
    host.verify()


def test_files_and_a_pending_ctrl_c():
    host = FakeFleet().host("client1", {"/etc/resolv.conf": "nameserver 198.51.100.10\n"})
    host.put("/etc/x", b"bytes")
    assert host.get("/etc/x") == "bytes" and host.get("/nope") is None and host.writes == ["/etc/x"]
    host.write_error = lambda path: "Read-only file system"
    with pytest.raises(CommandFailed, match="Read-only file system"):
        host.put("/etc/resolv.conf", "nameserver 1.2.3.4\n")
    assert host.get("/etc/resolv.conf") == "nameserver 198.51.100.10\n"
    interrupt.request()
    with pytest.raises(KeyboardInterrupt):
        host.run(["true"])
    assert host.calls == []  # stopped before the command, as the real connection does


def test_fleet_connects_declared_hosts_and_raises_the_first_error_after_all_ran():
    fleet = FakeFleet()
    fleet.host("ns1")
    fleet.host("ns2").connect_error = RemoteError("ns2 (198.51.100.11): unreachable on port 22: timed out")
    with pytest.raises(RemoteError, match="ns2"):
        fleet.connect([Target("ns1", "198.51.100.10"), Target("ns2", "198.51.100.11")])
    assert fleet["ns1"].target == Target("ns1", "198.51.100.10")
    with pytest.raises(KeyError):
        fleet["ns2"]
    seen = []

    def work(item):
        seen.append(item)
        if item != 2:
            raise RemoteError(f"host {item}") if item == 1 else ValueError("a bug")
        return item

    with pytest.raises(ValueError, match="a bug"):  # an unexpected error wins over a dnsctl one
        fleet.each([1, 2, 3], work)
    assert seen == [1, 2, 3]
    with pytest.raises(pytest.fail.Exception, match="did not declare"):
        fleet.connect([Target("ns9", "198.51.100.19")])


def test_fake_dns_replaces_every_query(monkeypatch):
    fake = FakeDns().install(monkeypatch)
    fake.serve("198.51.100.10", "example.com", 7)
    assert verify.soa("198.51.100.10", "example.com").serial == 7
    assert verify.wait_for_serial("198.51.100.10", "example.com", 7, 5).ok
    assert verify.soa("198.51.100.11", "example.com").rcode == "REFUSED"
    fake.down["198.51.100.10"] = "no answer (timeout)"
    assert verify.describe(verify.soa("198.51.100.10", "example.com")) == "no answer (timeout)"
    problem = "pc1.example.com. A: expected x, got y"
    fake.problems["198.51.100.10", "example.com"] = [problem]
    assert verify.check_records(None, "example.com", "198.51.100.10") == [problem]
    with pytest.raises(pytest.fail.Exception, match="a real DNS query"):
        verify.ask("198.51.100.10", "example.com", "SOA")
