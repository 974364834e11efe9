"""The CLI as scripts see it: exit codes, one-line errors, one JSON document, documented commands."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import tomllib
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner

from dnsctl import __version__, ops
from dnsctl.cli import main, runner
from dnsctl.errors import InventoryError
from dnsctl.report import ERASE_LINE, LiveLine

GOOD = """
[servers.ns1]
address = "198.51.100.10"
[servers.ns2]
address = "198.51.100.11"
[clients.client1]
address = "198.51.100.20"
[zones."example.com"]
primary = "ns1"
secondaries = ["ns2"]
[[zones."example.com".records]]
name = "pc1"
type = "A"
value = "198.51.100.50"
"""


@pytest.fixture
def good(tmp_path) -> Path:
    path = tmp_path / "inventory.toml"
    path.write_text(GOOD)
    return path


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_check_ok(good):
    result = run("-i", str(good), "check")
    assert result.exit_code == 0, result.output
    assert "example.com" in result.output


def test_json_is_one_document(good):
    result = run("-i", str(good), "--json", "check")
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["exit_code"] == 0
    assert document["inventory"]["zones"]["example.com"]["primary"] == "ns1"


def test_inventory_from_environment(good, monkeypatch):
    monkeypatch.setenv("DNSCTL_INVENTORY", str(good))
    assert run("check").exit_code == 0


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (GOOD.replace('"example.com"', '"ex;ample"'), 'zones."ex;ample"'),
        (GOOD.replace('value = "198.51.100.50"', 'value = "nope"'), 'zones."example.com".records[0].value'),
        (GOOD + "\n[bogus]\n", "bogus"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_inventory_is_one_line_exit_2(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    for args in (["check"], ["--json", "check"], ["init-primary", "example.com", "--yes"]):
        result = run("-i", str(path), *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith("dnsctl: error: ") and result.stderr.count("\n") == 1
        assert field in result.stderr
        assert "Traceback" not in result.output + result.stderr


def test_missing_inventory(tmp_path):
    result = run("-i", str(tmp_path / "none.toml"), "check")
    assert result.exit_code == 2 and "not found" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["init-primary", "nosuch.test", "--yes"], "unknown zone 'nosuch.test'"),
        (["status", "nosuch.test"], "unknown zone 'nosuch.test'"),
        (["add-slave", "example.com", "ns1", "--yes"], "not a secondary"),
        (["add-slave", "example.com", "ns9", "--yes"], "unknown server 'ns9'"),
        (["configure-client", "nobody", "--yes"], "unknown client 'nobody'"),
        (["configure-client", "--dns", "not-an-ip", "--yes"], "--dns"),
        (["configure-client", "--dns-options", "rm -rf", "--yes"], "--dns-options"),
        (["failover-test", "example.com", "--client", "nobody", "--yes"], "unknown client"),
        (["failover-test", "example.com", "--mode", "explode", "--yes"], "explode"),
        (["failover-test", "example.com", "--name", "a;reboot", "--yes"], "--name"),
        (["tsig", "rotate", "nosuch.example", "--yes"], "neither a zone nor a TSIG key"),
        (["tsig", "rotate", "example.com", "--yes"], "zone example.com has no TSIG key"),
    ],
)
def test_bad_arguments_fail_before_any_connection(good, args, needle):
    # The inventory's hosts do not exist: reaching them would fail with 3, not 2.
    result = run("-i", str(good), *args)
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and result.stderr.count("\n") == 1


def test_help_of_every_command():
    assert run("--help").exit_code == 0
    for name, command in main.commands.items():
        assert run(name, "--help").exit_code == 0, name
        for sub in getattr(command, "commands", {}):
            assert run(name, sub, "--help").exit_code == 0


# --- global options before and after the subcommand -------------------------------------------

COMMANDS = {
    "check": ["check"],
    "status": ["status"],
    "doctor": ["doctor", "example.com"],
    "init-primary": ["init-primary", "example.com", "--yes"],
    "add-slave": ["add-slave", "example.com", "--yes"],
    "configure-client": ["configure-client", "--yes"],
    "failover-test": ["failover-test", "example.com", "--yes"],
    "record add": ["record", "add", "example.com", "www", "A", "198.51.100.80", "--yes"],
    "record del": ["record", "del", "example.com", "pc1", "A", "--yes"],
    "record list": ["record", "list", "example.com"],
    "tsig rotate": ["tsig", "rotate", "example.com", "--yes"],
    "apply": ["apply", "--yes"],
    "catalog sync": ["catalog", "sync", "--yes"],
    "dnssec ds": ["dnssec", "ds", "example.com"],
}
# The commands that change servers or clients: they run only with --yes, or after a yes on a terminal.
CHANGING = [
    "init-primary",
    "add-slave",
    "configure-client",
    "failover-test",
    "record add",
    "record del",
    "tsig rotate",
    "apply",
    "catalog sync",
]


@pytest.fixture
def sessions(monkeypatch):
    """Stand-ins for ops: each run records what its session was opened with, and contacts nothing."""
    opened: list[dict] = []

    @contextmanager
    def open_session(path, report, *, accept_new_host_keys=False, forks=None):
        opened.append(
            {
                "inventory": Path(path),
                "json": report.json_mode,
                "accept_new_host_keys": accept_new_host_keys,
                "forks": forks,
                "verbose": logging.getLogger("dnsctl").level == logging.INFO,
                "report": report,
            }
        )
        session = SimpleNamespace(report=report, options=None, before_connect=None)
        opened[-1]["session"] = session
        yield session

    monkeypatch.setattr(ops, "open_session", open_session)
    for name in (
        "check",
        "status",
        "doctor",
        "init_primary",
        "add_slave",
        "configure_client",
        "failover_test",
        "record_add",
        "record_del",
        "record_list",
        "tsig_rotate",
        "apply_inventory",
        "catalog_sync",
        "dnssec_ds",
    ):
        monkeypatch.setattr(ops, name, reach_hosts)
    return opened


def reach_hosts(session, *args, **kwargs) -> None:
    """A stand-in op: as a real one does before its first connection, pass the session's gate."""
    if session.before_connect is not None:
        session.before_connect()
    session.reached = True


