"""Plans: what a run will do, shown as actions and unified diffs."""

from __future__ import annotations

import datetime as dt

from dnsctl import render
from dnsctl.facts.host import parse_host_facts
from dnsctl.models import parse_inventory
from dnsctl.plan import MAX_DIFF_LINES, FileChange, HostPlan, ManagedZone, managed_zones, plan_server
from dnsctl.platform import DEBIAN

from .test_facts import DEBIAN_HOST


def host_plan(**changes) -> HostPlan:
    return HostPlan("ns1", "198.51.100.10", DEBIAN, parse_host_facts(DEBIAN_HOST), **changes)


def test_diff_of_a_new_file():
    diff = FileChange("/etc/bind/named.conf.dnsctl", None, "zone\n", "config").diff("ns1")
    assert diff.startswith("--- /dev/null\n+++ ns1:/etc/bind/named.conf.dnsctl\n")
    assert "+zone" in diff


def test_diff_of_a_changed_file():
    diff = FileChange("/x", "a\nb\n", "a\nc\n", "zone", zone="example.com").diff("ns2")
    assert "--- ns2:/x\n+++ ns2:/x\n" in diff and "-b\n+c\n" in diff


def test_empty_plan_says_nothing_to_do():
    plan = host_plan()
    assert plan.empty and plan.actions() == [] and plan.diff() == ""


def test_actions_in_order():
    plan = host_plan(
        changes=[FileChange("/var/lib/bind/example.com.db", None, "x", "zone", zone="example.com")],
        directories=["/var/cache/bind/slaves"],
        open_firewall=True,
    )
    assert plan.actions() == [
        "create directory /var/cache/bind/slaves",
        "create /var/lib/bind/example.com.db",
        "reload named",
        "allow dns in firewalld zone public",
    ]
    assert host_plan(restart=True).actions() == ["restart named"]


# --- the zones dnsctl manages, and removing them (apply --prune) ------------------------------


def managed_file(inventory, wants: dict[str, str]) -> str:
    render_stanza = {"primary": render.primary_stanza, "secondary": render.secondary_stanza}
    return render.render_managed(
        {zone: render_stanza[role](inventory, zone, DEBIAN) for zone, role in wants.items()}
    )


def test_managed_zones_reads_role_and_file(inventory):
    text = managed_file(inventory, {"example.com": "primary", "100.51.198.in-addr.arpa": "secondary"})
    text += 'zone "hint.test" {\n\ttype hint;\n\tfile "x";\n};\n'  # never dnsctl's: ignored
    assert managed_zones(text) == {
        "example.com": ManagedZone("primary", "/var/lib/bind/example.com.db"),
        "100.51.198.in-addr.arpa": ManagedZone(
            "secondary", "/var/cache/bind/slaves/100.51.198.in-addr.arpa.db"
        ),
    }
    assert managed_zones(None) == {}


def pruned_plan(inventory, managed: str, wants: dict[str, str], prune) -> HostPlan:
    current = {path: None for path in DEBIAN.config_files()}
    current[DEBIAN.managed_conf] = managed
    current[DEBIAN.include_parent] = render.ensure_include("", DEBIAN.managed_conf)
    plan = host_plan(current=current)
    return plan_server(inventory, plan, wants, {}, dt.date(2026, 11, 25), prune)


def test_stale_zones_are_named_and_only_removed_when_asked(raw):
    old = parse_inventory(raw)
    managed = managed_file(old, {"example.com": "primary", "100.51.198.in-addr.arpa": "primary"})
    del raw["zones"]["100.51.198.in-addr.arpa"]
    new = parse_inventory(raw)

    kept = pruned_plan(new, managed, {}, None)
    assert kept.stale == {"100.51.198.in-addr.arpa": "primary"}
    assert kept.removed == {} and kept.changes == [] and kept.retire == []

    pruned = pruned_plan(new, managed, {}, lambda zone: True)
    (change,) = pruned.changes
    assert 'zone "100.51.198.in-addr.arpa"' not in change.new and 'zone "example.com"' in change.new
    assert pruned.removed == {"100.51.198.in-addr.arpa": "primary"}
    assert pruned.retire == ["/var/lib/bind/100.51.198.in-addr.arpa.db"]
    assert pruned.changed_zones() == {"100.51.198.in-addr.arpa"}
    assert "remove zone 100.51.198.in-addr.arpa (primary), keeping its file in the backup" in pruned.actions()


def test_a_removed_zone_keeps_a_file_dnsctl_did_not_put_there(raw):
    old = parse_inventory(raw)
    managed = managed_file(old, {"example.com": "primary"}).replace(
        "/var/lib/bind/example.com.db", "/srv/zones/example.com"
    )
    del raw["zones"]["example.com"]
    raw["zones"]["100.51.198.in-addr.arpa"]["records"] = []
    plan = pruned_plan(parse_inventory(raw), managed, {}, lambda zone: True)
    assert plan.removed == {"example.com": "primary"} and plan.retire == []


def test_a_server_with_nothing_to_carry_gets_no_dnsctl_files(inventory):
    plan = host_plan(current={path: None for path in DEBIAN.config_files()})
    plan_server(inventory, plan, {}, {}, dt.date(2026, 11, 25))
    assert plan.empty and plan.stale == {}


def test_a_huge_diff_is_summarised():
    new = "".join(f"host{i}\tIN A 10.0.0.{i % 250}\n" for i in range(100_000))
    diff = FileChange("/var/lib/bind/big.test.db", None, new, "zone").diff("ns1")
    lines = diff.splitlines()
    assert len(lines) == MAX_DIFF_LINES + 1
    assert lines[:2] == ["--- /dev/null", "+++ ns1:/var/lib/bind/big.test.db"]
    assert lines[-1] == (
        f"... {100_003 - MAX_DIFF_LINES} more lines of this diff not shown "
        "(100000 lines added and 0 removed in all)"
    )


def test_a_small_diff_is_shown_whole():
    change = FileChange("/etc/x", "a\nb\n", "a\nc\n", "config")
    assert change.diff("ns1").splitlines()[-2:] == ["-b", "+c"]
