"""The commands: one function per subcommand, each taking a Session.

session   the inventory, one connection per host, the report and the options
converge  the engine behind every server change (plan, show, stage, activate, verify, roll back)
rollback  undo a failed activation and prove by DNS that every server serves the old data
servers   init-primary, add-slave, catalog sync
overview  check
status    status: every server of each zone as the inventory says, and drift
doctor    doctor: the first broken link of a zone's transfer path, and its fix
catalog   catalog consumers after a change: catalog transferred, members migrated, removed zones gone
clients   configure-client
failover  failover-test
records   record add | del | list
keys      TSIG keys on the hosts: read, made on the primary, proven by a forced transfer
tsig      tsig rotate
inventory apply: every server converged to the inventory in one run
dnssec    dnssec ds, and the signature check of signed zones

A command's module is imported when the command is first looked up here, so
`dnsctl --help` or `dnsctl check` never pays for SSH, DNS or TOML editing
libraries it does not use (each of those costs tens of milliseconds per start).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# name -> the module under dnsctl.ops that defines it
_HOMES = {
    "Options": "session",
    "Session": "session",
    "open_session": "session",
    "add_slave": "servers",
    "init_primary": "servers",
    "check": "overview",
    "status": "status",
    "doctor": "doctor",
    "apply_inventory": "inventory",
    "tsig_rotate": "tsig",
    "configure_client": "clients",
    "failover_test": "failover",
    "record_add": "records",
    "record_del": "records",
    "record_list": "records",
    "catalog_sync": "servers",
    "dnssec_ds": "dnssec",
}

__all__ = [
    "Options",
    "Session",
    "add_slave",
    "apply_inventory",
    "catalog_sync",
    "check",
    "configure_client",
    "dnssec_ds",
    "doctor",
    "failover_test",
    "init_primary",
    "open_session",
    "record_add",
    "record_del",
    "record_list",
    "status",
    "tsig_rotate",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        try:  # a submodule, e.g. ops.failover
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


class _Commands(types.ModuleType):
    """`ops.status` and `ops.doctor` are commands, also once their modules (of the same
    names) are imported: importing a submodule would otherwise set the package's
    attribute to the module. The modules stay in sys.modules for `from ... import`."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Commands


if TYPE_CHECKING:
    from dnsctl.ops.clients import configure_client
    from dnsctl.ops.dnssec import dnssec_ds
    from dnsctl.ops.doctor import doctor
    from dnsctl.ops.failover import failover_test
    from dnsctl.ops.inventory import apply_inventory
    from dnsctl.ops.overview import check
    from dnsctl.ops.records import record_add, record_del, record_list
    from dnsctl.ops.servers import add_slave, catalog_sync, init_primary
    from dnsctl.ops.session import Options, Session, open_session
    from dnsctl.ops.status import status
    from dnsctl.ops.tsig import tsig_rotate
