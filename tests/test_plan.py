"""Plans: what a run will do, shown as actions and unified diffs."""

from __future__ import annotations

from dnsctl import facts
from dnsctl.plan import FileChange, HostPlan
from dnsctl.platform import DEBIAN

from .test_facts import DEBIAN_HOST


def host_plan(**changes) -> HostPlan:
    return HostPlan("ns1", "198.51.100.10", DEBIAN, facts.parse_host_facts(DEBIAN_HOST), **changes)


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
