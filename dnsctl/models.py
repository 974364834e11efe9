"""The TOML inventory: servers, clients and zones, validated once at load.

Every problem is found at once and reported as one line naming the file and the
field's path (``inv.toml: zones."example.com".records[2].value: ...``), in the
order the fields appear in the file. Nothing downstream re-validates: a loaded
``Inventory`` is trusted to be safe to render into named.conf, zone files and
remote commands, and to be accepted by named: every name BIND's check-names
would refuse in a master zone, and every zone BIND would not load, is refused
here first.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

# tomllib's own code, compiled: half the time on a 100,000-record inventory (1.04 -> 0.53 s).
import tomli
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
)

from dnsctl.errors import InventoryError
from dnsctl.names import HOST_NAME_RULE, dns_name_text, is_host_name
from dnsctl.names import in_zone as in_zone  # render and ops.failover import it from here
from dnsctl.reverse import Address, Derived, Forward, Written, ZoneServers, derive, reverse_network
from dnsctl.zonedata import ResolvedRecord, ZoneIndex, ZoneServer, check_targets, check_zone
from dnsctl.zonedata import format_path as format_path  # tests and messages import it from here

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "PTR", "SRV", "NS", "CAA", "SSHFP", "TLSA", "DS")
ACL_KEYWORDS = ("any", "none", "localhost", "localnets")
SHOWN_PROBLEMS = 50

# --- typed values: each stores only its canonical text -------------------------------


def _no_scope(text: str) -> None:
    if "%" in text:
        raise ValueError(f"{text!r}: scoped IPv6 addresses (with '%') are not accepted")


def _host_address(text: str) -> str:
    _no_scope(text)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    if address.is_unspecified or address.is_multicast or text == "255.255.255.255":
        raise ValueError(f"{text!r} is not the unicast address of a host")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        raise ValueError(f"{text!r} is an IPv4-mapped address: write {address.ipv4_mapped}")
    return address.compressed


def _acl_entry(text: str) -> str:
    if text in ACL_KEYWORDS:
        return text
    _no_scope(text)
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False).compressed
        return ipaddress.ip_address(text).compressed
    except ValueError:
        raise ValueError(
            f"{text!r} is not an address, a network or one of {', '.join(ACL_KEYWORDS)}"
        ) from None


_LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


def _login_name(text: str) -> str:
    if not _LOGIN.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a login name (lower-case letters, digits, '_', '.', '-', "
            "starting with a letter or '_', at most 32)"
        )
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _local_path(text: str) -> str:
    if not text or len(text) > 4096 or _CONTROL.search(text):
        raise ValueError("must be a file path of 1 to 4096 characters without control characters")
    return text


def _ssh_host(text: str) -> str:
    """Where SSH connects: an IP address (canonical) or a host name (as written)."""
    _no_scope(text)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return _host_address(text)
    try:
        dns_name_text(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an IP address nor a host name") from None
    return text.rstrip(".")


# nmcli reads these words in front of a connection name as selectors.
_NMCLI_WORDS = frozenset(("id", "uuid", "path", "apath", "help"))


def _connection_name(text: str) -> str:
    if not text or len(text) > 255 or _CONTROL.search(text):
        raise ValueError(
            "must be a NetworkManager connection name of 1 to 255 characters, no control characters"
        )
    if text.startswith("-") or text in _NMCLI_WORDS:
        raise ValueError(
            f"{text!r} would be read by nmcli as an option or a keyword, not as a connection name"
        )
    return text


def _mailbox(text: str) -> str:
    """An SOA contact, as an e-mail address or a DNS name, as BIND's mailbox check wants it."""
    if "@" in text:
        local, _, domain = text.partition("@")
        if "." in local:
            raise ValueError("the part before @ cannot contain a dot in an SOA contact")
        text = f"{local}.{domain}"
    name = dns_name_text(text)
    domain = name.partition(".")[2]
    if not domain or not is_host_name(domain):
        raise ValueError(
            f"{text!r}: the mail domain of an SOA contact must be a host name ({HOST_NAME_RULE})"
        )
    return name


def _name_server_name(text: str) -> str:
    name = dns_name_text(text)
    if not is_host_name(name):
        raise ValueError(f"{text!r} is not a host name ({HOST_NAME_RULE}), which BIND requires in NS records")
    return name


