"""Pure edits of the inventory's TOML text, keeping the administrator's comments,
order and formatting (tomlkit round-trips what tomllib can only read).

Nothing here validates: the caller parses the edited text with
models.parse_inventory, which names any bad field exactly as at load.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Table

from dnsctl.errors import InventoryError
from dnsctl.models import dns_name_text


def _zone_table(document: tomlkit.TOMLDocument, zone: str) -> Table:
    """The table of a zone, found by its canonical name whatever case or final dot the file uses."""
    zones = document.get("zones", {})
    for key in zones:
        try:
            canonical = dns_name_text(key)
        except ValueError:
            continue
        if canonical == zone:
            return zones[key]
    raise InventoryError(f"unknown zone {zone!r}")


def add_record(text: str, zone: str, record: dict[str, Any]) -> str:
    """The inventory text with record appended to the zone's records."""
    document = tomlkit.parse(text)
    table = _zone_table(document, zone)
    entry = {key: value for key, value in record.items() if value is not None}
    records = table.get("records")
    if records is None:
        records = tomlkit.aot()
        table.add(tomlkit.nl())
        table.append("records", records)
    if isinstance(records, AoT):
        new = tomlkit.table()
        new.update(entry)
        new.add(tomlkit.nl())  # a blank line before whatever table follows
        records.append(new)
    elif isinstance(records, Array):
        inline = tomlkit.inline_table()
        inline.update(entry)
        records.append(inline)
    else:
        raise InventoryError(f'zones."{zone}".records: not a list of records')
    return tomlkit.dumps(document)


def remove_records(text: str, zone: str, indexes: set[int]) -> str:
    """The inventory text without the zone's records at these positions (as models.Zone counts them)."""
    document = tomlkit.parse(text)
    table = _zone_table(document, zone)
    records = table.get("records")
    if not isinstance(records, AoT | Array):
        raise InventoryError(f'zones."{zone}".records: not a list of records')
    for index in sorted(indexes, reverse=True):
        del records[index]
    if not len(records):
        del table["records"]
    return tomlkit.dumps(document)


def write_atomically(path: Path, text: str) -> None:
    """Replace path with text in one rename, keeping its mode; never a half-written inventory."""
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o600
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
