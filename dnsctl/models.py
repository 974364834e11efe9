"""The TOML inventory: servers, clients and zones, validated once at load.

Every error found here names the field's path (``zones."example.com".records[2].value``)
so the administrator can go straight to the line. Nothing downstream re-validates:
a loaded ``Inventory`` is trusted to be safe to render into named.conf, zone files
and remote shell commands.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from dnsctl.errors import InventoryError

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "PTR", "SRV", "NS")
ACL_KEYWORDS = ("any", "none", "localhost", "localnets")

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
_HOST_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# Everything a non-TXT record value may contain: names, numbers, addresses.
# Zone-file syntax characters (; ( ) " $ @ \) are excluded so a value can never
# smuggle a comment, a directive or a second record into the rendered zone.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._:*\- ]+$")
# NetworkManager connection names are free text; we only refuse control characters.
_CONNECTION = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


def dns_name_text(value: str, *, allow_wildcard: bool = False) -> str:
    """Check a DNS name in presentation form; return it lower-cased without the final dot."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty DNS name")
    text = value[:-1] if value.endswith(".") and value != "." else value
    if len(text) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    labels = text.split(".")
    for index, label in enumerate(labels):
        if allow_wildcard and index == 0 and label == "*":
            continue
        if not _LABEL.match(label):
            if len(label) > 63:
                raise ValueError(f"{value!r} has a label longer than 63 characters")
            raise ValueError(f"{value!r} is not a valid DNS name")
    return text.lower()


def _ip(value: Any) -> str:
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _acl_entry(value: Any) -> str:
    text = str(value).strip()
    if text in ACL_KEYWORDS:
        return text
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an address, a network or one of {', '.join(ACL_KEYWORDS)}"
        ) from None


