"""The only module that talks SSH: one connection per host, run / put / get.

Everything else receives a ``Connection`` (or anything with the same ``run``,
``put`` and ``get``), so unit tests can pass a recorded double.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import paramiko

from dnsctl import interrupt
from dnsctl.errors import CommandFailed, DnsctlError, LockBusy, RemoteError

log = logging.getLogger("dnsctl.remote")

T = TypeVar("T")


@dataclass(frozen=True)
class Target:
    """How to reach one host over SSH."""

    name: str
    hostname: str
    port: int = 22
    user: str = "root"
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    connect_timeout: float = 10.0
    command_timeout: float = 300.0

    @property
    def label(self) -> str:
        return f"{self.name} ({self.hostname})"


@dataclass(frozen=True)
class Result:
    command: str
    stdout: str
    stderr: str
    status: int

    @property
    def ok(self) -> bool:
        return self.status == 0

    def reason(self) -> str:
        """The most telling line of the output, for a one-line error."""
        lines = [line.strip() for line in (self.stderr + "\n" + self.stdout).splitlines()]
        lines = [line for line in lines if line]
        return lines[-1] if lines else f"exit status {self.status}"


LOCK_SCRIPT = r"""
exec 9>>"$1"
if flock -n 9; then
  printf '%s\n' "$2" > "$1.holder"
  echo LOCKED
  exec cat >/dev/null
fi
echo "BUSY $(cat "$1.holder" 2>/dev/null)"
"""


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def missing_host_key(self, client, hostname, key):
        raise _UnknownHostKey(hostname, key)


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Like ssh's StrictHostKeyChecking=accept-new: record an unknown key, never a changed one."""

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts
        self.lock = threading.Lock()

    def missing_host_key(self, client, hostname, key):
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with self.lock:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with self.known_hosts.open("a", encoding="ascii") as handle:
                handle.write(line)
        log.warning("recorded new host key for %s in %s", hostname, self.known_hosts)


class _UnknownHostKey(paramiko.SSHException):
    def __init__(self, hostname: str, key: paramiko.PKey) -> None:
        super().__init__(hostname)
        self.hostname = hostname
        self.fingerprint = key.fingerprint


