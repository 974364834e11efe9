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
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from dnsctl import interrupt
from dnsctl.errors import CommandFailed, DnsctlError, LockBusy, PreconditionError, RemoteError

if TYPE_CHECKING:
    import paramiko

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


# The host's dnsctl lock lives in a directory only root can create: in a
# world-writable place such as /run/lock any local user could create and hold the
# lock file first (holding every dnsctl run off) or plant a symlink there.
LOCK_DIR = "/run/dnsctl"

# $1 the lock directory, $2 who holds it. The directory must be a real directory
# owned by the user the script runs as (root, directly or through sudo) that no
# one else can write; the lock is held until our channel closes.
LOCK_SCRIPT = r"""
dir=$1
if ! mkdir -m 700 "$dir" 2>/dev/null && [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
  echo "FAILED cannot create $dir"
elif [ -L "$dir" ] || [ -z "$(find "$dir" -maxdepth 0 -type d -user "$(id -u)" ! -perm /022)" ]; then
  echo UNSAFE
else
  exec 9>>"$dir/lock"
  if flock -n 9; then
    printf '%s\n' "$2" > "$dir/holder"
    echo LOCKED
    exec cat >/dev/null
  fi
  echo "BUSY $(cat "$dir/holder" 2>/dev/null)"
fi
"""

# A lost connection is retried this often within this many seconds.
RECONNECT_ATTEMPTS = 3
RECONNECT_WITHIN = 30.0


class _Transient(RemoteError):
    """The host could not be reached or the connection dropped: another attempt may work."""


class _Refused(_Transient):
    """The host refused one more channel on a connection that is still up: its sshd allows
    only so many sessions at once (MaxSessions, 10 by default, fewer on some hardened hosts)."""


# Channels run_all opens at once: the lock holds one session for the whole run, and sshd
# allows 10 by default. A host that allows fewer refuses the rest, which then run one by one.
MAX_CHANNELS = 8


def _import_paramiko() -> None:
    """Import paramiko when the first host is contacted, not when dnsctl starts.

    Commands that contact no host (check, record list, --help) then start ~50 ms
    sooner. paramiko imports invoke (~30 ms more, with asyncio and unittest.mock)
    only to run ssh_config `Match exec` lines; dnsctl never reads ssh_config, so
    that import is skipped, and only for paramiko's own import.
    """
    with _importing:  # hosts connect in parallel
        if "paramiko" in sys.modules:
            return
        blocked = "invoke" not in sys.modules
        if blocked:
            sys.modules["invoke"] = None  # type: ignore[assignment]  # `import invoke` raises ImportError
        try:
            import paramiko  # noqa: F401
        finally:
            if blocked:
                del sys.modules["invoke"]


_importing = threading.Lock()


# paramiko asks a policy about an unknown host key by calling its missing_host_key().
class _RefuseUnknown:
    def missing_host_key(self, client, hostname, key):
        raise _UnknownHostKey(hostname, key)


class _AcceptNew:
    """Like ssh's StrictHostKeyChecking=accept-new: record an unknown key, never a changed one."""

    # One for all connections: a Fleet connects to its hosts in parallel.
    writing = threading.Lock()

    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client, hostname, key):
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with self.writing:
            self.known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with self.known_hosts.open("a", encoding="ascii") as handle:
                handle.write(line)
        log.warning("recorded new host key for %s in %s", hostname, self.known_hosts)