# A key generation's name is the key's name plus "." and a 14-digit time stamp.
_GENERATION_SUFFIX = 15


def _tsig_key_name(value: Any) -> bool | str:
    """`tsig`: true (a key named after the zone), false, or the name of a key zones may share."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be true, false or the name of a key, not {_shown(value)}")
    name = dns_name_text(value)
    if len(name) > 253 - _GENERATION_SUFFIX:
        raise ValueError(
            f"{value!r} is longer than {253 - _GENERATION_SUFFIX} characters, "
            "which leaves no room for the generation dnsctl appends"
        )
    return name


# An ISO 8601 duration as dnssec-policy takes it: P90D, P1Y, PT12H.
_DURATION = re.compile(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


def _key_lifetime(text: str) -> str:
    if text == "unlimited":
        return text
    if not _DURATION.fullmatch(text.upper()):
        raise ValueError(f"{text!r} is not a duration like P90D, P1Y, PT12H, or unlimited")
    return text.upper()


HostAddress = Annotated[str, AfterValidator(_host_address)]
AclEntry = Annotated[str, AfterValidator(_acl_entry)]
ReverseNetwork = Annotated[str, AfterValidator(reverse_network)]
LoginName = Annotated[str, AfterValidator(_login_name)]
LocalPath = Annotated[str, AfterValidator(_local_path)]
TTL = Annotated[int, Field(ge=0, le=2_147_483_647)]
Port = Annotated[int, Field(ge=1, le=65535)]


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
    ssh_host: Annotated[str, AfterValidator(_ssh_host)] | None = None
    user: LoginName | None = None
    port: Port | None = None
    key: LocalPath | None = None


class Server(_Host):
    layout: Literal["debian", "rhel"] | None = None
    # The name this server has in NS records; see Inventory.nameserver().
    nameserver: Annotated[str, AfterValidator(_name_server_name)] | None = None


class Client(_Host):
    connection: Annotated[str, AfterValidator(_connection_name)] | None = None


# Checked inside pydantic's core, without a Python call per record: large zones load fast.
_RECORD_TYPE = StringConstraints(to_upper=True, pattern=f"(?i)^(?:{'|'.join(RECORD_TYPES)})$")


class Record(_Model):
    name: str
    type: Annotated[str, _RECORD_TYPE]
    value: str
    ttl: TTL | None = None


class Zone(_Model):
    primary: str
    secondaries: list[str] = []
    ttl: TTL = 3600
    allow_query: list[AclEntry] = ["any"]
    # SOA RNAME, as an e-mail address or a DNS name; default hostmaster@<zone>.
    contact: Annotated[str, AfterValidator(_mailbox)] | None = None
    # Networks whose in-addr.arpa / ip6.arpa zones get a PTR for each of this zone's addresses.
    reverse: list[ReverseNetwork] = []
    records: list[Record] = []
    # Zone transfers signed with a TSIG key: true (a key named after the zone) or a key
    # name that several zones of one primary share.
    tsig: Annotated[Any, AfterValidator(_tsig_key_name)] = False
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
KeyLifetime = Annotated[str, AfterValidator(_key_lifetime)]


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
        carried = self.zones_of(server)
        forward = [zone for zone in carried if not zone.endswith(".arpa")]
        return f"{server}.{(forward or carried or ['invalid'])[0]}".lower()


# --- loading ------------------------------------------------------------------------


def load_inventory(path: str | Path) -> Inventory:
    """Read and validate the inventory, or raise InventoryError naming every problem."""
    path = Path(path)
    try:
        raw = tomli.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(f"{path}: inventory file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read inventory: {exc}") from None
    except tomli.TOMLDecodeError as exc:
        raise InventoryError(f"{path}: not valid TOML: {exc}") from None
    return parse_inventory(raw, source=str(path))


def parse_inventory(raw: dict[str, Any], source: str = "inventory") -> Inventory:
    """Validate a parsed inventory; raise InventoryError with every problem, one per line."""
    problems = _Problems(source)
    if isinstance(raw, dict) and not raw.get("servers") and not raw.get("zones"):
        problems.add(
            (), "the inventory is empty: it has no servers and no zones (see inventory.example.toml)"
        )
    canonical = _checked_keys(raw, problems)
    try:
        inventory = Inventory.model_validate(canonical)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for error in errors:
            problems.add(error["loc"], _describe(error))
        # Check the rest too, so one run shows every problem.
        part, record_indexes, unchecked = _valid_part(canonical, errors)
        if part is not None:
            _check_semantics(part, problems, record_indexes, unchecked)
        problems.raise_all(raw)
    _check_semantics(inventory, problems, {}, set())
    if problems.found:
        problems.raise_all(raw)
    return inventory


def _check_semantics(
    inventory: Inventory,
    problems: _Problems,
    record_indexes: dict[str, list[int]],
    unchecked: set[tuple[str, ...]],
) -> None:
    _check_hosts(inventory, problems)
    _check_zones(inventory, problems, record_indexes, unchecked)
    _check_tsig(inventory, problems)
    _check_dnssec(inventory, problems, unchecked)
    _check_catalog(inventory, problems)


@dataclass
class _Problems:
    """Every problem found, each at its field's path; reported in the file's order."""

    source: str
    found: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)
    # The key as written in the file, for zone keys dnsctl normalised.
    written_zone_key: dict[str, str] = field(default_factory=dict)

    def add(self, loc: tuple[Any, ...] | list[Any], message: str) -> None:
        self.found.append((tuple(loc), message))

    def raise_all(self, raw: Any) -> NoReturn:
        """Raise InventoryError with every problem, in the order of the file as written."""
        order = _FileOrder(raw if isinstance(raw, dict) else {})
        written = sorted(
            ((self._as_written(loc), message) for loc, message in self.found), key=lambda p: order.key(p[0])
        )
        lines = [
            f"{self.source}: {format_path(loc)}: {message}" if loc else f"{self.source}: {message}"
            for loc, message in written
        ]
        shown = lines[:SHOWN_PROBLEMS]
        if len(lines) > SHOWN_PROBLEMS:
            shown.append(f"{self.source}: ... and {len(lines) - SHOWN_PROBLEMS} more problems")
        raise InventoryError("\n".join(shown), problems=lines)

    def _as_written(self, loc: tuple[Any, ...]) -> tuple[Any, ...]:
        if len(loc) > 1 and loc[0] == "zones":
            return ("zones", self.written_zone_key.get(loc[1], loc[1]), *loc[2:])
        return loc


class _FileOrder:
    """Sort key of a field path: the position of each of its parts in the inventory."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.positions: dict[int, dict[str, int]] = {}

    def key(self, loc: tuple[Any, ...]) -> tuple[int, ...]:
        node: Any = self.raw
        key = []
        for part in loc:
            if isinstance(node, dict):
                positions = self.positions.setdefault(id(node), {name: i for i, name in enumerate(node)})
                key.append(positions.get(part, len(positions)))
                node = node.get(part)
            elif isinstance(node, list) and isinstance(part, int):
                key.append(part)
                node = node[part] if part < len(node) else None
            else:
                key.append(0)
                node = None
        return tuple(key)


