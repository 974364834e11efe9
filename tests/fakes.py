"""A recorded stand-in for remote.Connection, remote.Fleet and verify's DNS queries.

In the spirit of Fabric's testing helpers (fabric/testing/base.py): commands in,
canned results out. A test declares, per host and in order, the commands dnsctl
must run (matched exactly, by prefix, or by a predicate) and what each gives back:
a Result (stdout, stderr, status), a function of the call computing one, or an
exception to raise (a RemoteError for a dropped connection, KeyboardInterrupt for
Ctrl-C). Files written with put() and read with get() live in an in-memory file
system per host. Any command nobody declared fails the test, and verify() fails
it when a declared command never ran.

DNS never leaves the test: FakeDns replaces verify.soa, verify.wait_for_serial,
verify.check_records and verify.check_rrsets with answers from a table the test (or
a simulated host) fills.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from dnsctl import interrupt, verify
from dnsctl.errors import CommandFailed, DnsctlError, RemoteError
from dnsctl.remote import Result, Target

T = TypeVar("T")


@dataclass(frozen=True)
class Call:
    """One command as dnsctl ran it."""

    host: str
    argv: tuple[str, ...] | str  # a list becomes a tuple; a fixed script stays a string
    input: str | bytes | None = None
    check: bool = True

    @property
    def words(self) -> tuple[str, ...]:
        return self.argv if isinstance(self.argv, tuple) else (self.argv,)

    def __str__(self) -> str:
        words = self.words
        if len(words) > 3 and words[:2] == ("sh", "-c"):
            return shlex.join(words[3:])  # a script by its label, as dnsctl -v logs it
        return self.argv if isinstance(self.argv, str) else shlex.join(words)


# --- matching a call -------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    test: Callable[[Call], bool]
    shown: str

    def __call__(self, call: Call) -> bool:
        return self.test(call)

    def __str__(self) -> str:
        return self.shown


def exactly(*argv: str) -> Matcher:
    return Matcher(lambda call: call.words == argv, shlex.join(argv))


def prefix(*words: str) -> Matcher:
    return Matcher(lambda call: call.words[: len(words)] == words, shlex.join(words) + " ...")


def script(text: str, label: str | None = None) -> Matcher:
    """One of dnsctl's constant scripts (`sh -c SCRIPT LABEL ARGS...`), whatever its arguments."""
    words = ("sh", "-c", text) + ((label,) if label else ())
    first = text.strip().splitlines()[0]
    return Matcher(lambda call: call.words[: len(words)] == words, f"script {label or first!r} ...")


def where(predicate: Callable[[Call], bool], shown: str) -> Matcher:
    return Matcher(predicate, shown)


def as_matcher(match: Matcher | Sequence[str]) -> Matcher:
    return match if isinstance(match, Matcher) else exactly(*match)


Respond = Callable[[Call], Result | None]


@dataclass
class Expectation:
    match: Matcher
    stdout: str = ""
    stderr: str = ""
    status: int = 0
    raises: BaseException | None = None
    respond: Respond | None = None  # computes the result from the call (and may change state)
    standing: bool = False  # may run any number of times, at any point
    ran: int = 0

    def answer(self, call: Call) -> Result:
        if self.respond is not None:
            result = self.respond(call)
            if result is not None:
                return result
        if self.raises is not None:
            raise self.raises
        return Result(str(call), self.stdout, self.stderr, self.status)


# --- one host ----------------------------------------------------------------------------


