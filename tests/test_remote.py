"""The SSH layer against a real SSH server on 127.0.0.1 (tests/sshserver.py).

Every Connection here speaks real SSH: host keys, public-key authentication,
exec channels with standard input, output, error and exit status. Commands run
as local processes of the user running the tests, inside tmp_path.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from dnsctl import interrupt, remote
from dnsctl.errors import CommandFailed, DnsctlError, LockBusy, PreconditionError, RemoteError
from dnsctl.remote import Connection, Fleet, Result, Target, _display

from .sshserver import SSHServer, ed25519_key, write_private_key

HOSTILE = 'it\'s "quoted" $(touch PWNED) `touch PWNED`; touch PWNED\nsecond line & | > <'


@pytest.fixture(scope="session")
def host_key() -> paramiko.PKey:
    return ed25519_key()


@pytest.fixture(scope="session")
def client_key(tmp_path_factory) -> tuple[Path, paramiko.PKey]:
    path = tmp_path_factory.mktemp("client") / "id_ed25519"
    return path, write_private_key(path)


@pytest.fixture
def server(host_key, client_key, tmp_path):
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    with SSHServer(host_key, client_key[1], path_prefix=fake_bin) as running:
        yield running


@pytest.fixture
def known_hosts(server, tmp_path) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text(server.known_hosts_line())
    return path


@pytest.fixture
def target(server, client_key, known_hosts):
    def make(name: str = "t1", **overrides) -> Target:
        settings = {
            "name": name,
            "hostname": "127.0.0.1",
            "port": server.port,
            "key": str(client_key[0]),
            "known_hosts": str(known_hosts),
            "connect_timeout": 20.0,  # generous: a loaded machine must not fail a test
            "command_timeout": 30.0,
        }
        return Target(**(settings | overrides))

    return make


@pytest.fixture
def connection(target):
    with Connection(target()).connect() as connected:
        yield connected


@pytest.fixture
def lock_dir(tmp_path, monkeypatch) -> Path:
    """The lock's directory, moved under tmp_path: the tests need not be root."""
    path = tmp_path / "run-dnsctl"
    monkeypatch.setattr(remote, "LOCK_DIR", str(path))
    return path


def fake_tool(server: SSHServer, name: str, script: str) -> None:
    assert server.path_prefix is not None
    path = server.path_prefix / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)


