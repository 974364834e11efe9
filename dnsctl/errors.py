"""One exception tree for dnsctl; every class carries its exit code.

EXIT_CODES is the single table of codes: `dnsctl --help` prints it, and a unit
test checks that README's table says the same.
"""

from __future__ import annotations

from dnsctl import secrets

EXIT_CODES: dict[int, str] = {
    0: 'success (including "no changes")',
    1: "a verification or test failed (e.g. failover did not work), or you answered no at the prompt",
    2: "usage or inventory error, or a change not confirmed (no --yes without a terminal); "
    "nothing was contacted",
    3: "a host is unreachable, or SSH authentication / host key / sudo failed; nothing was changed",
    4: "the change was rejected by validation (named-checkzone, named-checkconf, a journal); "
    "nothing was changed",
    5: "the change failed and was rolled back (or failed before anything was activated); "
    "servers serve what they served before",
    6: "rollback failed: attention needed; the message says what state each host is in",
    7: "a precondition is not met: another dnsctl run holds the host's lock, firewalld is stopped "
    "(use --no-firewall), the lab needs root",
    8: "a command on a host failed unexpectedly before anything was changed; the message shows it",
    70: "an internal error, i.e. a bug in dnsctl (still one line, no traceback)",
    130: "interrupted (Ctrl-C) before anything was activated",
}


class DnsctlError(Exception):
    """Base of every error dnsctl reports on one line with an exit code."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        # Messages quote files and command output, which may hold a key's secret.
        message = secrets.mask(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class VerifyError(DnsctlError):
    """A check by DNS or on a host found something other than expected."""

    exit_code = 1


class Aborted(DnsctlError):
    """The user answered no at the prompt."""

    exit_code = 1


class UsageError(DnsctlError):
    exit_code = 2


class InventoryError(UsageError):
    """The inventory is not valid; str() is one line per problem (at most a screenful)."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        # Every problem, one line each, when there are more than the message shows.
        self.problems = problems if problems is not None else message.splitlines()


class RemoteError(DnsctlError):
    """SSH connect, authentication, host key, or sudo failure on one host."""

    exit_code = 3


class ValidationError(DnsctlError):
    exit_code = 4


class RolledBack(DnsctlError):
    exit_code = 5


class RollbackFailed(DnsctlError):
    exit_code = 6


class PreconditionError(DnsctlError):
    exit_code = 7


class LockBusy(PreconditionError):
    """Another dnsctl run holds the host's lock."""


class LabError(PreconditionError):
    exit_code = 7


class CommandFailed(DnsctlError):
    """A remote command exited non-zero where success was required (not an SSH failure)."""

    exit_code = 8

    def __init__(self, host: str, result: object) -> None:
        super().__init__(f"{host}: `{result.command}` failed: {result.reason()}")  # type: ignore[attr-defined]
        self.result = result
