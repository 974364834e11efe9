"""The commands: one function per subcommand, each taking a Session.

session   the inventory, one connection per host, the report and the options
converge  the engine behind every server change (plan, show, stage, activate, verify, roll back)
rollback  undo a failed activation and prove by DNS that every server serves the old data
servers   init-primary, add-slave, catalog sync, check
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
"""

from dnsctl.ops.clients import configure_client
from dnsctl.ops.dnssec import dnssec_ds
from dnsctl.ops.doctor import doctor
from dnsctl.ops.failover import failover_test
from dnsctl.ops.inventory import apply_inventory
from dnsctl.ops.records import record_add, record_del, record_list
from dnsctl.ops.servers import add_slave, catalog_sync, check, init_primary
from dnsctl.ops.session import Options, Session, open_session
from dnsctl.ops.status import status
from dnsctl.ops.tsig import tsig_rotate

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
