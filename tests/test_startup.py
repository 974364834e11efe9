"""Start-up cost: a command imports only the libraries it uses (each costs tens of ms per run)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import sys
from dnsctl.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
heavy = ("paramiko", "invoke", "dns.message", "dns.query", "pydantic", "tomlkit")
print("IMPORTED", __import__("json").dumps(sorted(name for name in heavy if name in sys.modules)))
"""


def imported(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    line = next(line for line in result.stdout.splitlines() if line.startswith("IMPORTED"))
    return json.loads(line.removeprefix("IMPORTED "))


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["init-primary", "--help"], ["lab", "--help"]])
def test_help_loads_no_heavy_library(args):
    assert imported(*args) == []


def test_check_loads_only_the_inventory_model():
    assert imported("-i", "inventory.example.toml", "check") == ["pydantic"]


def test_paramiko_comes_without_invoke():
    probe = (
        "import sys; from dnsctl import remote; remote._import_paramiko(); "
        "print('paramiko' in sys.modules, 'invoke' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["True", "False"]


def test_exit_skips_the_last_garbage_collection():
    # Registered before dnsctl's own exit handler, so it runs after it (atexit is last in, first out).
    probe = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))\n"
        "from dnsctl.cli import main\n"
        "main(['--version'])\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1] == "frozen True"
