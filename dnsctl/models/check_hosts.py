"""Servers and clients across the inventory: one host per address, NS names BIND accepts."""

from __future__ import annotations

from dnsctl.models.problems import Problems
from dnsctl.models.schema import Inventory
from dnsctl.names import HOST_NAME_RULE, is_host_name
from dnsctl.zonedata import format_path


def check_hosts(inventory: Inventory, problems: Problems) -> None:
    owners: dict[str, tuple[str, str]] = {}
    for section, table in (("servers", inventory.servers), ("clients", inventory.clients)):
        for name, host in table.items():
            other = owners.setdefault(host.address, (section, name))
            if other != (section, name):
                problems.add(
                    (section, name, "address"), f"{host.address} is already used by {format_path(other)}"
                )

    carrying = {server for zone in inventory.zones.values() for server in (zone.primary, *zone.secondaries)}
    for name, server in inventory.servers.items():
        if server.nameserver is None and name in carrying:
            ns_name = inventory.nameserver(name)
            if len(ns_name) > 253 or not is_host_name(ns_name):
                problems.add(
                    ("servers", name),
                    f"its NS name {ns_name} (<server>.<first forward zone>) is not a host name "
                    f"({HOST_NAME_RULE}), which BIND requires in NS and SOA records: set nameserver",
                )
