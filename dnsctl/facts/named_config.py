"""named's effective configuration as `named-checkconf -px` prints it (zones, listen-on,
allow-transfer, catalog-zones' default primaries), and what the running named has loaded
(`rndc zonestatus`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from dnsctl import namedconf
from dnsctl.facts.scripts import sections
from dnsctl.namedconf import Statement


def _find(statement: Statement, keyword: str) -> Statement | None:
    return next((s for s in statement.block or () if s.words[:1] == (keyword,)), None)


def _entries(statement: Statement, *keywords: str) -> tuple[str, ...] | None:
    """The entries of the first `keyword [...] { a; b c; }` among keywords, each as one string."""
    for keyword in keywords:
        found = _find(statement, keyword)
        if found is not None and found.block is not None:
            return tuple(entry.text() for entry in found.block)
    return None


def _value(statement: Statement, keyword: str) -> str | None:
    found = _find(statement, keyword)
    return found.words[1] if found is not None and len(found.words) > 1 else None


@dataclass(frozen=True)
class ZoneConfig:
    name: str
    type: str  # master | primary | slave | secondary | ...
    file: str | None
    primaries: tuple[str, ...]  # "198.51.100.10" or "198.51.100.10 key xfer"
    allow_transfer: tuple[str, ...] | None  # None: not set in the zone
    allow_query: tuple[str, ...] | None
    also_notify: tuple[str, ...]
    notify: str | None  # yes | no | explicit | primary-only | None (not set: yes)

    @property
    def is_primary(self) -> bool:
        return self.type in ("master", "primary")

    @property
    def is_secondary(self) -> bool:
        return self.type in ("slave", "secondary")

    def primary_key(self, address: str) -> str | None:
        """The TSIG key named uses towards the primary at address, if any."""
        for entry in self.primaries:
            words = entry.split()
            if words and words[0] == address and "key" in words[:-1]:
                return words[words.index("key") + 1]
        return None


@dataclass(frozen=True)
class NamedConfig:
    error: str | None  # why named-checkconf rejects the configuration
    directory: str | None
    listen_on: tuple[str, ...] | None  # None: no listen-on, named listens on every IPv4 address
    allow_transfer: tuple[str, ...] | None  # the options' default for every zone
    zones: dict[str, ZoneConfig]
    # catalog-zones: each catalog's default primaries, which the zones it adds ask.
    catalogs: dict[str, ZoneConfig] = field(default_factory=dict)

    def path(self, file: str) -> str:
        """A zone file's path as named opens it: relative paths start at the options directory."""
        return file if file.startswith("/") else f"{(self.directory or '.').rstrip('/')}/{file}"

    def primary_key(self, zone: str, catalog: str | None, address: str) -> str | None:
        """The TSIG key named uses towards the primary at address for zone: its own stanza's,
        or for a zone none configures, the one its catalog names for every member."""
        config = self.zones.get(zone) or (self.catalogs.get(catalog) if catalog else None)
        return config.primary_key(address) if config is not None else None


@dataclass(frozen=True)
class ZoneStatus:
    """`rndc zonestatus ZONE`: what the running named has loaded."""

    error: str | None  # rndc's reason when named cannot tell (not running, no such zone)
    type: str | None = None
    serial: int | None = None
    files: str | None = None


def _section_status(lines: list[str]) -> tuple[list[str], int | None]:
    """A section's output lines and the exit status the script appended as `status=N`."""
    if lines and lines[-1].startswith("status="):
        return lines[:-1], int(lines[-1].removeprefix("status=") or 1)
    return lines, None


def parse_config(text: str) -> tuple[NamedConfig, ZoneStatus]:
    """CONFIG_SCRIPT's output."""
    parts = sections(text)
    config_lines, status = _section_status(parts.get("config", []))
    config = parse_named_config("\n".join(config_lines), None if status == 0 else _last_line(config_lines))
    zone_lines, status = _section_status(parts.get("zonestatus", []))
    return config, parse_zone_status("\n".join(zone_lines), status)


def parse_zone_status(text: str, status: int | None) -> ZoneStatus:
    """`rndc zonestatus ZONE`'s output and exit status."""
    lines = text.splitlines()
    if status != 0:
        return ZoneStatus(_last_line(lines) or "rndc zonestatus failed")
    fields = dict(line.split(": ", 1) for line in lines if ": " in line)
    serial = fields.get("serial", "")
    return ZoneStatus(
        None, fields.get("type"), int(serial) if serial.isdigit() else None, fields.get("files")
    )


def _last_line(lines: list[str]) -> str | None:
    """The most telling line of a failed command: rndc puts the reason last, after its own."""
    meaningful = [line.strip() for line in lines if line.strip()]
    return meaningful[-1] if meaningful else None


def parse_named_config(text: str, error: str | None = None) -> NamedConfig:
    statements = namedconf.parse(text)
    options = next((s for s in statements if s.words == ("options",)), Statement(("options",), ()))
    listen_on: list[str] | None = None
    for statement in options.block or ():
        # listen-on [port N] { ... }: only the DNS port matters here.
        if statement.words[:1] == ("listen-on",) and statement.words[1:] in ((), ("port", "53")):
            listen_on = [*(listen_on or []), *(entry.text() for entry in statement.block or ())]
    zones: dict[str, ZoneConfig] = {}
    views = [s for s in statements if s.words[:1] == ("view",)]
    for statement in [*statements, *(inner for view in views for inner in view.block or ())]:
        if statement.words[:1] != ("zone",) or len(statement.words) < 2 or statement.block is None:
            continue
        name = statement.words[1].rstrip(".").lower()
        zones.setdefault(
            name,
            ZoneConfig(
                name=name,
                type=_value(statement, "type") or "",
                file=_value(statement, "file"),
                primaries=_entries(statement, "primaries", "masters") or (),
                allow_transfer=_entries(statement, "allow-transfer"),
                allow_query=_entries(statement, "allow-query"),
                also_notify=_entries(statement, "also-notify") or (),
                notify=_value(statement, "notify"),
            ),
        )
    catalogs = {}
    for entry in (_find(options, "catalog-zones") or Statement(("catalog-zones",), ())).block or ():
        if entry.words[:1] == ("zone",) and len(entry.words) > 1:
            name = entry.words[1].rstrip(".").lower()
            primaries = tuple(child.text() for child in entry.block or ())
            catalogs[name] = ZoneConfig(name, "secondary", None, primaries, None, None, (), None)
    return NamedConfig(
        error=error,
        directory=_value(options, "directory"),
        listen_on=tuple(listen_on) if listen_on is not None else None,
        allow_transfer=_entries(options, "allow-transfer"),
        zones=zones,
        catalogs=catalogs,
    )
