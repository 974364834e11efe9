"""Every problem of an inventory, at its field's path, reported at once in the file's order.

Also pydantic's errors as an administrator reads them: what is wanted, what was given.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, NoReturn

from dnsctl.errors import InventoryError
from dnsctl.models.schema import CHOICES_BY_PATTERN, model_at
from dnsctl.models.values import shown
from dnsctl.zonedata import format_path

SHOWN_PROBLEMS = 50


@dataclass
class Problems:
    """Every problem found, each at its field's path; reported in the file's order."""

    source: str
    found: list[tuple[tuple[Any, ...], str]] = field(default_factory=list)
    # The key as written in the file, for zone keys dnsctl normalised.
    written_zone_key: dict[str, str] = field(default_factory=dict)
    # Indexes in found of locations given with the key as written (not to be translated).
    written_locs: set[int] = field(default_factory=set)

    def add(self, loc: tuple[Any, ...] | list[Any], message: str, *, as_written: bool = False) -> None:
        """A problem at loc (zone keys canonical, unless as_written: as the file writes it)."""
        if as_written:
            self.written_locs.add(len(self.found))
        self.found.append((tuple(loc), message))

    def raise_all(self, raw: Any) -> NoReturn:
        """Raise InventoryError with every problem, in the order of the file as written."""
        order = _FileOrder(raw if isinstance(raw, dict) else {})
        written = sorted(
            (
                (loc if index in self.written_locs else self._as_written(loc), message)
                for index, (loc, message) in enumerate(self.found)
            ),
            key=lambda p: order.key(p[0]),
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


def describe(error: dict[str, Any]) -> str:
    """One pydantic error as an administrator reads it: what is wanted, what was given."""
    kind, given = error["type"], error.get("input")
    if kind in _EXPECTED:
        return f"must be {_EXPECTED[kind]}, not {shown(given)}"
    if kind == "missing":
        return "missing (required)"
    if kind == "extra_forbidden":
        return _unknown_key(error["loc"])
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}, not {shown(given)}"
    if kind == "string_pattern_mismatch" and error["ctx"]["pattern"] in CHOICES_BY_PATTERN:
        return f"must be one of {', '.join(CHOICES_BY_PATTERN[error['ctx']['pattern']])}, not {shown(given)}"
    if kind in _BOUNDS:
        limit = next(iter(error["ctx"].values()))
        return f"must be {_BOUNDS[kind]} {limit}, not {given!r}"
    if kind == "value_error":
        return str(error["ctx"]["error"])
    return f"{error['msg']}, not {shown(given)}"


def _unknown_key(loc: tuple[Any, ...]) -> str:
    model = model_at(tuple(loc[:-1]))
    if model is None:
        return "unknown key"
    allowed = list(model.model_fields)
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key ({hint}allowed: {', '.join(allowed)})"
