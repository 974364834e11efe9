"""Whole host plans, golden: what gather() plans for a host in a given state, as actions and diffs.

Each case is an inventory, the role the server should take, and a host state
(its files and facts, read through the recorded double). The plan's actions and
unified diff must equal tests/data/plans/<case>.txt. After an intended change,
regenerate them with `DNSCTL_UPDATE_GOLDEN=1 bash scripts/test -m "not lab" -k golden`
and review the diff of the golden files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

from dnsctl.models import parse_inventory
from dnsctl.ops.converge import gather
from dnsctl.plan import HostPlan
from dnsctl.platform import RHEL

from .conftest import DATA
from .simulated import DEBIAN_FILES, Scene, configured_files

PLANS = DATA / "plans"
UPDATE = os.environ.get("DNSCTL_UPDATE_GOLDEN") == "1"

RESTRICTED_OPTIONS = DEBIAN_FILES["/etc/bind/named.conf.options"].replace(
    "\tlisten-on-v6 { any; };\n", "\tlisten-on { 127.0.0.1; };  // localhost only, until now\n"
)


@dataclass(frozen=True)
class Case:
    name: str
    wants: dict[str, str]  # zone -> role on ns1
    state: dict[str, Any] = field(default_factory=dict)  # BindServer arguments
    older_records: bool = False  # ns1 already carries the zone, with older records
    served: int | None = None  # the serial named serves, when it differs from the file's


CASES = [
    Case("debian-fresh-primary", {"example.com": "primary"}),
    Case("debian-fresh-secondary", {"example.com": "secondary"}),
    Case("rhel-fresh-primary", {"example.com": "primary"}, {"layout": RHEL, "named_active": False}),
    Case("rhel-without-bind", {"example.com": "primary"}, {"layout": RHEL, "installed": False}),
    Case(
        "debian-older-zone",
        {"example.com": "primary"},
        {"dns_open": True},
        older_records=True,
        served=2026112507,
    ),
    Case(
        "debian-listen-on-localhost-only",
        {"example.com": "primary", "100.51.198.in-addr.arpa": "primary"},
        {"files": {**DEBIAN_FILES, "/etc/bind/named.conf.options": RESTRICTED_OPTIONS}},
    ),
]


def host_state(case: Case, raw: dict) -> dict[str, Any]:
    state = dict(case.state)
    if case.older_records:
        # What the inventory said before: pc1 at another address, no www alias.
        records = raw["zones"]["example.com"]["records"]
        records[:] = [r for r in records if r["name"] != "www"]
        records[0]["value"] = "198.51.100.49"
        state["files"] = configured_files(parse_inventory(raw), case.wants, 2026112403)
    return state


def plan_text(plan: HostPlan) -> str:
    return "actions:\n" + "".join(f"  {action}\n" for action in plan.actions()) + "\n" + plan.diff()


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_host_plan_golden(case, inventory, raw, monkeypatch):
    scene = Scene(monkeypatch, inventory)
    ns1 = scene.server("ns1", **host_state(case, raw))
    if case.served is not None:
        for zone in case.wants:
            scene.dns.serve("198.51.100.10", zone, case.served)
    ns1.preflight()
    session = scene.session()
    session.connect(["ns1"])

    text = plan_text(gather(session, "ns1", case.wants))

    scene.fleet.verify()
    golden = PLANS / f"{case.name}.txt"
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"{golden} is missing; DNSCTL_UPDATE_GOLDEN=1 writes it"
    assert text == golden.read_text(), f"the plan differs from {golden.name}"