def poll(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


# --- pure parts ---------------------------------------------------------------------


def test_display_of_scripts_and_argv():
    assert _display(["sh", "-c", "long\nscript", "dnsctl-read", "/etc/a b"]) == "dnsctl-read '/etc/a b'"
    assert _display(["rndc", "reload"]) == "rndc reload"
    assert _display("cat > /x\nmore") == "cat > /x"
    assert _display(["echo", "$(reboot); x"]) == "echo '$(reboot); x'"
    assert _display("x" * 150) == "x" * 97 + "..."


def test_result_reason_is_the_last_meaningful_line():
    assert Result("c", "", "warning\nreal error\n\n", 1).reason() == "real error"
    assert Result("c", "", "", 3).reason() == "exit status 3"


# --- commands -----------------------------------------------------------------------


def test_every_argv_word_arrives_as_one_word(connection, tmp_path):
    result = connection.run(["printf", "[%s]", HOSTILE, "", "plain"])
    assert result.stdout == f"[{HOSTILE}][][plain]"
    assert not (Path.cwd() / "PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_standard_input_reaches_the_command(connection):
    assert connection.run(["cat"], input="line one\n" + HOSTILE).stdout == "line one\n" + HOSTILE
    assert connection.run(["wc", "-c"], input=b"\x00\xff" * 1000).stdout.strip() == "2000"


def test_failing_command_raises_with_a_one_line_reason(connection):
    with pytest.raises(CommandFailed) as failed:
        connection.run(["sh", "-c", "echo warning >&2; echo 'the real reason' >&2; exit 3"])
    assert str(failed.value).startswith("t1: `sh -c ")
    assert str(failed.value).endswith("` failed: the real reason")
    assert failed.value.result.status == 3 and failed.value.exit_code == 8


def test_check_false_returns_the_result(connection):
    result = connection.run(["sh", "-c", "echo out; echo err >&2; exit 5"], check=False)
    assert (result.stdout, result.stderr, result.status, result.ok) == ("out\n", "err\n", 5, False)


def test_command_timeout(connection):
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"`sleep 20` did not finish within 0.5 s"):
        connection.run(["sleep", "20"], timeout=0.5)
    assert time.monotonic() - started < 5


def test_commands_wait_for_a_requested_stop(connection, server):
    interrupt.request()
    with pytest.raises(KeyboardInterrupt):
        connection.run(["true"])
    assert server.commands == []
    assert connection.run(["true"]).ok


# Each command marks that it started and waits (at most ~5 s) for the other's mark: run one
# after the other, the first would give up; side by side, both see each other.
RENDEZVOUS = """
touch "$1/$2"
for _ in $(seq 500); do [ -e "$1/$3" ] && { echo "$2"; exit 0; }; sleep 0.01; done
exit 1
"""


def test_run_all_runs_side_by_side_and_answers_in_order(connection, tmp_path):
    commands = [
        ["sh", "-c", RENDEZVOUS, "rendezvous", str(tmp_path), mine, other]
        for mine, other in (("first", "second"), ("second", "first"))
    ]
    results = connection.run_all(commands)
    assert [(result.ok, result.stdout) for result in results] == [(True, "first\n"), (True, "second\n")]


def _blocked_until(release: Path) -> str:
    """A command that reads its input, then runs until release exists, so commands side by
    side overlap for sure."""
    return f"cat >/dev/null; while [ ! -e {shlex.quote(str(release))} ]; do sleep 0.01; done"


def _release_when(condition, release: Path) -> threading.Thread:
    def wait_then_release() -> None:
        try:
            poll(condition, seconds=20)
        finally:
            release.touch()  # also when it never came: the test's assertions then say why

    helper = threading.Thread(target=wait_then_release)
    helper.start()
    return helper


def test_run_all_opens_at_most_max_channels_at_once(connection, server, tmp_path):
    server.max_sessions = remote.MAX_CHANNELS
    release = tmp_path / "release"
    started = tmp_path / "started"
    started.mkdir()
    count = remote.MAX_CHANNELS + 2
    mark = shlex.quote(str(started))
    commands = [["sh", "-c", f"touch {mark}/{i}; {_blocked_until(release)}; echo {i}"] for i in range(count)]
    helper = _release_when(lambda: len(list(started.iterdir())) >= remote.MAX_CHANNELS, release)
    results = connection.run_all(commands)
    helper.join()
    assert [result.stdout for result in results] == [f"{i}\n" for i in range(count)]
    assert server.refused_channels == 0


def test_run_all_runs_again_alone_what_the_host_refuses(connection, server, tmp_path):
    server.max_sessions = 1  # sshd's MaxSessions on a strict host
    release = tmp_path / "release"
    commands = [["sh", "-c", f"{_blocked_until(release)}; echo {i}"] for i in range(4)]
    helper = _release_when(lambda: server.refused_channels >= 3, release)
    results = connection.run_all(commands, inputs=["a", "b", "c", "d"])
    helper.join()
    assert [result.stdout for result in results] == ["0\n", "1\n", "2\n", "3\n"]
    assert server.refused_channels == 3


def test_run_all_gives_each_command_its_input(connection):
    results = connection.run_all([["cat"], ["cat"], ["wc", "-c"]], inputs=["one", HOSTILE, "four"])
    assert [result.stdout.strip() for result in results] == ["one", HOSTILE.strip(), "4"]


def test_put_and_get(connection, tmp_path):
    path = tmp_path / "a file; $(x)"
    user, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    connection.put(str(path), "zone text\n" + HOSTILE, mode=0o640, owner=user, group=group)
    assert path.read_text() == "zone text\n" + HOSTILE
    assert path.stat().st_mode & 0o777 == 0o640
    assert connection.get(str(path)) == "zone text\n" + HOSTILE
    assert connection.get(str(tmp_path / "absent")) is None
    with pytest.raises(CommandFailed, match="Is a directory"):
        connection.get(str(tmp_path))


def test_socket_has_no_delayed_acks(connection):
    transport = connection._client.get_transport()
    assert transport.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


# --- connecting ---------------------------------------------------------------------


def test_unknown_host_key_is_refused(target, tmp_path):
    with pytest.raises(RemoteError) as refused:
        Connection(target(known_hosts=str(tmp_path / "empty"))).connect()
    assert refused.value.exit_code == 3
    assert "unknown SSH host key" in str(refused.value) and "--accept-new-host-keys" in str(refused.value)


def test_accepted_new_host_key_is_recorded_and_then_verified(target, server, tmp_path):
    known_hosts = tmp_path / "new" / "known_hosts"
    Connection(target(known_hosts=str(known_hosts)), accept_new_host_keys=True).connect().close()
    assert known_hosts.read_text() == server.known_hosts_line()
    with Connection(target(known_hosts=str(known_hosts))).connect() as strict:
        assert strict.run(["true"]).ok


def test_changed_host_key_is_refused_even_when_accepting_new_keys(target, server, tmp_path):
    known_hosts = tmp_path / "forged"
    known_hosts.write_text(server.known_hosts_line(ed25519_key()))
    with pytest.raises(RemoteError, match="host key CHANGED"):
        Connection(target(known_hosts=str(known_hosts)), accept_new_host_keys=True).connect()
    assert known_hosts.read_text() == server.known_hosts_line(
        paramiko.PKey.from_type_string(*_key_fields(known_hosts))
    )


def _key_fields(known_hosts: Path) -> tuple[str, bytes]:
    import base64

    _, kind, text = known_hosts.read_text().split()
    return kind, base64.b64decode(text)


def test_unreadable_known_hosts(target, tmp_path):
    with pytest.raises(RemoteError, match="cannot read known_hosts"):
        Connection(target(known_hosts=str(tmp_path))).connect()


def test_authentication_failure(target, tmp_path):
    other = tmp_path / "other_key"
    write_private_key(other)
    with pytest.raises(RemoteError, match=f"authentication failed for root with key {other}"):
        Connection(target(key=str(other))).connect()


def test_passphrase_protected_key(target, tmp_path):
    openssh_format = tmp_path / "locked_ed25519"
    write_private_key(openssh_format, passphrase=b"secret")
    pem_format = tmp_path / "locked_rsa"
    paramiko.RSAKey.generate(1024).write_private_key_file(str(pem_format), password="secret")
    for locked in (openssh_format, pem_format):
        with pytest.raises(RemoteError, match=f"SSH key {locked} has a passphrase; load it into ssh-agent"):
            Connection(target(key=str(locked))).connect()


def test_unusable_key(target, tmp_path):
    with pytest.raises(RemoteError, match="cannot use SSH key"):
        Connection(target(key=str(tmp_path / "missing_key"))).connect()


def test_unreachable_port(target):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_port = probe.getsockname()[1]
    with pytest.raises(RemoteError, match=f"unreachable on port {free_port}"):
        Connection(target(port=free_port)).connect()


def test_server_that_closes_at_once(target, server):
    server.refusing = True
    with pytest.raises(RemoteError, match="SSH failed"):
        Connection(target()).connect()


# --- sudo ---------------------------------------------------------------------------


def test_non_root_user_runs_through_sudo_without_a_prompt(target, server, tmp_path):
    fake_tool(server, "sudo", f'printf "%s\\n" "$@" > {tmp_path}/sudo-argv\nshift 2\nexec "$@"\n')
    with Connection(target(user="admin")).connect() as connection:
        assert connection.run(["printf", "%s", HOSTILE]).stdout == HOSTILE
    command = shlex.join(["printf", "%s", HOSTILE])
    assert server.commands == [f"sudo -n -- sh -c {shlex.quote(command)}"]
    assert (tmp_path / "sudo-argv").read_text() == f"-n\n--\nsh\n-c\n{command}\n"


def test_sudo_that_wants_a_password(target, server, lock_dir):
    fake_tool(server, "sudo", 'echo "sudo: a password is required" >&2\nexit 1\n')
    with Connection(target(user="admin")).connect() as connection:
        with pytest.raises(RemoteError, match="sudo would prompt for a password for admin"):
            connection.run(["true"], check=False)
        with pytest.raises(RemoteError, match="sudo would prompt for a password for admin"):
            connection.lock("me")


# --- the host lock ------------------------------------------------------------------


def test_lock_is_taken_in_a_private_directory_and_refused_while_held(target, lock_dir):
    first = Connection(target("first")).connect()
    second = Connection(target("second")).connect()
    try:
        first.lock("dnsctl pid 1 on admin-box")
        assert lock_dir.stat().st_mode & 0o777 == 0o700
        assert (lock_dir / "holder").read_text() == "dnsctl pid 1 on admin-box\n"
        with pytest.raises(LockBusy) as busy:
            second.lock("dnsctl pid 2")
        assert busy.value.exit_code == 7
        assert "second (127.0.0.1): locked by dnsctl pid 1 on admin-box; try again" in str(busy.value)
    finally:
        first.close()
    # The lock goes with the connection, however the run ended.
    poll(lambda: _takes_lock(second, "dnsctl pid 2"))
    second.close()


def _takes_lock(connection: Connection, holder: str) -> bool:
    try:
        connection.lock(holder)
    except LockBusy:
        return False
    return True


@pytest.mark.parametrize(
    "plant",
    [
        lambda path, tmp: path.symlink_to(tmp / "elsewhere", target_is_directory=True),
        lambda path, tmp: path.mkdir(mode=0o777) or path.chmod(0o1777),
        lambda path, tmp: path.write_text("not a directory"),
    ],
    ids=["symlink", "world-writable", "file"],
)
def test_lock_refuses_a_planted_lock_directory(connection, lock_dir, tmp_path, plant):
    (tmp_path / "elsewhere").mkdir()
    plant(lock_dir, tmp_path)
    with pytest.raises(PreconditionError, match=f"{lock_dir} is not a directory that only root can write"):
        connection.lock("me")
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_lock_directory_that_cannot_be_made(connection, tmp_path, monkeypatch):
    monkeypatch.setattr(remote, "LOCK_DIR", str(tmp_path / "missing" / "dnsctl"))
    with pytest.raises(RemoteError, match="cannot take the dnsctl lock: cannot create"):
        connection.lock("me")


# --- many hosts ---------------------------------------------------------------------


def test_fleet_connects_once_per_host_and_runs_them_in_parallel(target):
    barrier = threading.Barrier(3, timeout=5)

    def together(connection: Connection) -> str:
        barrier.wait()  # passes only when all three run at the same time
        return connection.run(["printf", connection.name]).stdout

    with Fleet() as fleet:
        connections = fleet.connect([target("a"), target("b"), target("c")])
        assert fleet.connect([target("a")]) == connections
        assert fleet["b"] is connections["b"]
        assert fleet.each([connections[name] for name in "abc"], together) == ["a", "b", "c"]


def test_fleet_each_runs_all_and_raises_the_first_error(target):
    with Fleet() as fleet:
        fleet.connect([target("a"), target("b"), target("c")])
        ran = []

        def work(name: str) -> None:
            ran.append(name)
            fleet[name].run(["sh", "-c", f"echo {name} broke >&2; exit 1"] if name != "a" else ["true"])

        with pytest.raises(CommandFailed, match=r"b: .* failed: b broke"):
            fleet.each(["a", "b", "c"], work)
        assert sorted(ran) == ["a", "b", "c"]


def test_fleet_each_prefers_a_bug_to_a_dnsctl_error():
    def work(item: int) -> int:
        if item == 1:
            raise RemoteError("host 1 down")
        if item == 2:
            raise ZeroDivisionError
        return item

    with pytest.raises(ZeroDivisionError):
        Fleet().each([1, 2, 3], work)
    assert Fleet().each([3], work) == [3]


def test_fleet_connect_fails_when_a_host_fails(target):
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_port = probe.getsockname()[1]
    with Fleet() as fleet, pytest.raises(DnsctlError, match=f"unreachable on port {free_port}"):
        fleet.connect([target("good"), target("bad", port=free_port)])


# --- a connection lost during a rollback or restore ---------------------------------


def test_lost_connection_fails_a_plain_command(connection, server, lock_dir):
    connection.run(["true"])
    server.drop_connections()
    with pytest.raises(RemoteError, match="SSH"):
        connection.run(["true"])
    with pytest.raises(RemoteError, match=r"SSH connection lost|connection closed by the host"):
        connection.lock("me")


def test_connection_is_opened_on_first_use(target, lock_dir):
    with Connection(target()) as lazy:
        assert lazy.run(["true"]).ok
    with Connection(target()) as lazy:
        lazy.lock("me")


def test_lost_connection_is_reconnected_for_a_command_that_must_run(connection, server, tmp_path):
    connection.run(["true"])
    server.drop_connections()
    marker = tmp_path / "restored"
    connection.run(["touch", str(marker)], reconnect=True)
    assert marker.exists()
    assert connection.run(["true"]).ok
    connection.put(
        str(tmp_path / "f"),
        "x",
        owner=pwd.getpwuid(os.getuid()).pw_name,
        group=grp.getgrgid(os.getgid()).gr_name,
        reconnect=True,
    )
    server.drop_connections()
    assert connection.get(str(tmp_path / "f"), reconnect=True) == "x"


def test_connection_lost_while_a_command_runs(connection, server, tmp_path):
    started = tmp_path / "started"
    outcome: list[object] = []

    def slow() -> None:
        try:
            outcome.append(connection.run(["sh", "-c", f"touch {started}; sleep 20"]))
        except RemoteError as exc:
            outcome.append(exc)

    runner = threading.Thread(target=slow)
    runner.start()
    poll(started.exists)
    server.drop_connections()
    runner.join(timeout=10)
    assert len(outcome) == 1 and isinstance(outcome[0], RemoteError), outcome
    assert "connection lost" in str(outcome[0]) or "SSH failed" in str(outcome[0])


def test_reconnect_takes_the_lock_again(connection, server, target, lock_dir):
    connection.lock("dnsctl pid 1")
    server.drop_connections()
    connection.run(["true"], reconnect=True)
    with Connection(target("other")).connect() as other, pytest.raises(LockBusy, match="dnsctl pid 1"):
        other.lock("dnsctl pid 2")


def test_reconnect_waits_a_bounded_time_for_its_own_lost_lock(connection, server, lock_dir):
    server.ghost_sessions = True
    connection.lock("dnsctl pid 1")
    server.drop_connections()
    with pytest.raises(RemoteError, match="still held by this run's lost connection"):
        connection.reconnect(within=0.5)


def test_reconnect_takes_its_lock_once_the_host_lets_the_lost_session_go(connection, server, lock_dir):
    server.ghost_sessions = True
    connection.lock("dnsctl pid 1")
    server.drop_connections()
    threading.Timer(0.3, server.release_ghosts).start()
    connection.reconnect()
    assert (lock_dir / "holder").read_text() == "dnsctl pid 1\n"
    assert connection._lock_channel is not None and not connection._lock_channel.closed


def test_reconnect_does_not_take_a_lock_someone_else_took_meanwhile(connection, server, target, lock_dir):
    connection.lock("dnsctl pid 1")
    server.drop_connections()
    other = Connection(target("other")).connect()
    try:
        poll(lambda: _takes_lock(other, "dnsctl pid 2"))
        with pytest.raises(LockBusy, match="locked by dnsctl pid 2"):
            connection.reconnect()
    finally:
        other.close()


def test_reconnect_attempts_are_bounded(connection, server):
    server.drop_connections()
    server.refusing = True
    started = time.monotonic()
    with pytest.raises(RemoteError, match=r"gave up reconnecting after 3 attempts"):
        connection.run(["true"], reconnect=True)
    assert server.refused == 3
    assert time.monotonic() - started < 5


def test_reconnect_stops_at_its_deadline(connection, server):
    server.drop_connections()
    server.refusing = True
    with pytest.raises(RemoteError, match=r"gave up reconnecting after 1 attempts"):
        connection.reconnect(attempts=10, within=0.1)
    assert server.refused == 1


def test_reconnect_does_not_retry_a_changed_host_key(connection, server, known_hosts):
    known_hosts.write_text(server.known_hosts_line(ed25519_key()))
    server.drop_connections()
    with pytest.raises(RemoteError, match="host key CHANGED"):
        connection.run(["true"], reconnect=True)
