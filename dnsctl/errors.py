"""One exception tree for dnsctl; cli.py maps each class to its exit code.

Exit codes (stable, documented in README):
  0  success
  1  a verification or test failed (VerifyError)
  2  usage or inventory error (UsageError, InventoryError)
  3  a host is unreachable, or SSH / auth / host-key / sudo failed (RemoteError)
  4  the change was rejected by validation, nothing changed (ValidationError)
  5  the change failed and was rolled back (RolledBack)
  6  rollback failed, attention needed (RollbackFailed)
  7  a precondition on this machine or a host is not met, nothing was
     attempted (PreconditionError, LabError: not root, tool missing, lock held)
"""

from __future__ import annotations


class DnsctlError(Exception):
    """Base of every error dnsctl reports on one line with an exit code."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class VerifyError(DnsctlError):
    exit_code = 1


class UsageError(DnsctlError):
    exit_code = 2


class InventoryError(UsageError):
    exit_code = 2


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


class LabError(PreconditionError):
    exit_code = 7