_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (str, "a string"),
    (int, "an integer"),
    (float, "a float"),
    (list, "an array"),
    (dict, "a table"),
)
_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "an array",
    "dict_type": "a table",
    "model_type": "a table",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _describe(error: dict[str, Any]) -> str:
    """One pydantic error as an administrator reads it: what is wanted, what was given."""
    kind, given = error["type"], error.get("input")
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {_shown(given)}"
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"])
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}, not {_shown(given)}"
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] == _RECORD_TYPE.pattern:
        return f"must be one of {', '.join(RECORD_TYPES)}, not {_shown(given)}"
    if kind in _BOUNDS:
        limit = next(iter(error["ctx"].values()))
        return f"must be {_BOUNDS[kind]} {limit}, not {given!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{error['msg']}, not {_shown(given)}"


def _shown(value: Any) -> str:
    kind = next((name for python, name in _TOML_TYPES if isinstance(value, python)), "a date or time")
    if isinstance(value, (dict, list)):
        return kind
    return f"{kind} {value!r}" if isinstance(value, str) else f"{kind} ({value!r})"


def _model_at(loc: tuple[Any, ...]) -> type[_Model] | None:
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


def _unknown_key(loc: tuple[Any, ...]) -> str:
    model = _model_at(tuple(loc[:-1]))
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key ({hint}allowed: {', '.join(allowed)})"


