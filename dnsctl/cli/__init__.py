"""The command line: Click commands only; each parses, calls one function in ops, prints.

program     the `dnsctl` group, its Click classes, --help/--version with --json, the last net
options     the global options (before and after the subcommand) and the change options
runner      one run of a command: report, logging, signals, consent, errors -> exit codes
completion  shell completion of the inventory's names
servers     init-primary, add-slave, apply, catalog sync, check, status, doctor
keys        tsig rotate, dnssec ds
clients     configure-client, failover-test
records     record add | del | list
lab         lab up | down | status

The global options (-i, --json, -v, --accept-new-host-keys, --forks) are defined once and
attached to the group and to every command, so they work before and after the
subcommand; given twice, the one nearer the command wins. Every outcome, a usage
error included, ends in one line per problem on stderr and, with --json, exactly one
JSON document on stdout carrying the exit code.
"""

# Each family's module adds its commands to `main` when imported.
from dnsctl.cli import clients, keys, lab, records, servers  # noqa: F401
from dnsctl.cli.program import PROG_NAME, main

__all__ = ["PROG_NAME", "main"]
