"""README says what the program does: every command, every option, every exit code.

As sqlite-utils' tests/test_docs.py does: the documentation is checked against the
Click command tree and the one table of exit codes, so neither can drift.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from dnsctl import errors
from dnsctl.cli import main
from dnsctl.errors import EXIT_CODES

README = (Path(__file__).parents[1] / "README.md").read_text()


def commands(group: click.Group = main, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.MULTILINE | re.DOTALL)
    assert match, f"README has no section {title!r}"
    return match.group(1)


@pytest.mark.parametrize("path", [path for path, _ in commands()], ids=" ".join)
def test_every_command_is_documented(path):
    *parents, name = path
    prefix = " ".join(("dnsctl", *parents))
    assert re.search(rf"`{prefix} [^`\n]*\b{re.escape(name)}\b", README), f"{prefix} {name}"


@pytest.mark.parametrize(
    ("path", "option"),
    [
        (path, option)
        for path, command in [((), main), *commands()]
        for param in command.params
        if isinstance(param, click.Option)
        for option in param.opts
        if option.startswith("--")
    ],
    ids=lambda value: " ".join(value) if isinstance(value, tuple) else value,
)
def test_every_option_is_documented(path, option):
    assert re.search(rf"`[^`\n]*{re.escape(option)}\b", README), f"{' '.join(path)} {option}"


def readme_exit_codes() -> dict[int, str]:
    rows = re.findall(r"^\| (\d+) \| (.+?) \|$", section("Exit codes"), re.MULTILINE)
    return {int(code): meaning.replace("`", "") for code, meaning in rows}


def test_readme_exit_codes_are_exactly_the_table():
    assert readme_exit_codes() == EXIT_CODES


def test_help_lists_every_exit_code():
    text = " ".join(CliRunner().invoke(main, ["--help"]).stdout.split())
    for code, meaning in EXIT_CODES.items():
        assert f"{code} {meaning}" in text, code


def test_every_error_has_a_documented_exit_code():
    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    for cls in [errors.DnsctlError, *subclasses(errors.DnsctlError)]:
        assert cls.exit_code in EXIT_CODES, cls.__name__


def test_shell_completion_is_documented_for_each_shell():
    text = section("Shell completion")
    for shell in ("bash", "zsh", "fish"):
        assert f"_DNSCTL_COMPLETE={shell}_source dnsctl" in text, shell