def reached(sessions: list[dict]) -> bool:
    return any(getattr(opened["session"], "reached", False) for opened in sessions)


def lab_commands() -> list[list[str]]:
    return [["lab", name] for name in main.commands["lab"].commands]


def leaf_commands(group=main, path=()) -> list[list[str]]:
    leaves = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            leaves += leaf_commands(command, (*path, name))
        else:
            leaves.append([*path, name])
    return leaves


def test_every_command_takes_the_global_options():
    for path in [[], *leaf_commands(), ["lab"]]:
        command = main
        for name in path:
            command = command.commands[name]
        names = {opt for param in command.params for opt in param.opts}
        wanted = {"-i", "--inventory", "--json", "-v", "--verbose", "--accept-new-host-keys", "--forks"}
        assert wanted <= names, path


@pytest.mark.parametrize("name", list(COMMANDS))
@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_before_or_after_the_command(sessions, good, name, where):
    options = ["-i", str(good), "--json", "-v", "--accept-new-host-keys", "--forks", "4"]
    args = options + COMMANDS[name] if where == "before" else COMMANDS[name] + options
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["command"] == name
    seen = sessions[-1]
    assert seen["inventory"] == good
    assert seen["json"] and seen["verbose"] and seen["accept_new_host_keys"]
    assert seen["forks"] == 4


def test_the_inventory_nearest_the_command_wins(sessions, good, tmp_path, monkeypatch):
    other = tmp_path / "other.toml"
    monkeypatch.setenv("DNSCTL_INVENTORY", str(tmp_path / "from-env.toml"))
    run("-i", str(other), "check", "-i", str(good))
    run("-i", str(good), "check")
    run("check", "-i", str(other))
    run("check")
    assert [seen["inventory"] for seen in sessions] == [good, good, other, tmp_path / "from-env.toml"]
    monkeypatch.delenv("DNSCTL_INVENTORY")
    run("check")
    assert sessions[-1]["inventory"] == Path("inventory.toml")


def test_without_global_options_nothing_is_switched_on(sessions, good):
    assert run("-i", str(good), "check").exit_code == 0
    seen = sessions[-1]
    assert not (seen["json"] or seen["verbose"] or seen["accept_new_host_keys"])
    assert seen["forks"] == 32


