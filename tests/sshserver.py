"""A small real SSH server on 127.0.0.1 for unit tests of dnsctl.remote.

Each exec request runs as a local `sh -c <command>` with standard input, output,
error and the exit status carried over the channel, so the client side is
exercised exactly as against sshd. Commands run as the user running the tests.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def ed25519_key() -> paramiko.Ed25519Key:
    """A fresh key (paramiko itself cannot generate ed25519 keys)."""
    return paramiko.Ed25519Key(file_obj=io.StringIO(openssh_private_text(Ed25519PrivateKey.generate())))


def openssh_private_text(key: Ed25519PrivateKey, passphrase: bytes | None = None) -> str:
    encryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, encryption
    ).decode("ascii")


def write_private_key(path: Path, passphrase: bytes | None = None) -> paramiko.Ed25519Key:
    """Write a new ed25519 key as ssh-keygen would (0600) and return its public half."""
    private = Ed25519PrivateKey.generate()
    path.write_text(openssh_private_text(private, passphrase))
    path.chmod(0o600)
    return paramiko.Ed25519Key(file_obj=io.StringIO(openssh_private_text(private)))


@dataclass
class SSHServer:
    """Accepts public-key logins by `client_key` (any user name) and runs exec requests.

    `path_prefix` goes in front of PATH for every command, to put fake tools such
    as a `sudo` there. `commands` records every exec request as it arrived.
    """

    host_key: paramiko.PKey
    client_key: paramiko.PKey
    path_prefix: Path | None = None
    commands: list[str] = field(default_factory=list)
    # While true, every TCP connection is counted in `refused` and closed at once.
    refusing: bool = False
    refused: int = 0
    # While true, a command whose connection dropped keeps its standard input open
    # until release_ghosts(), as when sshd has not yet noticed the connection gone.
    ghost_sessions: bool = False
    # Sessions one connection may hold at once (sshd's MaxSessions); the channels refused.
    max_sessions: int | None = None
    refused_channels: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._processes: list[subprocess.Popen] = []
        self._guard = threading.Lock()
        self._ghosts_released = threading.Event()
        self._acceptor = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> SSHServer:
        self._acceptor.start()
        return self

    def known_hosts_line(self, key: paramiko.PKey | None = None) -> str:
        key = key or self.host_key
        return f"[127.0.0.1]:{self.port} {key.get_name()} {key.get_base64()}\n"

    def drop_connections(self) -> None:
        """Cut every open SSH connection from the server side, as a crashed link would."""
        with self._guard:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def release_ghosts(self) -> None:
        self._ghosts_released.set()

    def stop(self) -> None:
        self.release_ghosts()
        # shutdown, not only close, wakes the thread blocked in accept().
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self.drop_connections()
        with self._guard:
            processes = list(self._processes)
        for process in processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        self._acceptor.join(timeout=5)

    def __enter__(self) -> SSHServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self.refusing:
                self.refused += 1
                sock.close()
                continue
            with self._guard:
                self._sockets.append(sock)
            transport = paramiko.Transport(sock)
            transport.add_server_key(self.host_key)
            with contextlib.suppress(paramiko.SSHException, EOFError, OSError):
                transport.start_server(server=_Session(self))

    def _feed(self, channel: paramiko.Channel, process: subprocess.Popen) -> None:
        """Standard input until the client closes its side (or the connection goes)."""
        assert process.stdin is not None
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            while data := channel.recv(65536):
                process.stdin.write(data)
                process.stdin.flush()
        if self.ghost_sessions:
            self._ghosts_released.wait()
        with contextlib.suppress(OSError):
            process.stdin.close()

    def _run(self, channel: paramiko.Channel, command: str, ended: Callable[[], None]) -> None:
        env = dict(os.environ)
        if self.path_prefix is not None:
            env["PATH"] = f"{self.path_prefix}:{env['PATH']}"
        process = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
        with self._guard:
            self._processes.append(process)
        pumps = [
            threading.Thread(target=self._feed, args=(channel, process), daemon=True),
            threading.Thread(target=_drain, args=(process.stderr, channel.sendall_stderr), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        _drain(process.stdout, channel.sendall)
        pumps[1].join()
        status = process.wait()
        ended()  # before the client hears of it, so its next channel finds the session free
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            # As a shell reports a command killed by a signal.
            channel.send_exit_status(status if status >= 0 else 128 - status)
            channel.close()


def _drain(stream, send) -> None:
    try:
        while data := stream.read1(65536):
            send(data)
    except (OSError, EOFError, paramiko.SSHException):
        # The client is gone: whatever the command still writes has no reader.
        while stream.read1(65536):
            pass


class _Session(paramiko.ServerInterface):
    def __init__(self, server: SSHServer) -> None:
        self.server = server
        self.sessions = 0
        self._counting = threading.Lock()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if key.get_base64() == self.server.client_key.get_base64():
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind != "session":
            return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        with self._counting:
            limit = self.server.max_sessions
            if limit is not None and self.sessions >= limit:
                self.server.refused_channels += 1
                return paramiko.OPEN_FAILED_CONNECT_FAILED  # as sshd answers past MaxSessions
            self.sessions += 1
        return paramiko.OPEN_SUCCEEDED

    def _session_ended(self) -> None:
        with self._counting:
            self.sessions -= 1

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        text = command.decode("utf-8")
        self.server.commands.append(text)
        threading.Thread(
            target=self.server._run, args=(channel, text, self._session_ended), daemon=True
        ).start()
        return True
