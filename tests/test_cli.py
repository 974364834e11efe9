"""The CLI as scripts see it: exit codes, one-line errors, one JSON document, documented commands."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsctl.cli import main

README = Path(__file__).parents[1] / "README.md"

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


def test_every_command_is_documented_in_readme():
    readme = README.read_text()
    for name, command in main.commands.items():
        assert f"dnsctl {name}" in readme, name
        for sub in getattr(command, "commands", {}):
            assert re.search(rf"dnsctl {name} [^\n]*{sub}", readme), f"{name} {sub}"


def test_exit_codes_are_documented():
    readme = README.read_text()
    for code in (0, 1, 2, 3, 4, 5, 6, 7, 70, 130):
        assert re.search(rf"^\| {code} \|", readme, re.MULTILINE), code