class _UnknownHostKey(Exception):
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
        # Who this connection holds the host's lock for, to take it again after a reconnect.
        self._lock_holder: str | None = None
        self._sudo = target.user != "root"

    @property
    def name(self) -> str:
        return self.target.name

    def connect(self) -> Connection:
        self._client = self._open(self.target.connect_timeout)
        log.debug("%s: connected", self.target.label)
        return self

    def _open(self, timeout: float) -> paramiko.SSHClient:
        _import_paramiko()
        import paramiko

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
            sock = socket.create_connection((target.hostname, target.port), timeout=timeout)
        except OSError as exc:
            raise _Transient(f"{target.label}: unreachable on port {target.port}: {_why(exc)}") from None
        # Without this every command round trip waits ~40 ms on delayed ACKs.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = os.path.expanduser(target.key) if target.key else None
        try:
            pkey = self._load_key(key) if key else None
        except RemoteError:
            sock.close()
            raise
        try:
            client.connect(
                target.hostname,
                port=target.port,
                username=target.user,
                pkey=pkey,
                allow_agent=key is None,
                look_for_keys=key is None,
                sock=sock,
                timeout=timeout,
                banner_timeout=timeout,
                auth_timeout=timeout,
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
            raise _Transient(f"{target.label}: SSH failed: {_why(exc)}") from None
        return client

    def _load_key(self, key: str) -> paramiko.PKey:
        import paramiko

        try:
            return paramiko.PKey.from_path(key)
        except (OSError, ValueError, TypeError, paramiko.SSHException) as exc:
            # An encrypted key without its passphrase is a TypeError from the
            # cryptography library underneath, in OpenSSH and PEM format alike.
            if (
                isinstance(exc, TypeError | paramiko.PasswordRequiredException)
                and "password" in str(exc).lower()
            ):
                raise RemoteError(
                    f"{self.target.label}: SSH key {key} has a passphrase; "
                    "load it into ssh-agent and omit key"
                ) from None
            raise RemoteError(f"{self.target.label}: cannot use SSH key {key}: {_why(exc)}") from None

    def reconnect(self, *, attempts: int = RECONNECT_ATTEMPTS, within: float = RECONNECT_WITHIN) -> None:
        """Replace this connection with a new one: at most `attempts` tries within `within` seconds.

        For finishing a rollback or restore after the connection dropped. Only
        failures that another try may cure are retried (not a host key or an
        authentication failure). If this connection held the host's lock it is
        taken again: if another run took it meanwhile, LockBusy; if this run's
        own lost session still holds it, wait (until the same deadline) for the
        host to release it, which it does once sshd sees that session gone.
        """
        holder = self._lock_holder
        self.close()
        deadline = time.monotonic() + within
        pause = 0.25
        for attempt in range(1, attempts + 1):
            try:
                self._client = self._open(
                    min(self.target.connect_timeout, max(deadline - time.monotonic(), 1))
                )
                break
            except _Transient as exc:
                if attempt == attempts or time.monotonic() + pause >= deadline:
                    raise RemoteError(
                        f"{exc.message} (gave up reconnecting after {attempt} attempts)"
                    ) from None
                time.sleep(pause)
                pause *= 2
        log.warning("%s: reconnected", self.target.label)
        if holder is not None:
            self._retake_lock(holder, deadline)

    def _retake_lock(self, holder: str, deadline: float) -> None:
        while (busy_with := self._try_lock(holder)) is not None:
            if busy_with != holder:
                raise _lock_busy(self.target, busy_with)
            if time.monotonic() >= deadline:
                raise RemoteError(
                    f"{self.target.label}: the dnsctl lock is still held by this run's lost connection"
                )
            time.sleep(0.1)

    def close(self) -> None:
        # Closing must never mask why we are closing: a Ctrl-C in the middle of a
        # paramiko call can leave a channel half torn down.
        for closable in (self._lock_channel, self._client):
            if closable is not None:
                with contextlib.suppress(Exception):
                    closable.close()
        self._lock_channel = None
        self._lock_holder = None
        self._client = None

    def run(
        self,
        argv: Sequence[str] | str,
        *,
        check: bool = True,
        input: str | bytes | None = None,
        timeout: float | None = None,
        reconnect: bool = False,
    ) -> Result:
        """Run a command; a sequence is quoted word by word, a string is a fixed shell script.

        Only dnsctl's own constant scripts are passed as strings; every value that
        comes from the inventory or the user travels in an argv list (quoted here)
        or on standard input.

        With `reconnect`, a command that must run even if the connection dropped
        (a rollback or restore step, safe to run twice): when the connection is
        lost before or while it runs, reconnect (bounded) and run it again.
        """
        command = argv if isinstance(argv, str) else shlex.join(argv)
        wire = self._wire(command)
        shown = _display(argv)
        interrupt.checkpoint()
        log.info("%s$ %s", self.target.name, shown)
        started = time.monotonic()
        limit = timeout or self.target.command_timeout
        # No checkpoint after the command: its result must reach the caller, which
        # may need it to undo what the command did.
        try:
            result = self._exec(shown, wire, input, limit)
        except _Transient as exc:
            if not reconnect:
                raise
            log.warning("%s; reconnecting to run it again", exc.message)
            self.reconnect()
            result = self._exec(shown, wire, input, limit)
        log.debug("%s: exit %s in %.3fs", self.target.name, result.status, time.monotonic() - started)
        if self._sudo and result.status != 0 and "a password is required" in result.stderr:
            raise self._sudo_prompts()
        if check and not result.ok:
            raise CommandFailed(self.target.name, result)
        return result

    def run_all(
        self,
        commands: Sequence[Sequence[str]],
        *,
        check: bool = True,
        inputs: Sequence[str | bytes | None] | None = None,
    ) -> list[Result]:
        """Run independent commands at once, each on its own channel; their results in order.

        For work the host can do in parallel, such as two checkers that each load a
        large zone, or files written side by side (inputs: each command's standard
        input). At most MAX_CHANNELS run at once; a command whose channel the host
        refuses runs again alone once the others have ended. With check, the first
        failed command (in order) raises, once all ended.
        """
        jobs = list(zip(commands, inputs or [None] * len(commands), strict=True))
        if len(jobs) <= 1:
            return [self.run(argv, check=check, input=data) for argv, data in jobs]
        with ThreadPoolExecutor(max_workers=min(len(jobs), MAX_CHANNELS)) as pool:
            futures = [pool.submit(self.run, argv, check=check, input=data) for argv, data in jobs]
        results = []
        for future, (argv, data) in zip(futures, jobs, strict=True):
            if isinstance(future.exception(), _Refused):
                results.append(self.run(argv, check=check, input=data))
            else:
                results.append(future.result())
        return results

    def _exec(self, command: str, wire: str, input: str | bytes | None, timeout: float) -> Result:
        import paramiko  # imported by connect()

        if self._client is None:
            self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise _Transient(f"{self.target.label}: SSH connection lost")
        try:
            channel = transport.open_session(timeout=self.target.connect_timeout)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            error = _Refused if transport.is_active() else _Transient
            raise error(f"{self.target.label}: SSH failed during `{command}`: {_why(exc)}") from None
        try:
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
                f"{self.target.label}: `{command}` did not finish within {timeout:g} s"
            ) from None
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise _Transient(f"{self.target.label}: SSH failed during `{command}`: {_why(exc)}") from None
        # A channel closed without an exit status: the connection went down under it.
        if status == -1 and not transport.is_active():
            raise _Transient(f"{self.target.label}: SSH connection lost during `{command}`")
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

    def lock(self, holder: str) -> None:
        """Take the host's dnsctl lock (in LOCK_DIR) for as long as this connection lives.

        A remote `flock` holds it; the holding process waits on a channel we never
        close early, so the lock is released when dnsctl ends however it ends.
        """
        busy_with = self._try_lock(holder)
        if busy_with is not None:
            raise _lock_busy(self.target, busy_with)

    def _try_lock(self, holder: str) -> str | None:
        """Take the lock, or say who holds it."""
        import paramiko  # imported by connect()

        if self._client is None:
            self.connect()
        assert self._client is not None
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise _Transient(f"{self.target.label}: SSH connection lost")
        command = shlex.join(["sh", "-c", LOCK_SCRIPT, "dnsctl-lock", LOCK_DIR, holder])
        log.info("%s$ flock %s/lock", self.target.name, LOCK_DIR)
        try:
            channel = transport.open_session(timeout=self.target.connect_timeout)
            channel.settimeout(self.target.connect_timeout)
            channel.exec_command(self._wire(command))
            first = channel.makefile("r").readline().strip()
        except (paramiko.SSHException, OSError, EOFError) as exc:
            raise _Transient(f"{self.target.label}: cannot take the dnsctl lock: {_why(exc)}") from None
        if first == "LOCKED":
            self._lock_channel = channel
            self._lock_holder = holder
            return None
        stderr = channel.makefile_stderr("rb").read().decode("utf-8", "replace").strip()
        channel.close()
        if "a password is required" in stderr:
            raise self._sudo_prompts()
        if first.startswith("BUSY"):
            return first.removeprefix("BUSY").strip() or "another dnsctl run"
        if first == "UNSAFE":
            raise PreconditionError(
                f"{self.target.label}: {LOCK_DIR} is not a directory that only root can write "
                "(a symlink, another owner, or writable by others); refusing to take the dnsctl lock there"
            )
        reason = first.removeprefix("FAILED ") if first else (stderr.splitlines() or ["no answer"])[-1]
        raise RemoteError(f"{self.target.label}: cannot take the dnsctl lock: {reason}")

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
        """Write a file through standard input, so it also works through sudo."""
        quoted = shlex.quote(path)
        script = (
            f"umask 077 && cat > {quoted} && chown {shlex.quote(owner)}:{shlex.quote(group)} "
            f"{quoted} && chmod {mode:o} {quoted}"
        )
        self.run(script, input=content, reconnect=reconnect)

    def get(self, path: str, *, reconnect: bool = False) -> str | None:
        """A file's text, or None when it does not exist."""
        quoted = shlex.quote(path)
        result = self.run(
            f"if [ -e {quoted} ]; then cat {quoted}; else exit 44; fi", check=False, reconnect=reconnect
        )
        if result.status == 44:
            return None
        if not result.ok:
            raise CommandFailed(self.target.name, result)
        return result.stdout

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _lock_busy(target: Target, holder: str) -> LockBusy:
    return LockBusy(f"{target.label}: locked by {holder}; try again when it ends")


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
    if isinstance(exc, EOFError):
        return "connection closed by the host"
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

    def __contains__(self, name: object) -> bool:
        """Whether the host of that name is connected."""
        return name in self._connections

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
