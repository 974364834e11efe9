"""Hosts replayed from captured output: each dnsctl script answers with what it printed on the lab.

Fixtures are named HOST-LABEL.txt, LABEL being the script's $0 (argv[3] of `sh -c SCRIPT
LABEL ...`); tests/data/capture.py writes them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from dnsctl.remote import Result

# The lab's inventory when the captures were made (zones as tests/data/capture.py set them up).
LAB = {
    "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
    "clients": {"client1": {"address": "198.51.100.20"}},
    "zones": {
        "example.com": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "records": [{"name": "pc1", "type": "A", "value": "198.51.100.50"}],
        },
        "lonely.test": {"primary": "ns1", "secondaries": ["ns2"]},
        "solo.test": {"primary": "ns1"},
    },
}


class ReplayedHost:
    def __init__(self, folder: Path, name: str, ran: list[tuple[str, list[str]]]) -> None:
        self.folder = folder
        self.name = name
        self.ran = ran

    def run(self, argv: Sequence[str], check: bool = True, **_: Any) -> Result:
        self.ran.append((self.name, list(argv)))
        label = argv[3]
        text = (self.folder / f"{self.name}-{label}.txt").read_text()
        return Result(shlex.join(argv), text, "", 0)


class ReplayedFleet:
    """Stands in for remote.Fleet: connects to nothing, runs every host in turn."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.ran: list[tuple[str, list[str]]] = []

    def __getitem__(self, name: str) -> ReplayedHost:
        return ReplayedHost(self.folder, name, self.ran)

    def connect(self, targets: Iterable[Any]) -> dict[str, ReplayedHost]:
        return {target.name: self[target.name] for target in targets}

    def each(self, items: Sequence[Any], function: Callable[[Any], object]) -> list[object]:
        return [function(item) for item in items]
