"""Lab hosts replayed on the recorded double (tests/fakes.py): each of dnsctl's scripts answers
with what it printed on the lab.

A fixture HOST-LABEL.txt is the output of the script run as `sh -c SCRIPT LABEL ...` on HOST;
tests/data/capture.py writes them.
"""

from __future__ import annotations

from pathlib import Path

from .fakes import Call, FakeFleet, where

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


def replayed(folder: Path) -> FakeFleet:
    """A fleet whose hosts answer each script, as often as it runs, with its capture in folder."""
    fleet = FakeFleet()
    for path in sorted(folder.glob("*.txt")):
        host, label = path.stem.split("-", 1)
        connection = fleet.hosts[host] if host in fleet.hosts else fleet.host(host)

        def labelled(call: Call, label: str = label) -> bool:
            return call.words[:2] == ("sh", "-c") and call.words[3:4] == (label,)

        connection.allow(where(labelled, f"script {label}"), stdout=path.read_text())
    return fleet