_HOST_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def _checked_keys(raw: Any, problems: _Problems) -> dict[str, Any]:
    """Table names end up in config and commands: check them; return raw with canonical zone keys.

    The caller's dict is not changed; zones keep their order (it decides default NS names).
    """
    if not isinstance(raw, dict):
        problems.add((), "the inventory must be a TOML table")
        return {}
    raw = dict(raw)
    seen_hosts: dict[str, tuple[str, str]] = {}
    for section in ("servers", "clients"):
        table = raw.get(section)
        if not isinstance(table, dict):
            continue
        for key in table:
            if not _HOST_KEY.fullmatch(key):
                problems.add(
                    (section, key),
                    "name must be letters, digits, '-' or '_' (at most 63), starting with a letter or digit",
                )
            other = seen_hosts.setdefault(key.lower(), (section, key))
            if other != (section, key):
                problems.add((section, key), f"same name as {format_path(other)} (host names ignore case)")
    zones = raw.get("zones")
    if isinstance(zones, dict):
        canonical_zones: dict[str, Any] = {}
        for key, body in zones.items():
            try:
                canonical = dns_name_text(key)
            except ValueError as exc:
                problems.add(("zones", key), str(exc))
                continue
            if canonical in canonical_zones:
                first = problems.written_zone_key.get(canonical, canonical)
                problems.add(("zones", key), f"zone listed twice (also as {format_path(('zones', first))})")
                continue
            problems.written_zone_key[canonical] = key
            canonical_zones[canonical] = body
        raw["zones"] = canonical_zones
    return raw


def _valid_part(
    raw: dict[str, Any], errors: list[dict[str, Any]]
) -> tuple[Inventory | None, dict[str, list[int]], set[tuple[str, ...]]]:
    """The inventory without what pydantic refused, so the remaining checks still run on the rest.

    Returns it (None if even that fails), the original index of each kept record per
    zone, and what was dropped: a host or zone (section, name), or a section (section,),
    whose references must not be reported as unknown. A zone with a bad reverse network
    is checked without its reverse zones.
    """
    dropped: set[tuple[str, ...]] = set()
    bad_records: dict[str, set[int]] = {}
    bad_reverse: set[str] = set()
    for error in errors:
        loc = error["loc"]
        if len(loc) >= 4 and loc[0] == "zones" and loc[2] == "records" and isinstance(loc[3], int):
            bad_records.setdefault(loc[1], set()).add(loc[3])
        elif len(loc) >= 3 and loc[0] == "zones" and loc[2] == "reverse":
            bad_reverse.add(loc[1])
        elif len(loc) >= 2 and loc[0] in ("servers", "clients", "zones"):
            dropped.add((loc[0], loc[1]))
        elif loc:
            dropped.add((loc[0],))
    pruned: dict[str, Any] = {key: value for key, value in raw.items() if (key,) not in dropped}
    for section in ("servers", "clients", "zones"):
        if isinstance(pruned.get(section), dict):
            pruned[section] = {
                name: body for name, body in pruned[section].items() if (section, name) not in dropped
            }
    for zone_name in bad_reverse:
        if zone_name in pruned.get("zones", {}):
            pruned["zones"][zone_name] = {
                key: value for key, value in pruned["zones"][zone_name].items() if key != "reverse"
            }
    record_indexes: dict[str, list[int]] = {}
    for zone_name, bad in bad_records.items():
        if zone_name not in pruned.get("zones", {}):
            continue
        body = dict(pruned["zones"][zone_name])
        records = body["records"]
        record_indexes[zone_name] = [i for i in range(len(records)) if i not in bad]
        body["records"] = [records[i] for i in record_indexes[zone_name]]
        pruned["zones"][zone_name] = body
    try:
        return Inventory.model_validate(pruned), record_indexes, dropped
    except ValidationError:
        return None, {}, dropped


# --- servers, clients and their references -------------------------------------------


def _check_hosts(inventory: Inventory, problems: _Problems) -> None:
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