IPAddress = Annotated[str, BeforeValidator(_ip)]
AclEntry = Annotated[str, BeforeValidator(_acl_entry)]
TTL = Annotated[int, Field(ge=0, le=2_147_483_647)]
Port = Annotated[int, Field(ge=1, le=65535)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class SSHSettings(_Model):
    """Defaults for every host; each host may override user, port and key."""

    user: str = Field(default="root", pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")
    port: Port = 22
    key: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    connect_timeout: float = Field(default=10.0, gt=0, le=300)
    command_timeout: float = Field(default=300.0, gt=0, le=3600)


class _Host(_Model):
    address: IPAddress
    ssh_host: str | None = Field(default=None, pattern=r"^[A-Za-z0-9.:_-]{1,253}$")
    user: str | None = Field(default=None, pattern=r"^[a-z_][a-z0-9_.-]{0,31}$")
    port: Port | None = None
    key: str | None = None


class Server(_Host):
    layout: Literal["debian", "rhel"] | None = None
    # The name this server has in NS records; see Inventory.nameserver().
    nameserver: str | None = None

    @field_validator("nameserver")
    @classmethod
    def _nameserver(cls, value: str | None) -> str | None:
        return None if value is None else dns_name_text(value)


class Client(_Host):
    connection: str | None = Field(default=None, pattern=_CONNECTION.pattern)


class Record(_Model):
    name: str
    type: Literal[RECORD_TYPES]  # type: ignore[valid-type]
    value: str
    ttl: TTL | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class Zone(_Model):
    primary: str
    secondaries: list[str] = []
    ttl: TTL = 3600
    allow_query: list[AclEntry] = ["any"]
    # SOA RNAME, as an e-mail address or a DNS name; default hostmaster@<zone>.
    contact: str | None = None
    records: list[Record] = []

    @field_validator("contact")
    @classmethod
    def _contact(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "@" in value:
            local, _, domain = value.partition("@")
            if "." in local:
                raise ValueError("the part before @ cannot contain a dot in an SOA contact")
            return dns_name_text(f"{local}.{domain}")
        return dns_name_text(value)


@dataclass(frozen=True)
class ResolvedRecord:
    """A validated record: absolute owner (lower case, no final dot) and canonical value.

    The value is presentation text with absolute names, as dnspython shows an answer,
    so verification compares strings and rendering writes them as they are.
    """

    owner: str
    type: str
    value: str
    ttl: int | None


class Inventory(_Model):
    ssh: SSHSettings = SSHSettings()
    servers: dict[str, Server] = {}
    clients: dict[str, Client] = {}
    zones: dict[str, Zone] = {}
    # Filled once at load by _check_references: each zone's records, validated.
    _resolved: dict[str, list[ResolvedRecord]] = PrivateAttr(default_factory=dict)

    def records(self, zone: str) -> list[ResolvedRecord]:
        """The zone's records, validated, with absolute owners and canonical values."""
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

    def zones_of(self, server: str) -> list[str]:
        """The zones this server carries, primary or secondary, in inventory order."""
        return [
            name for name, zone in self.zones.items() if zone.primary == server or server in zone.secondaries
        ]

    def nameserver(self, server: str) -> str:
        """The server's name in NS records.

        Explicit ``nameserver`` wins; otherwise ``<server>.<first forward zone it
        carries>``, so a reverse zone's NS points at the same name as the forward
        zone's, where its glue address lives.
        """
        configured = self.servers[server].nameserver
        if configured:
            return configured
        carried = self.zones_of(server)
        forward = [zone for zone in carried if not zone.endswith(".arpa")]
        return f"{server}.{(forward or carried or ['invalid'])[0]}"


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate the inventory, or raise InventoryError naming the field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(f"{path}: inventory file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read inventory: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(f"{path}: not valid TOML: {exc}") from None
    return parse_inventory(raw, source=str(path))


def parse_inventory(raw: dict[str, Any], source: str = "inventory") -> Inventory:
    _check_keys(raw)
    try:
        inventory = Inventory.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InventoryError(f"{source}: {format_path(first['loc'])}: {_clean(first['msg'])}") from None
    try:
        _check_references(inventory)
    except _FieldError as exc:
        raise InventoryError(f"{source}: {exc.path}: {exc.message}") from None
    return inventory


class _FieldError(Exception):
    def __init__(self, path: tuple[Any, ...], message: str) -> None:
        super().__init__(message)
        self.path = format_path(path)
        self.message = message


def format_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('zones', 'ex;ample', 'records', 2, 'value') -> zones."ex;ample".records[2].value"""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z0-9_-]+", str(part)):
            text += f".{part}" if text else str(part)
        else:
            quoted = str(part).replace("\\", "\\\\").replace('"', '\\"')
            text += f'."{quoted}"' if text else f'"{quoted}"'
    return text or "(top level)"


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


def _check_keys(raw: dict[str, Any]) -> None:
    """Table names are identifiers that end up in config and commands: check them first."""
    if not isinstance(raw, dict):
        return
    for section, check in (("servers", _HOST_KEY), ("clients", _HOST_KEY)):
        table = raw.get(section)
        if isinstance(table, dict):
            for key in table:
                if not check.match(key):
                    raise InventoryError(
                        f"{format_path((section, key))}: name must be letters, digits, "
                        "'-' or '_' (at most 63)"
                    )
    zones = raw.get("zones")
    if isinstance(zones, dict):
        for key in list(zones):
            try:
                canonical = dns_name_text(key)
            except ValueError as exc:
                raise InventoryError(f"{format_path(('zones', key))}: {exc}") from None
            if canonical != key:
                if canonical in zones:
                    raise InventoryError(f"{format_path(('zones', key))}: zone listed twice")
                zones[canonical] = zones.pop(key)


def _check_references(inventory: Inventory) -> None:
    hosts: dict[str, tuple[str, ...]] = {}
    for section, table in (("servers", inventory.servers), ("clients", inventory.clients)):
        for name, host in table.items():
            if name in {key[1] for key in hosts.values()}:
                raise _FieldError((section, name), "name used for both a server and a client")
            if host.address in hosts:
                other = format_path(hosts[host.address])
                raise _FieldError((section, name, "address"), f"{host.address} is already used by {other}")
            hosts[host.address] = (section, name)

    for zone_name, zone in inventory.zones.items():
        where = ("zones", zone_name)
        if zone.primary not in inventory.servers:
            raise _FieldError((*where, "primary"), f"unknown server {zone.primary!r}")
        seen: set[str] = set()
        for index, secondary in enumerate(zone.secondaries):
            if secondary not in inventory.servers:
                raise _FieldError((*where, "secondaries", index), f"unknown server {secondary!r}")
            if secondary == zone.primary:
                raise _FieldError(
                    (*where, "secondaries", index),
                    f"{secondary!r} is already the zone's primary",
                )
            if secondary in seen:
                raise _FieldError((*where, "secondaries", index), f"{secondary!r} listed twice")
            seen.add(secondary)
        inventory._resolved[zone_name] = _check_records(inventory, zone_name, zone)


def _check_records(inventory: Inventory, zone_name: str, zone: Zone) -> list[ResolvedRecord]:
    types_at: dict[str, set[str]] = {zone_name: {"SOA", "NS"}}
    first_index: dict[str, int] = {}
    seen: set[tuple[str, str, str]] = set()
    resolved = []
    for index, record in enumerate(zone.records):
        path = ("zones", zone_name, "records", index)
        owner = _record_owner(record.name, zone_name, path)
        value = _record_value(record, zone_name, path)
        key = (owner, record.type, value)
        if key in seen:
            raise _FieldError(path, f"duplicate record {record.name} {record.type} {record.value}")
        seen.add(key)
        types = types_at.setdefault(owner, set())
        if (record.type == "CNAME" and types) or ("CNAME" in types):
            raise _FieldError(
                (*path, "name"), f"CNAME at {owner}. cannot stand beside other data at the same name"
            )
        types.add(record.type)
        first_index.setdefault(owner, index)
        resolved.append(ResolvedRecord(owner, record.type, value, record.ttl))

    for server in (zone.primary, *zone.secondaries):
        ns_name = inventory.nameserver(server)
        if "CNAME" in types_at.get(ns_name, set()):
            raise _FieldError(
                ("zones", zone_name, "records", first_index[ns_name], "name"),
                f"{ns_name}. is the name server {server!r} and cannot be a CNAME",
            )
    return resolved


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _record_owner(name: str, zone: str, path: tuple[Any, ...]) -> str:
    """The absolute owner name of a record name ("@", relative, or absolute with a dot)."""
    if name == "@":
        return zone
    try:
        owner = dns_name_text(name if name.endswith(".") else f"{name}.{zone}", allow_wildcard=True)
    except ValueError as exc:
        raise _FieldError((*path, "name"), str(exc)) from None
    if not in_zone(owner, zone):
        raise _FieldError((*path, "name"), f"{name!r} is outside the zone {zone}")
    return owner


def _record_value(record: Record, zone: str, path: tuple[Any, ...]) -> str:
    """Parse a record's value the way named will; return its canonical text."""
    if record.type == "A":
        try:  # the C parser: ten times faster than ipaddress on large zones
            return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, record.value))
        except OSError:
            raise _FieldError((*path, "value"), f"{record.value!r} is not an IPv4 address") from None
    if record.type == "TXT":
        if not record.value or not re.fullmatch(r"[^\x00-\x1f\x7f]*", record.value):
            raise _FieldError((*path, "value"), "TXT text must be non-empty, without control characters")
        return txt_presentation(record.value)
    if not _SAFE_VALUE.match(record.value):
        raise _FieldError(
            (*path, "value"),
            f"{record.value!r} is not a valid {record.type} value "
            "(letters, digits, '.', '-', '_', ':', '*' and spaces only)",
        )
    origin = dns.name.from_text(zone)
    try:
        rdata = dns.rdata.from_text(
            dns.rdataclass.IN, dns.rdatatype.from_text(record.type), record.value, origin=origin
        )
    except (dns.exception.DNSException, ValueError) as exc:
        reason = str(exc) or exc.__class__.__name__
        raise _FieldError(
            (*path, "value"), f"{record.value!r} is not a valid {record.type} value: {reason}"
        ) from None
    for target in _names_in(rdata):
        try:
            dns_name_text(target.derelativize(origin).to_text(), allow_wildcard=False)
        except ValueError as exc:
            raise _FieldError((*path, "value"), str(exc)) from None
    return rdata.to_text(origin=origin, relativize=False)


def _names_in(rdata: dns.rdata.Rdata) -> list[dns.name.Name]:
    names = []
    for attribute in ("target", "exchange"):
        value = getattr(rdata, attribute, None)
        if isinstance(value, dns.name.Name) and value != dns.name.root:
            names.append(value)
    return names


def txt_presentation(text: str) -> str:
    """Quote free text as TXT character-strings of at most 255 octets each."""
    data = text.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)]
    return " ".join('"' + "".join(_txt_char(byte) for byte in chunk) + '"' for chunk in chunks)


def _txt_char(byte: int) -> str:
    if byte in (0x22, 0x5C):  # " and \
        return "\\" + chr(byte)
    if 0x20 <= byte < 0x7F:
        return chr(byte)
    return f"\\{byte:03d}"
