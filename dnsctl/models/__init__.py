"""The TOML inventory: servers, clients and zones, validated once at load.

Every problem is found at once and reported as one line naming the file and the
field's path (``inv.toml: zones."example.com".records[2].value: ...``), in the
order the fields appear in the file. Nothing downstream re-validates: a loaded
``Inventory`` is trusted to be safe to render into named.conf, zone files and
remote commands, and to be accepted by named: every name BIND's check-names
would refuse in a master zone, and every zone BIND would not load, is refused
here first.

values         each field's typed value: its check, keeping only the canonical text
schema         the pydantic models (extra="forbid", frozen, strict) and Inventory's questions
loading        load_inventory / parse_inventory, the only way in: table names, models, then checks
problems       every problem at its field's path, in the file's order; pydantic's errors in words
check_hosts    servers and clients: one host per address, NS names BIND accepts
check_zones    each zone's servers, contact, records and targets; the reverse zones derived
check_keys     TSIG keys shared only by zones of one primary; DNSSEC policies
check_catalog  the catalog's members: one primary, one set of consumers, one key

Callers import from here; the modules are its parts.
"""

from dnsctl.models.loading import load_inventory, parse_inventory
from dnsctl.models.schema import (
    DNSSEC_ALGORITHMS,
    RECORD_TYPES,
    Client,
    DnssecPolicy,
    Inventory,
    Record,
    Server,
    SSHSettings,
    Zone,
)

# Names of the inventory's neighbours that callers take from here with it.
from dnsctl.names import dns_name_text, in_zone
from dnsctl.zonedata import ResolvedRecord, format_path

__all__ = [
    "DNSSEC_ALGORITHMS",
    "RECORD_TYPES",
    "Client",
    "DnssecPolicy",
    "Inventory",
    "Record",
    "ResolvedRecord",
    "SSHSettings",
    "Server",
    "Zone",
    "dns_name_text",
    "format_path",
    "in_zone",
    "load_inventory",
    "parse_inventory",
]
