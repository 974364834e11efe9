"""The command line against the lab: global options after the command, no change unasked,
the question and the live line on a real terminal, one JSON document for a usage error,
and `pipx install .` giving a working `dnsctl`.

Every result is checked without dnsctl: dnspython queries to one server's address, and
files and services read inside the lab hosts.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from dnsctl import __version__
from dnsctl.report import ERASE_LINE

from .conftest import NS1, NS2, dnsctl, dnsctl_ok

pytestmark = pytest.mark.lab

ROOT = Path(__file__).parents[2]

ZONE = """
[zones."cli.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."cli.test".records]]
name = "host"
type = "A"
value = "198.51.100.90"
"""

# Every file dnsctl may change on a host, the firewall's DNS rule and named's process.
FINGERPRINT = r"""
for f in /etc/bind/* /var/lib/bind/* /var/cache/bind/* /var/cache/bind/slaves/* /etc/resolv.conf; do
  [ -f "$f" ] && md5sum "$f"
done
firewall-cmd --list-services 2>/dev/null
systemctl show named -p MainPID 2>/dev/null
nmcli -g ipv4.dns,ipv4.dns-options connection show lab 2>/dev/null
"""


def fingerprint(the_lab, host: str) -> str:
    return the_lab.exec(host, "sh", "-c", FINGERPRINT, check=False).stdout


def soa(server: str, zone: str) -> tuple[str, int | None, bool]:
    """(rcode, serial, authoritative) as server answers; firewalld blocks DNS until dnsctl opens it."""
    try:
        response = dns.query.udp(dns.message.make_query(zone, "SOA"), server, timeout=2)
    except (dns.exception.DNSException, OSError):
        return "no answer", None, False
    serial = response.answer[0][0].serial if response.answer else None
    return dns.rcode.to_text(response.rcode()), serial, bool(response.flags & dns.flags.AA)


def one_document(stdout: str) -> dict:
    return json.loads(stdout)  # raises unless stdout is exactly one JSON document


def on_terminal(*args: str, answer: str | None = None, timeout: float = 120) -> tuple[int, str]:
    """Run dnsctl with stdin, stdout and stderr on a pseudo-terminal, as a person at a shell
    would; answer its question with `answer`. Returns the exit code and all it wrote."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: exec at once
        os.environ["COLUMNS"] = "200"
        os.execv(sys.executable, [sys.executable, "-m", "dnsctl", *args])
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child has gone and closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if answer is not None and b"[y/N]: " in output:
                os.write(fd, answer.encode())
                answer = None
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"dnsctl did not finish in {timeout} s: {output.decode()!r}")
    finally:
        os.close(fd)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), output.decode()


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory) -> Path:
    return the_lab.write_inventory(tmp_path_factory.mktemp("cli") / "cli.toml", extra=ZONE)


def test_a_change_without_yes_and_without_a_terminal_is_refused(the_lab, inventory):
    hosts = ("ns1", "ns2", "client1")
    before = {host: fingerprint(the_lab, host) for host in hosts}
    for args in (
        ["init-primary", "cli.test"],
        ["add-slave", "cli.test"],
        ["configure-client"],
        ["failover-test", "cli.test"],
        ["init-primary", "cli.test", "--json"],
    ):
        result = dnsctl(*args, inventory=inventory)  # stdin is /dev/null: nobody to ask
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.count("\n") == 1 and "pass --yes" in result.stderr, args
        if "--json" in args:
            assert one_document(result.stdout)["exit_code"] == 2
        else:
            assert result.stdout == ""
    assert {host: fingerprint(the_lab, host) for host in hosts} == before
    assert soa(NS1, "cli.test")[1:] == (None, False)  # not served: nothing was set up
    assert the_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"


def test_on_a_terminal_it_asks_and_no_changes_nothing(the_lab, inventory):
    before = fingerprint(the_lab, "ns1")
    code, output = on_terminal("init-primary", "cli.test", "-i", str(inventory), answer="n\n")
    assert code == 1, output
    assert "Apply these changes? [y/N]" in output and "aborted; nothing was changed" in output
    assert "+host\tIN A 198.51.100.90" in output  # the plan was there to answer about
    assert fingerprint(the_lab, "ns1") == before
    assert soa(NS1, "cli.test")[1:] == (None, False)


def test_global_options_after_the_command(the_lab, inventory):
    result = dnsctl_ok("init-primary", "cli.test", "--yes", "-i", str(inventory), "--json")
    document = one_document(result.stdout)
    assert document["command"] == "init-primary" and document["exit_code"] == 0
    (serial,) = [step["data"]["serial"] for step in document["steps"] if "SOA" in step["action"]]
    assert soa(NS1, "cli.test") == ("NOERROR", serial, True)

    result = dnsctl_ok("add-slave", "cli.test", "-i", str(inventory), "--yes", "--json", "-v")
    assert one_document(result.stdout)["ok"] is True
    assert "dnsctl: ns2$ " in result.stderr  # -v after the command: every remote command logged
    assert ERASE_LINE not in result.stdout + result.stderr  # no live line off a terminal
    assert soa(NS2, "cli.test") == ("NOERROR", serial, True)

    result = dnsctl("status", "cli.test", "--json", "-i", str(inventory))
    copies = one_document(result.stdout)["zones"]["cli.test"]
    assert result.returncode == 0 and copies["ns1"]["serial"] == copies["ns2"]["serial"] == serial

    result = dnsctl("lab", "status", "--state-dir", str(the_lab.state_dir), "--json")
    hosts = {host["name"]: host["running"] for host in one_document(result.stdout)["hosts"]}
    assert result.returncode == 0 and hosts == {"ns1": True, "ns2": True, "client1": True}


def test_a_usage_error_with_json_is_one_document(inventory):
    for args in (
        ["init-primary", "cli.test", "--bogus", "--json"],
        ["--json", "init-primary"],
        ["failover-test", "cli.test", "--mode", "explode", "--json"],
        ["--json", "nosuch"],
    ):
        result = dnsctl(*args, inventory=inventory)
        assert result.returncode == 2, args
        document = one_document(result.stdout)
        assert document["exit_code"] == 2 and document["ok"] is False and document["error"], args
        assert result.stderr.startswith("dnsctl: error: ")


def test_the_live_line_during_a_failover_on_a_terminal(the_lab, inventory):
    """In drop mode the client's resolver waits out the silent primary: a second or more."""
    assert dnsctl("configure-client", "--yes", inventory=inventory).returncode == 0
    code, output = on_terminal("-i", str(inventory), "failover-test", "cli.test", "--mode", "drop", "--yes")
    assert code == 0, output
    drawn = [part.split("\r")[0] for part in output.split(ERASE_LINE)[1:]]
    waits = [text for text in drawn if text.startswith("..   client1")]
    assert waits, drawn
    assert re.fullmatch(r"\.\.   client1 +\d+\.\ds  during: resolve host\.cli\.test", waits[-1]), waits
    screen = [line.split(ERASE_LINE)[-1] for line in output.replace("\r\n", "\n").split("\n")]
    assert any(line.startswith("OK   client1") and "during: resolve" in line for line in screen)
    assert screen[-1] == ""  # the live line is gone at the end
    assert the_lab.exec("ns1", "firewall-cmd", "--list-rich-rules").stdout.strip() == ""
    assert soa(NS1, "cli.test")[2]


def test_pipx_install_gives_a_working_dnsctl(tmp_path):
    """Slow (a fresh environment from the package index), so it runs with the lab tests."""
    source = tmp_path / "source"  # a copy: pip builds in the tree it is given
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__")
    )
    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin")}
    installed = subprocess.run(
        ["pipx", "install", str(source)], env=env, capture_output=True, text=True, timeout=600
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    dnsctl_bin = tmp_path / "bin" / "dnsctl"
    version = subprocess.run([dnsctl_bin, "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout == f"dnsctl {__version__}\n"
    # bash completion for real: the script dnsctl prints, and its function called as bash calls it
    # on Tab (command, word, previous word).
    inventory = tmp_path / "inventory.toml"
    inventory.write_text('[servers.ns1]\naddress = "198.51.100.10"\n[zones."cli.test"]\nprimary = "ns1"\n')
    script = (
        'eval "$(_DNSCTL_COMPLETE=bash_source dnsctl)"; '
        f'COMP_WORDS=(dnsctl -i {inventory} init-primary ""); COMP_CWORD=4; '
        '_dnsctl_completion dnsctl "" init-primary; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    completed = subprocess.run(
        ["bash", "-c", script],
        env={**env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}"},
        capture_output=True,
        text=True,
    )
    assert completed.stdout == "cli.test\n", completed.stderr