def _check_zones(
    inventory: Inventory,
    problems: _Problems,
    record_indexes: dict[str, list[int]],
    unchecked: set[tuple[str, ...]],
) -> None:
    def known_server(name: str) -> bool:
        return name in inventory.servers or ("servers", name) in unchecked or ("servers",) in unchecked

    indexes: dict[str, ZoneIndex] = {}
    for zone_name, zone in inventory.zones.items():
        where = ("zones", zone_name)
        if not known_server(zone.primary):
            problems.add((*where, "primary"), f"unknown server {zone.primary!r}")
        seen: set[str] = set()
        for index, secondary in enumerate(zone.secondaries):
            if not known_server(secondary):
                problems.add((*where, "secondaries", index), f"unknown server {secondary!r}")
            elif secondary == zone.primary:
                problems.add((*where, "secondaries", index), f"{secondary!r} is already the zone's primary")
            elif secondary in seen:
                problems.add((*where, "secondaries", index), f"{secondary!r} listed twice")
            seen.add(secondary)
        if zone.contact is None and (len(zone_name) > 242 or not is_host_name(zone_name)):
            problems.add(
                where,
                f"the default SOA contact hostmaster.{zone_name} is not a mailbox BIND accepts "
                f"(the zone name must be a host name of at most 242 characters: {HOST_NAME_RULE}): "
                "set contact",
            )
        positions = record_indexes.get(zone_name, range(len(zone.records)))
        servers = [
            ZoneServer(name, inventory.nameserver(name), inventory.servers[name].address, path)
            for name, path in _server_fields(zone_name, zone)
            if name in inventory.servers
        ]
        indexes[zone_name] = check_zone(zone_name, zone.records, positions, zone.ttl, servers, problems.add)
        inventory._resolved[zone_name] = indexes[zone_name].resolved
    carried = {name for zone in inventory.zones.values() for name in (zone.primary, *zone.secondaries)}
    ns_names = {name: inventory.nameserver(name) for name in inventory.servers if name in carried}
    check_targets(indexes, ns_names, problems.add)
    _add_reverse_zones(inventory, indexes, problems)


def _add_reverse_zones(inventory: Inventory, indexes: dict[str, ZoneIndex], problems: _Problems) -> None:
    """Derive the zones' reverse zones and add them to the inventory as ordinary zones.

    A derived PTR is one of its zone's records() but never in Zone.records, which
    holds what the file says. A reverse zone the file also lists keeps its settings
    and its own records, the derived PTRs after them; one it does not list takes its
    settings from the first zone deriving it.
    """
    forwards = [
        Forward(name, zone.reverse, _zone_servers(zone), _addresses(inventory, name, indexes[name]))
        for name, zone in inventory.zones.items()
        if zone.reverse and name in indexes
    ]
    if not forwards:
        return
    written = {name: Written(_zone_servers(zone), indexes[name]) for name, zone in inventory.zones.items()}
    for name, derived in derive(forwards, written, problems.add).items():
        if derived.listed:
            inventory._resolved[name] = [*inventory._resolved[name], *derived.records]
        else:
            first = inventory.zones[derived.forwards[0]]
            inventory.zones[name] = Zone.model_construct(
                primary=first.primary,
                secondaries=list(first.secondaries),
                ttl=first.ttl,
                allow_query=list(first.allow_query),
                contact=first.contact or f"hostmaster.{derived.forwards[0]}",
                # Its transfers are signed as its zone's are, with the same key.
                tsig=inventory.tsig_key(derived.forwards[0]) or False,
                in_catalog=first.in_catalog,  # and in or out of the catalog with it
            )
            inventory._resolved[name] = derived.records
        inventory._derived[name] = derived


def _zone_servers(zone: Zone) -> ZoneServers:
    return ZoneServers(zone.primary, tuple(zone.secondaries))


def _addresses(inventory: Inventory, zone_name: str, index: ZoneIndex) -> list[Address]:
    """The zone's A and AAAA data as served: the glue dnsctl adds for its name servers, then
    its records."""
    zone = inventory.zones[zone_name]
    addresses = [
        Address(ns_name, address, None, ("servers", server, "address"))
        for server in dict.fromkeys((zone.primary, *zone.secondaries))
        if server in inventory.servers
        and (ns_name := inventory.nameserver(server)) in index.glue
        and index.glue[ns_name] == (address := inventory.servers[server].address)
        and not index.has_address_record(ns_name)
    ]
    addresses += [
        Address(record.owner, record.value, record.ttl, ("zones", zone_name, "records", position, "value"))
        for record, position in zip(index.resolved, index.positions, strict=True)
        if record.type in ("A", "AAAA")
    ]
    return addresses