class FakeConnection:
    """A host: its expected commands in order, its files, and everything dnsctl did to it."""

    def __init__(self, name: str, files: dict[str, str] | None = None) -> None:
        self.name = name
        self.target: Target | None = None
        self.files: dict[str, str] = dict(files or {})
        self.dirs: set[str] = set()
        self.calls: list[Call] = []
        self.writes: list[str] = []  # paths given to put(), in order
        self.modes: dict[str, int] = {}  # the mode each path was put with
        self.locks: list[str] = []  # who took the host's dnsctl lock
        self.lock_error: BaseException | None = None
        self.connect_error: BaseException | None = None
        self.reconnect_error: BaseException | None = None  # why reconnecting fails, if it does
        self.reconnects = 0
        self.write_error: Callable[[str], str | None] = lambda path: None  # path -> why a write fails
        self.unexpected: list[str] = []
        self._expected: list[Expectation] = []
        self._standing: list[Expectation] = []

    # declaring
    def expect(
        self,
        match: Matcher | Sequence[str],
        stdout: str = "",
        stderr: str = "",
        status: int = 0,
        *,
        raises: BaseException | None = None,
        respond: Respond | None = None,
    ) -> Expectation:
        """The next command dnsctl must run on this host, and what it gives back."""
        expectation = Expectation(as_matcher(match), stdout, stderr, status, raises, respond)
        self._expected.append(expectation)
        return expectation

    def allow(
        self,
        match: Matcher | Sequence[str],
        stdout: str = "",
        stderr: str = "",
        status: int = 0,
        *,
        respond: Respond | None = None,
    ) -> Expectation:
        """A command that may run any number of times, at any point (or never)."""
        expectation = Expectation(as_matcher(match), stdout, stderr, status, respond=respond, standing=True)
        self._standing.append(expectation)
        return expectation

    # what dnsctl calls
    def run(
        self,
        argv: Sequence[str] | str,
        *,
        check: bool = True,
        input: str | bytes | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
    ) -> Result:
        interrupt.checkpoint()  # as the real one: a Ctrl-C takes effect before the next command
        call = Call(self.name, argv if isinstance(argv, str) else tuple(argv), input, check)
        try:
            result = self._answer(call)
        except ConnectionDropped:
            if not reconnect:
                raise
            self.reconnect()  # then the command runs again: the test declares it twice
            result = self._answer(call)
        if check and not result.ok:
            raise CommandFailed(self.name, result)
        return result

    def run_all(
        self,
        commands: Sequence[Sequence[str]],
        *,
        check: bool = True,
        inputs: Sequence[str | bytes | None] | None = None,
    ) -> list[Result]:
        """As the real one, but one after another, so a test's transcript is deterministic."""
        data = inputs or [None] * len(commands)
        return [self.run(argv, check=check, input=given) for argv, given in zip(commands, data, strict=True)]

    def _answer(self, call: Call) -> Result:
        self.calls.append(call)
        return self._match(call).answer(call)

    def reconnect(self) -> None:
        if self.reconnect_error is not None:
            raise self.reconnect_error
        self.reconnects += 1

    def _match(self, call: Call) -> Expectation:
        pending = [e for e in self._expected if not e.ran]
        if pending and pending[0].match(call):
            pending[0].ran += 1
            return pending[0]
        for standing in self._standing:
            if standing.match(call):
                standing.ran += 1
                return standing
        expected = f"expected {pending[0].match}" if pending else "no more commands were expected"
        message = f"{self.name}: unexpected command `{call}`; {expected}"
        self.unexpected.append(message)
        pytest.fail(message)  # a BaseException, so dnsctl's `except Exception` cannot hide it

    def put(
        self,
        path: str,
        content: str | bytes,
        *,
        mode: int = 0o644,
        owner: str = "root",
        group: str = "root",
        reconnect: bool = False,
    ) -> None:
        interrupt.checkpoint()
        why = self.write_error(path)
        if why:
            error = f"sh: 1: cannot create {path}: {why}"
            raise CommandFailed(self.name, Result(f"cat > {path}", "", error, 2))
        self.files[path] = content.decode() if isinstance(content, bytes) else content
        self.writes.append(path)
        self.modes[path] = mode

    def get(self, path: str, *, reconnect: bool = False) -> str | None:
        interrupt.checkpoint()
        return self.files.get(path)

    def lock(self, holder: str) -> None:
        if self.lock_error is not None:
            raise self.lock_error
        self.locks.append(holder)

    def connect(self) -> FakeConnection:
        if self.connect_error is not None:
            raise self.connect_error
        return self

    def close(self) -> None:
        pass

    # checking
    def commands(self) -> list[str]:
        """Every command run, as `dnsctl -v` would show it."""
        return [str(call) for call in self.calls]

    def ran(self, match: Matcher | Sequence[str]) -> bool:
        matcher = as_matcher(match)
        return any(matcher(call) for call in self.calls)

    def verify(self) -> None:
        """Fail unless every expected command ran and nothing unexpected did."""
        assert not self.unexpected, "\n".join(self.unexpected)
        missing = [str(e.match) for e in self._expected if not e.ran]
        assert not missing, f"{self.name}: expected commands never ran: {missing}"