@pytest.mark.parametrize("path", lab_commands())
@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_work_on_lab_commands(monkeypatch, path, where, tmp_path):
    from dnsctl import lab

    seen = {}

    def fake(state_dir, *args, **kwargs):
        seen["state_dir"] = state_dir
        seen["verbose"] = logging.getLogger("dnsctl").level == logging.INFO
        return []

    for name in ("lab_up", "lab_down", "lab_status"):
        monkeypatch.setattr(lab, name, fake)
    options = ["--json", "-v", "-i", str(tmp_path / "unused.toml")]
    state = ["--state-dir", str(tmp_path)]
    args = [*options, *path, *state] if where == "before" else [*path, *state, *options]
    result = run(*args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["command"] == " ".join(path) and document["ok"] is True
    assert seen == {"state_dir": tmp_path, "verbose": True}


# --- --json: one document for every outcome ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["check", "--bogus", "--json"], 2, "--bogus"),  # --json after the bad option
        (["--json", "check", "--bogus"], 2, "--bogus"),
        (["--json", "nosuch"], 2, "nosuch"),
        (["--json"], 2, "Missing command"),
        (["init-primary", "--json"], 2, "ZONE"),
        (["failover-test", "example.com", "--mode", "explode", "--json"], 2, "explode"),
        (["lab", "up", "--secondaries", "99", "--json"], 2, "99"),
        (["lab", "--json", "nosuch"], 2, "nosuch"),
        (["check", "--json", "-i", "/nonexistent/inventory.toml"], 2, "not found"),
        (["init-primary", "example.com", "--json", "-i", "/nonexistent/inventory.toml"], 2, "not found"),
    ],
)
def test_json_for_usage_errors(args, code, needle):
    result = run(*args)
    assert result.exit_code == code, result.output
    document = json.loads(result.stdout)  # exactly one document, nothing else
    assert document["ok"] is False and document["exit_code"] == code
    assert needle in document["error"] and document["errors"] == [document["error"]]
    assert result.stderr.startswith("dnsctl: error: ") and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("problem", "code", "needle"),
    [
        (KeyboardInterrupt(), 130, "interrupted"),
        (RuntimeError("boom"), 70, "internal error (a bug in dnsctl): RuntimeError: boom"),
    ],
)
def test_json_for_interrupt_and_bug_in_a_command(sessions, good, monkeypatch, problem, code, needle):
    def check(session):
        raise problem

    monkeypatch.setattr(ops, "check", check)
    result = run("check", "--json", "-i", str(good))
    assert result.exit_code == code
    document = json.loads(result.stdout)
    assert document["exit_code"] == code and needle in document["error"]
    assert result.stderr == f"dnsctl: error: {document['error']}\n"


def test_a_bug_quoting_a_secret_hides_it_on_stderr_as_in_json(sessions, good, monkeypatch):
    """DnsctlError masks its message itself; any other exception's text is masked on the way out."""
    quoted = 'key "t" { algorithm hmac-sha256; secret "c2VjcmV0"; };'

    def check(session):
        raise ValueError(quoted)

    monkeypatch.setattr(ops, "check", check)
    result = run("check", "--json", "-i", str(good))
    document = json.loads(result.stdout)
    assert "c2VjcmV0" not in result.stderr and "c2VjcmV0" not in result.stdout
    assert result.stderr == f"dnsctl: error: {document['error']}\n"
    assert 'secret "<hidden>"' in document["error"]


def test_a_bug_outside_a_command_quoting_a_secret_hides_it_on_stderr_too(monkeypatch, good):
    def begin(*args):
        raise ValueError('secret "c2VjcmV0";')

    monkeypatch.setattr(runner, "_begin", begin)
    result = run("-i", str(good), "check", "--json")
    assert result.exit_code == 70
    assert "c2VjcmV0" not in result.stderr and "c2VjcmV0" not in result.stdout
    assert 'secret "<hidden>"' in result.stderr


@pytest.mark.parametrize(
    ("problem", "code"), [(click.Abort(), 130), (RuntimeError("boom"), 70), (ValueError("x"), 70)]
)
def test_json_for_interrupt_and_bug_outside_a_command(monkeypatch, good, problem, code):
    def begin(*args):
        raise problem

    monkeypatch.setattr(runner, "_begin", begin)
    result = run("-i", str(good), "check", "--json")
    assert result.exit_code == code
    assert json.loads(result.stdout)["exit_code"] == code
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("dnsctl: error: ")


def test_help_and_version_with_json():
    help_document = json.loads(run("check", "--help", "--json").stdout)
    assert help_document["ok"] is True and "Usage: dnsctl check" in help_document["help"]
    assert json.loads(run("--json", "--version").stdout)["version"] == f"dnsctl {__version__}"


# --- inventory errors of several lines ---------------------------------------------------------

PROBLEMS = [
    "inv.toml: servers.ns1.port: Input should be a valid integer",
    'inv.toml: zones."example.com".primary: unknown server "ns9"',
]


@pytest.fixture
def two_problems(monkeypatch):
    def open_session(path, report, **kwargs):
        error = InventoryError("\n".join(PROBLEMS))
        error.problems = list(PROBLEMS)
        raise error

    monkeypatch.setattr(ops, "open_session", open_session)


def test_every_inventory_problem_is_a_line(two_problems):
    result = run("check")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [f"dnsctl: error: {problem}" for problem in PROBLEMS]