def _check_tsig(inventory: Inventory, problems: _Problems) -> None:
    """A key is made on its zones' primary and accepted there: zones sharing one share that primary."""
    first: dict[str, str] = {}
    for zone_name, zone in inventory.zones.items():
        key = inventory.tsig_key(zone_name)
        if key is None:
            continue
        other = first.setdefault(key, zone_name)
        if inventory.zones[other].primary != zone.primary:
            problems.add(
                ("zones", zone_name, "tsig"),
                f"key {key!r} is also the key of zone {other}, whose primary is "
                f"{inventory.zones[other].primary}: zones sharing a key must share their primary",
            )


def _check_dnssec(inventory: Inventory, problems: _Problems, unchecked: set[tuple[str, ...]]) -> None:
    for name in inventory.dnssec_policies:
        if not _HOST_KEY.fullmatch(name) or name in BUILTIN_POLICIES:
            builtin = ", ".join(BUILTIN_POLICIES)
            problems.add(
                ("dnssec_policies", name),
                f"policy name must be letters, digits, '-' or '_', and not {builtin}",
            )
    for zone_name, zone in inventory.zones.items():
        setting = zone.dnssec
        if not isinstance(setting, str) or setting == "default" or setting in inventory.dnssec_policies:
            continue
        if ("dnssec_policies",) in unchecked or ("dnssec_policies", setting) in unchecked:
            continue  # the policy is there, with a problem of its own
        known = ", ".join(["default", *inventory.dnssec_policies])
        problems.add(
            ("zones", zone_name, "dnssec"), f"unknown policy {setting!r} (true, false, or one of: {known})"
        )


def _check_catalog(inventory: Inventory, problems: _Problems) -> None:
    if inventory.catalog is None:
        return
    if inventory.catalog in inventory.zones:
        problems.add(("catalog",), f"{inventory.catalog} is a zone of the inventory; name the catalog apart")
    members = inventory.catalog_members()
    if not members:
        return  # nothing to list yet: `catalog sync` says so
    first = inventory.zones[members[0]]
    for name in members[1:]:
        zone = inventory.zones[name]
        if zone.primary != first.primary:
            problems.add(
                ("zones", name, "primary"),
                f"a catalog member's primary must be the catalog's ({first.primary}, as for {members[0]}); "
                "or set in_catalog = false",
            )
        elif set(zone.secondaries) != set(first.secondaries):
            problems.add(
                ("zones", name, "secondaries"),
                f"every consumer of the catalog serves every member: a member's secondaries must be "
                f"{', '.join(first.secondaries)} (as for {members[0]}); or set in_catalog = false",
            )
    key = inventory.tsig_key(members[0])
    for name in members[1:]:
        if inventory.tsig_key(name) != key:
            problems.add(("zones", name, "tsig"), _catalog_key_problem(inventory, name, members[0]))
    for name in members:
        if "localnets" in inventory.zones[name].allow_query:
            problems.add(
                ("zones", name, "allow_query"),
                "a catalog member's allow-query travels in the catalog as addresses and networks; "
                "localnets cannot be said there",
            )


def _catalog_key_problem(inventory: Inventory, zone: str, first: str) -> str:
    """Why a member's tsig differs from the first member's: consumers name one key for all
    members (catalog-zones default-primaries), so the members share one key or none has one."""
    own, theirs = inventory.tsig_key(zone), inventory.tsig_key(first)
    if theirs is None:
        wanted = f"{first}'s transfers are not signed, so no member's can be"
    else:
        wanted = f"every member transfers with {first}'s key {theirs!r}"
    hint = ""
    named_after_zones = True in (inventory.zones[zone].tsig, inventory.zones[first].tsig)
    if own is not None and theirs is not None and named_after_zones:
        hint = f' (tsig = true names a key after its zone: give every member tsig = "{theirs}")'
    return (
        f"the catalog's consumers ask for all members with one key: {wanted}{hint}; or set in_catalog = false"
    )


def _server_fields(zone_name: str, zone: Zone) -> list[tuple[str, tuple[Any, ...]]]:
    """The zone's servers, each with the field that names it first."""
    fields: dict[str, tuple[Any, ...]] = {zone.primary: ("zones", zone_name, "primary")}
    for i, name in enumerate(zone.secondaries):
        fields.setdefault(name, ("zones", zone_name, "secondaries", i))
    return list(fields.items())