class Connection:
    """One SSH connection to one host, reused for every command of a dnsctl run."""

    def __init__(self, target: Target, *, accept_new_host_keys: bool = False) -> None:
        self.target = target
        self.accept_new_host_keys = accept_new_host_keys
        self._client: paramiko.SSHClient | None = None
        self._lock_channel: paramiko.Channel | None = None
        self._sudo = target.user != "root"

    @property
    def name(self) -> str:
        return self.target.name

    def connect(self) -> Connection:
        target = self.target
        known_hosts = Path(os.path.expanduser(target.known_hosts))
        client = paramiko.SSHClient()
        if known_hosts.exists():
            try:
                client.load_host_keys(str(known_hosts))
            except (OSError, paramiko.SSHException) as exc:
                raise RemoteError(f"{known_hosts}: cannot read known_hosts: {exc}") from None
        client.set_missing_host_key_policy(
            _AcceptNew(known_hosts) if self.accept_new_host_keys else _RefuseUnknown()
        )
        try:
            sock = socket.create_connection((target.hostname, target.port), timeout=target.connect_timeout)
        except OSError as exc:
            raise RemoteError(f"{target.label}: unreachable on port {target.port}: {_why(exc)}") from None
        # Without this every command round trip waits ~40 ms on delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = os.path.expanduser(target.key) if target.key else None
        try:
            pkey = paramiko.PKey.from_path(key) if key else None
        except paramiko.PasswordRequiredException:
            sock.close()
            raise RemoteError(
                f"{target.label}: SSH key {key} has a passphrase; load it into ssh-agent and omit key"
            ) from None
        except (OSError, ValueError, paramiko.SSHException) as exc:
            sock.close()
            raise RemoteError(f"{target.label}: cannot use SSH key {key}: {_why(exc)}") from None
        try:
            client.connect(
                target.hostname,
                port=target.port,
                username=target.user,
                pkey=pkey,
                allow_agent=key is None,
                look_for_keys=key is None,
                sock=sock,
                timeout=target.connect_timeout,
                banner_timeout=target.connect_timeout,
                auth_timeout=target.connect_timeout,
            )
        except _UnknownHostKey as exc:
            client.close()
            raise RemoteError(
                f"{target.label}: unknown SSH host key {exc.fingerprint} (not in {known_hosts}); "
                "verify it and add it, or pass --accept-new-host-keys"
            ) from None
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise RemoteError(
                f"{target.label}: SSH host key CHANGED (got {exc.key.fingerprint}, "
                f"{known_hosts} has {exc.expected_key.fingerprint}); refusing to connect"
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            how = f"key {key}" if key else "ssh-agent / default keys"
            raise RemoteError(f"{target.label}: authentication failed for {target.user} with {how}") from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise RemoteError(f"{target.label}: SSH failed: {_why(exc)}") from None
        self._client = client
        log.debug("%s: connected", target.label)
        return self

    def close(self) -> None:
        # Closing must never mask why we are closing: a Ctrl-C in the middle of a
        # paramiko call can leave a channel half torn down.
        for closable in (self._lock_channel, self._client):
            if closable is not None:
                with contextlib.suppress(Exception):
                    closable.close()
        self._lock_channel = None
        self._client = None

    def run(
        self,
        argv: Sequence[str] | str,
        *,
        check: bool = True,
        input: str | bytes | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Run a command; a sequence is quoted word by word, a string is a fixed shell script.

        Only dnsctl's own constant scripts are passed as strings; every value that
        comes from the inventory or the user travels in an argv list (quoted here)
        or on standard input.
        """
        command = argv if isinstance(argv, str) else shlex.join(argv)
        wire = self._wire(command)
        shown = _display(argv)
        interrupt.checkpoint()
        log.info("%s$ %s", self.target.name, shown)
        started = time.monotonic()
        # No checkpoint after the command: its result must reach the caller, which
        # may need it to undo what the command did.
        result = self._exec(shown, wire, input, timeout or self.target.command_timeout)
        log.debug("%s: exit %s in %.3fs", self.target.name, result.status, time.monotonic() - started)
        if self._sudo and result.status != 0 and "a password is required" in result.stderr:
            raise self._sudo_prompts()
        if check and not result.ok:
            raise CommandFailed(self.target.name, result)
        return result

    def _exec(self, command: str, wire: str, input: str | bytes | None, timeout: float) -> Result:
        if self._client is None:
            self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteError(f"{self.target.label}: SSH connection lost")
        try:
            channel = transport.open_session(timeout=self.target.connect_timeout)
            channel.settimeout(timeout)
            channel.exec_command(wire)
            if input is not None:
                channel.sendall(input.encode() if isinstance(input, str) else input)
            channel.shutdown_write()
            stdout = channel.makefile("rb").read()
            stderr = channel.makefile_stderr("rb").read()
            status = channel.recv_exit_status()
            channel.close()
        except TimeoutError:
            raise RemoteError(
                f"{self.target.label}: `{command}` did not finish within {timeout:.0f} s"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteError(f"{self.target.label}: SSH failed during `{command}`: {_why(exc)}") from None
        return Result(
            command,
            stdout.decode("utf-8", "replace"),
            stderr.decode("utf-8", "replace"),
            status,
        )

    def _wire(self, command: str) -> str:
        """The command as sent: through `sudo -n` for a non-root user, never prompting."""
        return f"sudo -n -- sh -c {shlex.quote(command)}" if self._sudo else command

    def _sudo_prompts(self) -> RemoteError:
        return RemoteError(
            f"{self.target.label}: sudo would prompt for a password for {self.target.user}; "
            "allow it with NOPASSWD or connect as root"
        )

    def lock(self, path: str, holder: str) -> None:
        """Take the host's dnsctl lock for as long as this connection lives.

        A remote `flock` holds it; the holding process waits on a channel we never
        close early, so the lock is released when dnsctl ends however it ends.
        """
        assert self._client is not None
        transport = self._client.get_transport()
        assert transport is not None
        command = shlex.join(["sh", "-c", LOCK_SCRIPT, "dnsctl-lock", path, holder])
        wire = self._wire(command)
        log.info("%s$ flock %s", self.target.name, path)
        try:
            channel = transport.open_session(timeout=self.target.connect_timeout)
            channel.settimeout(self.target.connect_timeout)
            channel.exec_command(wire)
            first = channel.makefile("r").readline().strip()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise RemoteError(f"{self.target.label}: cannot take the dnsctl lock: {_why(exc)}") from None
        if first != "LOCKED":
            stderr = channel.makefile_stderr("rb").read().decode("utf-8", "replace").strip()
            channel.close()
            if "a password is required" in stderr:
                raise self._sudo_prompts()
            if first.startswith("BUSY"):
                holder_text = first.removeprefix("BUSY").strip() or "another dnsctl run"
                raise LockBusy(f"{self.target.label}: locked by {holder_text}; try again when it ends")
            reason = stderr.splitlines()[-1] if stderr else "no answer"
            raise RemoteError(f"{self.target.label}: cannot take the dnsctl lock: {reason}")
        self._lock_channel = channel

    def put(
        self,
        path: str,
        content: str | bytes,
        *,
        mode: int = 0o644,
        owner: str = "root",
        group: str = "root",
    ) -> None:
        """Write a file through standard input, so it also works through sudo."""
        quoted = shlex.quote(path)
        script = (
            f"umask 077 && cat > {quoted} && chown {shlex.quote(owner)}:{shlex.quote(group)} "
            f"{quoted} && chmod {mode:o} {quoted}"
        )
        self.run(script, input=content)

    def get(self, path: str) -> str | None:
        """A file's text, or None when it does not exist."""
        quoted = shlex.quote(path)
        result = self.run(f"if [ -e {quoted} ]; then cat {quoted}; else exit 44; fi", check=False)
        if result.status == 44:
            return None
        if not result.ok:
            raise CommandFailed(self.target.name, result)
        return result.stdout

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _display(argv: Sequence[str] | str) -> str:
    """A command as people should read it: dnsctl's scripts by their label and arguments."""
    if isinstance(argv, str):
        first = argv.strip().splitlines()[0] if argv.strip() else argv
        return first if len(first) <= 100 else first[:97] + "..."
    if len(argv) > 3 and argv[0] == "sh" and argv[1] == "-c":
        return shlex.join(argv[3:])
    return shlex.join(argv)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    text = getattr(exc, "strerror", None) or str(exc) or exc.__class__.__name__
    return text.strip().rstrip(".")


class Fleet:
    """The connections of one dnsctl run: opened in parallel, one per host, closed together."""

    def __init__(self, *, accept_new_host_keys: bool = False, workers: int = 16) -> None:
        self.accept_new_host_keys = accept_new_host_keys
        self.workers = workers
        self._connections: dict[str, Connection] = {}
        self._lock = threading.Lock()

    def connect(self, targets: Iterable[Target]) -> dict[str, Connection]:
        """Connect to every target that is not yet connected; fail if any host fails."""
        todo = [target for target in targets if target.name not in self._connections]
        fresh = [Connection(t, accept_new_host_keys=self.accept_new_host_keys) for t in todo]

        def open_one(connection: Connection) -> None:
            connection.connect()
            with self._lock:
                self._connections[connection.name] = connection

        self.each(fresh, open_one)
        return dict(self._connections)

    def __getitem__(self, name: str) -> Connection:
        return self._connections[name]

    def each(self, items: Sequence[T], function: Callable[[T], object]) -> list[object]:
        """Call function on every item in parallel; raise the first error after all finish."""
        if len(items) <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.workers, len(items))) as pool:
            futures = [pool.submit(function, item) for item in items]
        errors = [f.exception() for f in futures if f.exception() is not None]
        for error in errors:
            if not isinstance(error, DnsctlError):
                raise error
        if errors:
            raise errors[0]
        return [f.result() for f in futures]

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