def test_every_inventory_problem_is_in_the_json_document(two_problems):
    result = run("check", "--json")
    document = json.loads(result.stdout)
    assert document["exit_code"] == 2 and document["errors"] == PROBLEMS
    assert document["error"] == "\n".join(PROBLEMS)


# --- asked before changing (issue 8) -----------------------------------------------------------


def changing_commands() -> set[str]:
    return {
        " ".join(path)
        for path in leaf_commands()
        if getattr(cli_command(path).callback, "changes_hosts", False)
    }


def cli_command(path):
    command = main
    for name in path:
        command = command.commands[name]
    return command


def test_which_commands_change_hosts_and_all_take_yes():
    assert changing_commands() == set(CHANGING)
    for path in leaf_commands():
        command = cli_command(path)
        takes_yes = any(param.name == "yes" for param in command.params)
        assert takes_yes == bool(getattr(command.callback, "changes_hosts", False)), path


@pytest.mark.parametrize("name", CHANGING)
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_a_change_without_yes_and_without_a_terminal_is_refused(sessions, good, name, json_flag):
    args = [arg for arg in COMMANDS[name] if arg != "--yes"]
    result = run("-i", str(good), *args, *json_flag)
    assert result.exit_code == 2, result.output
    assert not reached(sessions)  # refused before any host was reached
    assert result.stderr.count("\n") == 1 and "pass --yes" in result.stderr
    if json_flag:
        assert json.loads(result.stdout)["exit_code"] == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["init-primary", "nosuch.test"], "unknown zone 'nosuch.test'"),
        (["add-slave", "example.com", "ns9"], "unknown server 'ns9'"),
        (["record", "add", "example.com", "www", "A", "999.1.1.1"], "'999.1.1.1' is not an IPv4 address"),
        (["apply", "nosuch.test"], "unknown zone 'nosuch.test'"),
    ],
)
def test_without_yes_a_bad_argument_is_named_before_the_missing_yes(good, args, message):
    result = run("-i", str(good), *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


@pytest.mark.parametrize("name", CHANGING)
def test_json_on_a_terminal_refuses_too(sessions, good, monkeypatch, name):
    monkeypatch.setattr(runner, "_can_ask", lambda: True)
    args = [arg for arg in COMMANDS[name] if arg != "--yes"]
    result = run("-i", str(good), *args, "--json")
    assert result.exit_code == 2 and not reached(sessions)


@pytest.mark.parametrize(
    "name",
    ["init-primary", "add-slave", "configure-client", "record add", "record del", "tsig rotate", "apply"],
)
def test_dry_run_needs_no_yes(sessions, good, name):
    args = [arg for arg in COMMANDS[name] if arg != "--yes"]
    assert run("-i", str(good), *args, "--dry-run").exit_code == 0
    assert len(sessions) == 1


@pytest.mark.parametrize("flag", ["--check", "--expect-no-changes"])
def test_apply_check_needs_no_yes(sessions, good, monkeypatch, flag):
    asked = []
    monkeypatch.setattr(ops, "apply_inventory", lambda session, zones, **kwargs: asked.append(kwargs))
    assert run("-i", str(good), "apply", flag, "--prune").exit_code == 0
    assert asked == [{"prune": True, "check": True}]


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1), ("\n", 1), ("", 130)])
def test_on_a_terminal_it_asks(sessions, good, monkeypatch, answer, code):
    monkeypatch.setattr(runner, "_can_ask", lambda: True)
    changed = []

    def init_primary(session, zone):
        session.options.confirm("Apply these changes?")
        changed.append(zone)

    monkeypatch.setattr(ops, "init_primary", init_primary)
    result = CliRunner().invoke(main, ["-i", str(good), "init-primary", "example.com"], input=answer)
    assert result.exit_code == code, result.output
    assert "Apply these changes? [y/N]" in result.stderr  # the question leaves stdout to the report
    assert changed == (["example.com"] if code == 0 else [])
    if code == 1:
        assert "aborted; nothing was changed" in result.stderr
    if code == 130:  # no answer at all (end of input, or Ctrl-C)
        assert "interrupted; nothing was left half-done" in result.stderr


# --- shell completion ---------------------------------------------------------------------------


