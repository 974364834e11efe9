"""record add | del | list against the lab: the inventory file is edited in place (comments
kept), the zone is applied, and every server answers the change, checked by DNS at
each server's address. A failed change leaves the file byte for byte as it was."""

from __future__ import annotations

import json

import pytest

from .conftest import NS1, NS2, digest, dnsctl, dnsctl_ok, set_up
from .served import authoritative_answer

pytestmark = pytest.mark.lab

ZONE = """
# Records for the record command's tests; this comment must survive every edit.
[zones."records.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."records.test".records]]
name = "www"   # the web server
type = "A"
value = "198.51.100.90"
"""


@pytest.fixture(scope="module")
def inventory(the_lab, tmp_path_factory):
    path = the_lab.write_inventory(tmp_path_factory.mktemp("records") / "records.toml", extra=ZONE)
    set_up(path, "records.test")
    return path


def test_add_reaches_every_server_and_keeps_the_file_readable(inventory):
    result = dnsctl_ok(
        "record", "add", "records.test", "mail", "A", "198.51.100.91", "--yes", inventory=inventory
    )
    for server in (NS1, NS2):
        assert authoritative_answer(server, "mail.records.test", "A") == ("NOERROR", {"198.51.100.91"})
    text = inventory.read_text()
    assert "this comment must survive every edit" in text and "# the web server" in text
    assert 'name = "mail"' in text
    assert "in sync" in result.stdout  # the time each secondary took is printed


def test_add_again_changes_nothing(inventory):
    before = digest(inventory)
    result = dnsctl_ok(
        "record", "add", "records.test", "mail", "A", "198.51.100.91", "--yes", inventory=inventory
    )
    assert "already there" in result.stdout and "plan: no changes" in result.stdout
    assert digest(inventory) == before


def test_back_to_back_changes_each_reach_the_secondary(inventory):
    for index in range(3):
        address = f"198.51.100.{100 + index}"
        result = dnsctl_ok(
            "--json",
            "record",
            "add",
            "records.test",
            f"host{index}",
            "A",
            address,
            "--yes",
            inventory=inventory,
        )
        # The command returns only once the secondary serves the change: no waiting here.
        assert authoritative_answer(NS2, f"host{index}.records.test", "A") == ("NOERROR", {address})
        document = json.loads(result.stdout)
        waits = [step for step in document["steps"] if "transfer_seconds" in step["data"]]
        assert [step["host"] for step in waits] == ["ns2"]


def test_del_removes_it_everywhere(inventory):
    dnsctl_ok("record", "del", "records.test", "host0", "A", "--yes", inventory=inventory)
    for server in (NS1, NS2):
        assert authoritative_answer(server, "host0.records.test", "A") == ("NXDOMAIN", set())
    assert 'name = "host0"' not in inventory.read_text()


def test_list_shows_the_inventory(inventory):
    result = dnsctl("--json", "record", "list", "records.test", inventory=inventory)
    assert result.returncode == 0, result.stderr
    listed = {(r["name"], r["type"], r["value"]) for r in json.loads(result.stdout)["records"]}
    assert ("www.records.test", "A", "198.51.100.90") in listed
    assert ("host0.records.test", "A", "198.51.100.100") not in listed


def test_dry_run_and_bad_input_change_nothing(inventory):
    before = digest(inventory)
    result = dnsctl_ok(
        "record", "add", "records.test", "dry", "A", "198.51.100.99", "--dry-run", inventory=inventory
    )
    assert "+dry\tIN A 198.51.100.99" in result.stdout
    assert authoritative_answer(NS1, "dry.records.test", "A")[0] == "NXDOMAIN"
    for argv, field in (
        (("bad name!", "A", "198.51.100.99"), "name"),
        (("ok", "A", "198.51.100.999"), "value"),
        (("ok", "BOGUS", "x"), "type"),
    ):
        result = dnsctl("record", "add", "records.test", *argv, "--yes", inventory=inventory)
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.startswith(f"dnsctl: error: {field}") and result.stderr.count("\n") == 1
    assert digest(inventory) == before


def test_failed_change_leaves_the_file_as_it_was(the_lab, inventory):
    before = digest(inventory)
    the_lab.exec("ns1", "mount", "-o", "bind,ro", "/var/lib/bind", "/var/lib/bind")
    try:
        result = dnsctl(
            "record", "add", "records.test", "late", "A", "198.51.100.98", "--yes", inventory=inventory
        )
    finally:
        the_lab.exec("ns1", "umount", "/var/lib/bind")
    assert result.returncode == 5, result.stdout + result.stderr
    assert digest(inventory) == before
    assert authoritative_answer(NS1, "late.records.test", "A")[0] == "NXDOMAIN"
    assert authoritative_answer(NS1, "www.records.test", "A") == ("NOERROR", {"198.51.100.90"})
