"""The inventory's models: its tables as pydantic models, and Inventory's questions.

Every model forbids unknown keys, is frozen, and takes TOML's types strictly. What the
file does not say (records resolved, reverse zones derived) is filled in once, at load.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, StringConstraints

from dnsctl.errors import InventoryError
from dnsctl.models.values import (
    TTL,
    AclEntry,
    ConnectionName,
    HostAddress,
    KeyLifetime,
    LocalPath,
    LoginName,
    Mailbox,
    NameServerName,
    Port,
    ReverseNetwork,
    SSHHost,
    TsigSetting,
)
from dnsctl.names import dns_name_text
from dnsctl.reverse import Derived
from dnsctl.zonedata import ResolvedRecord

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "PTR", "SRV", "NS", "CAA", "SSHFP", "TLSA", "DS")


class _Model(BaseModel):
    # strict: TOML has types, so "22" is a string and never silently a port.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, str_strip_whitespace=True)


class SSHSettings(_Model):
    """Defaults for every host; each host may override user, port and key."""

    user: LoginName = "root"
    port: Port = 22
    key: LocalPath | None = None
    known_hosts: LocalPath = "~/.ssh/known_hosts"
    connect_timeout: float = Field(default=10.0, gt=0, le=300)
    command_timeout: float = Field(default=300.0, gt=0, le=3600)


class _Host(_Model):
    address: HostAddress
    ssh_host: SSHHost | None = None
    user: LoginName | None = None
    port: Port | None = None
    key: LocalPath | None = None


class Server(_Host):
    layout: Literal["debian", "rhel"] | None = None
    # The name this server has in NS records; see Inventory.nameserver().
    nameserver: NameServerName | None = None


class Client(_Host):
    connection: ConnectionName | None = None


# Checked inside pydantic's core, without a Python call per record: large zones load fast.
RECORD_TYPE_CONSTRAINTS = StringConstraints(to_upper=True, pattern=f"(?i)^(?:{'|'.join(RECORD_TYPES)})$")


class Record(_Model):
    name: str
    type: Annotated[str, RECORD_TYPE_CONSTRAINTS]
    value: str
    ttl: TTL | None = None


class Zone(_Model):
    primary: str
    secondaries: list[str] = []
    ttl: TTL = 3600
    allow_query: list[AclEntry] = ["any"]
    # SOA RNAME, as an e-mail address or a DNS name; default hostmaster@<zone>.
    contact: Mailbox | None = None
    # Networks whose in-addr.arpa / ip6.arpa zones get a PTR for each of this zone's addresses.
    reverse: list[ReverseNetwork] = []
    records: list[Record] = []
    # Zone transfers signed with a TSIG key: true (a key named after the zone) or a key
    # name that several zones of one primary share.
    tsig: TsigSetting = False
    # DNSSEC: true signs with BIND's built-in "default" policy; a string names a
    # policy in [dnssec_policies] (or "default"); false leaves the zone unsigned.
    dnssec: bool | str = False
    # With a top-level catalog: false keeps this zone out of it (explicit secondary stanzas).
    in_catalog: bool = True


# DNSSEC algorithms dnssec-policy accepts, by the name BIND uses, with their numbers.
DNSSEC_ALGORITHMS = {
    "rsasha256": 8,
    "rsasha512": 10,
    "ecdsap256sha256": 13,
    "ecdsap384sha384": 14,
    "ed25519": 15,
    "ed448": 16,
}
BUILTIN_POLICIES = ("default", "insecure", "none")
_ALGORITHM = StringConstraints(to_lower=True, pattern=f"(?i)^(?:{'|'.join(DNSSEC_ALGORITHMS)})$")
# The fields that take one of a few words, by their pattern: errors list the words.
CHOICES_BY_PATTERN = {
    RECORD_TYPE_CONSTRAINTS.pattern: RECORD_TYPES,
    _ALGORITHM.pattern: tuple(DNSSEC_ALGORITHMS),
}


class DnssecPolicy(_Model):
    """A dnssec-policy of the inventory: algorithm, keys and their lifetimes, NSEC or NSEC3."""

    algorithm: Annotated[str, _ALGORITHM] = "ecdsap256sha256"
    ksk_lifetime: KeyLifetime = "unlimited"  # the KSK's lifetime, or the CSK's without zsk_lifetime
    zsk_lifetime: KeyLifetime | None = None  # a separate ZSK with this lifetime; else one CSK signs all
    nsec3: bool = False  # NSEC3 with RFC 9276's parameters (no extra iterations, no salt)


class Inventory(_Model):
    ssh: SSHSettings = SSHSettings()
    servers: dict[str, Server] = {}
    clients: dict[str, Client] = {}
    # The file's zones, then the reverse zones derived from them that the file does not list.
    zones: dict[str, Zone] = {}
    dnssec_policies: dict[str, DnssecPolicy] = {}
    # A catalog zone (RFC 9432) the primary keeps of its zones, so secondaries learn of
    # new zones by zone transfer; see catalog_members().
    catalog: Annotated[str, AfterValidator(dns_name_text)] | None = None
    # Filled once at load: each zone's records, validated, and the reverse zones derived.
    _resolved: dict[str, list[ResolvedRecord]] = PrivateAttr(default_factory=dict)
    _derived: dict[str, Derived] = PrivateAttr(default_factory=dict)

    def records(self, zone: str) -> list[ResolvedRecord]:
        """The zone's records, validated, with absolute owners and canonical values: the
        file's, then the PTRs derived from the zones whose ``reverse`` networks it covers."""
        return self._resolved[zone]

    def zone(self, name: str) -> Zone:
        key = name.rstrip(".").lower()
        if key not in self.zones:
            known = ", ".join(self.zones) or "none"
            raise InventoryError(f"unknown zone {name!r} (inventory has: {known})")
        return self.zones[key]

    def zone_name(self, name: str) -> str:
        self.zone(name)
        return name.rstrip(".").lower()

    def server(self, name: str) -> Server:
        if name not in self.servers:
            known = ", ".join(self.servers) or "none"
            raise InventoryError(f"unknown server {name!r} (inventory has: {known})")
        return self.servers[name]

    def client(self, name: str) -> Client:
        if name not in self.clients:
            known = ", ".join(self.clients) or "none"
            raise InventoryError(f"unknown client {name!r} (inventory has: {known})")
        return self.clients[name]

    def reverse_zones(self, zone: str) -> list[str]:
        """The reverse zones derived from this zone's addresses (its ``reverse`` networks)."""
        return [name for name, derived in self._derived.items() if zone in derived.forwards]

    def derived_from(self, zone: str) -> list[str]:
        """The zones whose addresses this reverse zone's PTRs are derived from; [] for others."""
        derived = self._derived.get(zone)
        return list(derived.forwards) if derived else []

    def is_generated(self, zone: str) -> bool:
        """Whether the zone exists only by derivation: the inventory file has no table for it."""
        derived = self._derived.get(zone)
        return derived is not None and not derived.listed

    def derived_source(self, zone: str, index: int) -> tuple[Any, ...] | None:
        """The field a derived record of the zone comes from (index as in records()); None if written.

        A zone's derived PTRs follow the records the file gives it.
        """
        derived = self._derived.get(zone)
        index -= len(self.zones[zone].records)
        return derived.sources[index] if derived is not None and index >= 0 else None

    def zones_of(self, server: str) -> list[str]:
        """The zones this server carries, primary or secondary, in inventory order."""
        return [
            name for name, zone in self.zones.items() if zone.primary == server or server in zone.secondaries
        ]

    def tsig_key(self, zone: str) -> str | None:
        """The name of the TSIG key that signs the zone's transfers, or None.

        The catalog's transfers are signed with its members' key (load checks they share one).
        """
        if zone == self.catalog and zone not in self.zones:
            members = self.catalog_members()
            return self.tsig_key(members[0]) if members else None
        setting = self.zones[zone].tsig
        if setting is True:
            return zone
        return setting or None

    def primary_of(self, zone: str) -> str:
        """The server that is the zone's primary; the catalog's is its members'."""
        if zone == self.catalog and zone not in self.zones:
            primary = self.catalog_primary()
            assert primary is not None, "a catalog without members has no primary"
            return primary
        return self.zones[zone].primary

    def catalog_members(self) -> list[str]:
        """The zones the catalog lists: every zone with secondaries, but those with in_catalog = false.

        Load checks that they share one primary (the catalog's) and one set of secondaries
        (its consumers), since every consumer serves every member.
        """
        if self.catalog is None:
            return []
        return [name for name, zone in self.zones.items() if zone.secondaries and zone.in_catalog]

    def catalog_primary(self) -> str | None:
        members = self.catalog_members()
        return self.zones[members[0]].primary if members else None

    def catalog_consumers(self) -> list[str]:
        members = self.catalog_members()
        return list(self.zones[members[0]].secondaries) if members else []

    def signing_policy(self, zone: str) -> str | None:
        """The dnssec-policy that signs the zone, or None when it is not signed."""
        setting = self.zones[zone].dnssec
        if setting is True:
            return "default"
        return setting or None

    def nameserver(self, server: str) -> str:
        """The server's name in NS records, lower case.

        Explicit ``nameserver`` wins; otherwise ``<server>.<first forward zone it
        carries>``, so a reverse zone's NS points at the same name as the forward
        zone's, where its glue address lives.
        """
        configured = self.servers[server].nameserver
        if configured:
            return configured
        # Stops at the first forward zone: every zone file's NS set asks this of each of its
        # servers, and a list of all zones carried made rendering thousands of zones quadratic.
        first_carried = None
        for name, zone in self.zones.items():
            if zone.primary == server or server in zone.secondaries:
                if not name.endswith(".arpa"):
                    return f"{server}.{name}".lower()
                first_carried = first_carried or name
        return f"{server}.{first_carried or 'invalid'}".lower()


def model_at(loc: tuple[Any, ...]) -> type[_Model] | None:
    """The model whose field loc names (loc without its last part)."""
    shapes: dict[tuple[Any, ...], type[_Model]] = {
        (): Inventory,
        ("ssh",): SSHSettings,
        ("servers", "*"): Server,
        ("clients", "*"): Client,
        ("zones", "*"): Zone,
        ("zones", "*", "records", "#"): Record,
        ("dnssec_policies", "*"): DnssecPolicy,
    }
    shape = tuple("#" if isinstance(part, int) else "*" if i % 2 else part for i, part in enumerate(loc))
    return shapes.get(shape)