def complete(shell: str, words: str, env: dict | None = None) -> list[str]:
    """What the shell's completion function would get from dnsctl for the command line `words`."""
    incomplete = "" if words.endswith(" ") else words.split()[-1]
    # bash and zsh give the index of the word being completed, fish gives the word itself.
    cword = incomplete if shell == "fish" else str(len(words.split()) - (1 if incomplete else 0))
    environ = {"_DNSCTL_COMPLETE": f"{shell}_complete", "COMP_WORDS": words, "COMP_CWORD": cword}
    result = CliRunner().invoke(main, [], env={**environ, **(env or {})}, prog_name="dnsctl")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stdout.splitlines() if line]
    if shell == "zsh":  # type, value, help: three lines each
        return [lines[index + 1] for index in range(0, len(lines), 3)]
    return [line.split(",", 1)[1].split("\t")[0] for line in lines]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_complete_subcommands_and_options(shell):
    assert {"check", "configure-client"} <= set(complete(shell, "dnsctl c"))
    assert set(complete(shell, "dnsctl lab ")) == {"up", "down", "status"}
    options = complete(shell, "dnsctl init-primary --")
    assert {"--dry-run", "--yes", "--inventory", "--json", "--verbose", "--accept-new-host-keys"} <= set(
        options
    )


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_complete_names_from_the_inventory(shell, good, tmp_path, monkeypatch):
    i = f"dnsctl -i {good}"
    assert complete(shell, f"{i} init-primary ") == ["example.com"]
    assert complete(shell, f"{i} status e") == ["example.com"]
    assert complete(shell, f"{i} add-slave example.com ") == ["ns1", "ns2"]
    assert complete(shell, f"{i} add-slave example.com ns2 n") == ["ns1", "ns2"]
    assert complete(shell, f"{i} configure-client ") == ["client1"]
    assert complete(shell, f"{i} failover-test example.com --client ") == ["client1"]
    assert complete(shell, f"dnsctl failover-test -i {good} x") == []
    # -i after the command, $DNSCTL_INVENTORY, ./inventory.toml
    assert complete(shell, f"dnsctl init-primary -i {good} ") == ["example.com"]
    assert complete(shell, "dnsctl init-primary ", env={"DNSCTL_INVENTORY": str(good)}) == ["example.com"]
    monkeypatch.chdir(good.parent)
    assert complete(shell, "dnsctl configure-client ") == ["client1"]


@pytest.mark.parametrize("text", [None, "not toml [", GOOD + "\n[bogus]\n"])
def test_complete_nothing_when_the_inventory_cannot_be_read(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DNSCTL_INVENTORY", raising=False)
    if text is not None:
        (tmp_path / "inventory.toml").write_text(text)
    assert complete("bash", "dnsctl init-primary ") == []
    assert complete("bash", "dnsctl failover-test example.com --client ") == []


@pytest.mark.parametrize(
    ("shell", "needle"),
    [("bash", "_dnsctl_completion"), ("zsh", "#compdef dnsctl"), ("fish", "--command dnsctl")],
)
def test_completion_scripts(shell, needle):
    result = CliRunner().invoke(main, [], env={"_DNSCTL_COMPLETE": f"{shell}_source"}, prog_name="dnsctl")
    assert result.exit_code == 0 and needle in result.stdout


# --- version, python -m dnsctl -----------------------------------------------------------------


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and result.stdout == f"dnsctl {__version__}\n"
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == __version__


def test_python_m_dnsctl():
    result = subprocess.run(
        [sys.executable, "-m", "dnsctl", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout == f"dnsctl {__version__}\n"
    usage = subprocess.run([sys.executable, "-m", "dnsctl", "nosuch"], capture_output=True, text=True)
    assert usage.returncode == 2 and usage.stderr == "dnsctl: error: No such command 'nosuch'.\n"


# --- the live progress line --------------------------------------------------------------------


def test_live_line_only_on_a_terminal_and_never_with_json(sessions, good, monkeypatch):
    assert run("-i", str(good), "check").exit_code == 0
    assert sessions[-1]["report"].live is None  # the test runner's stdout is no terminal
    monkeypatch.setattr(runner, "_terminal", lambda: True)
    run("-i", str(good), "check")
    assert isinstance(sessions[-1]["report"].live, LiveLine)
    run("-i", str(good), "check", "--json")
    assert sessions[-1]["report"].live is None


def test_verbose_log_lines_do_not_run_into_the_live_line(sessions, good, monkeypatch):
    monkeypatch.setattr(runner, "_terminal", lambda: True)

    def check(session):
        session.report.live.delay = 0
        with session.report.waiting("ns1", "ssh connect"):
            session.report.live.draw()
            logging.getLogger("dnsctl.remote").info("ns1$ true")

    monkeypatch.setattr(ops, "check", check)
    result = run("-i", str(good), "check", "-v")
    assert result.exit_code == 0, result.output
    shown = [line.split(ERASE_LINE)[-1] for line in result.stderr.split("\n")]
    assert shown == ["dnsctl: ns1$ true", ""]
    assert "ssh connect" in result.stderr  # it was there, then went