class FakeFleet:
    """The same interface as remote.Fleet, over declared FakeConnections.

    each() runs the items one after another (so a test's transcript is deterministic)
    and, like Fleet.each, calls the function on every item before raising the first
    error, an unexpected (non-dnsctl) error first.
    """

    def __init__(self) -> None:
        self.hosts: dict[str, FakeConnection] = {}
        self.connected: list[str] = []

    def host(self, name: str, files: dict[str, str] | None = None) -> FakeConnection:
        self.hosts[name] = FakeConnection(name, files)
        return self.hosts[name]

    def connect(self, targets: Iterable[Target]) -> dict[str, FakeConnection]:
        todo = [target for target in targets if target.name not in self.connected]

        def open_one(target: Target) -> None:
            if target.name not in self.hosts:
                pytest.fail(f"dnsctl connected to {target.name}, a host the test did not declare")
            connection = self.hosts[target.name].connect()
            connection.target = target
            self.connected.append(target.name)

        self.each(todo, open_one)
        return {name: self.hosts[name] for name in self.connected}

    def __getitem__(self, name: str) -> FakeConnection:
        if name not in self.connected:
            raise KeyError(name)
        return self.hosts[name]

    def __contains__(self, name: object) -> bool:
        return name in self.connected

    def each(self, items: Sequence[T], function: Callable[[T], object]) -> list[object]:
        results: list[object] = []
        errors: list[BaseException] = []
        for item in items:
            try:
                results.append(function(item))
            except BaseException as exc:
                errors.append(exc)
        for error in errors:
            if not isinstance(error, DnsctlError):
                raise error
        if errors:
            raise errors[0]
        return results

    def close(self) -> None:
        self.connected.clear()

    def verify(self) -> None:
        for host in self.hosts.values():
            host.verify()


class ConnectionDropped(RemoteError):
    """The SSH connection died during a command: run(reconnect=True) reconnects and runs it again."""


def dropped(host: str, command: str) -> ConnectionDropped:
    """What remote.Connection raises when the SSH connection dies during a command."""
    return ConnectionDropped(f"{host}: SSH failed during `{command}`: Socket is closed")


# --- DNS -------------------------------------------------------------------------------------


REFUSED = verify.SoaAnswer(None, False, "REFUSED")


@dataclass
class FakeDns:
    """What each server address answers for each zone; replaces verify's queries."""

    answers: dict[tuple[str, str], verify.SoaAnswer] = field(default_factory=dict)
    down: dict[str, str] = field(default_factory=dict)  # address -> why it does not answer
    problems: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # check_records
    rrset_problems: dict[str, list[str]] = field(default_factory=dict)  # check_rrsets, by address
    asked: list[tuple[str, str]] = field(default_factory=list)
    # (primary address, zone) -> the TSIG keys (name -> secret) a transfer must be signed
    # with; a zone not listed transfers to any address
    transfer_keys: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def serve(self, address: str, zone: str, serial: int, authoritative: bool = True) -> None:
        self.answers[address, zone] = verify.SoaAnswer(serial, authoritative, "NOERROR")

    def unserve(self, address: str, zone: str) -> None:
        self.answers.pop((address, zone), None)

    def zones(self, address: str) -> dict[str, int | None]:
        return {zone: answer.serial for (server, zone), answer in self.answers.items() if server == address}

    def soa(self, server: str, zone: str, timeout: float = 2.0) -> verify.SoaAnswer:
        self.asked.append((server, zone))
        if server in self.down:
            return verify.SoaAnswer(None, False, "-", self.down[server])
        return self.answers.get((server, zone), REFUSED)

    def wait_for_serial(
        self, server: str, zone: str, serial: int, timeout: float, *, at_least: bool = False
    ) -> verify.SoaAnswer:
        # Nothing changes while a fake waits: state moves only with commands, so answer at once.
        interrupt.checkpoint()
        return self.soa(server, zone)

    def check_records(self, inventory: Any, zone_name: str, server: str) -> list[str]:
        self.asked.append((server, zone_name))
        return list(self.problems.get((server, zone_name), []))

    def check_rrsets(self, server: str, expected: dict) -> list[str]:
        self.asked.append((server, "rrsets"))
        return list(self.rrset_problems.get(server, []))

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeDns:
        monkeypatch.setattr(verify, "soa", self.soa)
        monkeypatch.setattr(verify, "wait_for_serial", self.wait_for_serial)
        monkeypatch.setattr(verify, "check_records", self.check_records)
        monkeypatch.setattr(verify, "check_rrsets", self.check_rrsets)
        monkeypatch.setattr(verify, "ask", _no_real_query)
        return self


def _no_real_query(
    server: str, name: object, rdtype: str, timeout: float = 2.0, *, want_dnssec: bool = False
) -> None:
    pytest.fail(f"a real DNS query ({name} {rdtype} to {server}) in a test that fakes DNS")
