"""Keep key material out of everything dnsctl prints.

The administrator's files can hold TSIG and rndc keys (`secret "..."`). dnsctl
reads those files to plan and validate, so their text reaches diffs, --json,
logs and error messages. `mask` is the one function all of them go through: it
hides every `secret` clause, and every secret value seen in a file this run
wherever else it turns up (a checker's "near '...'", a parsed configuration).
"""

from __future__ import annotations

import re
import threading
from typing import Any

HIDDEN = "<hidden>"

# A secret clause, also when a unified diff splits it over lines (`+\tsecret` / `+\t"..."`).
_CLAUSE = re.compile(r'(\bsecret\b(?:\s*\n[-+ ]?)?\s*)("[^"\n]*"|[^\s;{}"]+)')
_VALUE = re.compile(r'\bsecret\s+"([^"\n]*)"')

_seen: set[str] = set()
_lock = threading.Lock()
# Shorter values would hide ordinary words; real TSIG and rndc secrets are base64 of 16+ bytes.
_SHORTEST = 8


def remember(text: str) -> None:
    """Note the secret values in a file's text, so they are hidden wherever they turn up."""
    values = {value for value in _VALUE.findall(text) if len(value.strip()) >= _SHORTEST}
    if values:
        with _lock:
            _seen.update(values)


def mask(text: str) -> str:
    """The text with every secret hidden."""
    text = _CLAUSE.sub(lambda m: f'{m.group(1)}"{HIDDEN}"', text)
    with _lock:
        seen = sorted(_seen, key=len, reverse=True)
    for value in seen:
        text = text.replace(value, HIDDEN)
    return text


def mask_data(value: Any) -> Any:
    """A JSON-like value with every string masked."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item) for item in value]
    return value
