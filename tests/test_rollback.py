"""Rollback and restore: what they put back on a host, what they expect servers to answer
afterwards, and that neither a signal nor a lost connection stops them half-way."""

from __future__ import annotations

import io
import os
import stat
import subprocess
from pathlib import Path

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from dnsctl import apply, interrupt, render, service
from dnsctl.errors import RemoteError, RollbackFailed, RolledBack
from dnsctl.facts.host import parse_host_facts
from dnsctl.models import parse_inventory
from dnsctl.ops import add_slave, rollback
from dnsctl.ops.session import Options, Session
from dnsctl.plan import FileChange, HostPlan
from dnsctl.platform import DEBIAN
from dnsctl.remote import Fleet, Result
from dnsctl.report import Report

from .fakes import FakeFleet
from .simulated import Scene, configured_files
from .test_converge import INVENTORY, NS1, NS2, OLD_SERIAL, TODAY_SERIAL, ZONE, ZONE_FILE, inventory_data
from .test_facts import DEBIAN_HOST


@pytest.fixture(autouse=True)
def no_request_left_over():
    yield
    interrupt._requested.clear()


OLD_ZONE = """$ORIGIN example.com.
$TTL 300
@ IN SOA ns1.example.com. hostmaster.example.com. 5 3600 600 86400 300
@ IN NS ns1.example.com.
old IN A 198.51.100.91
"""
NEW_ZONE = """$ORIGIN example.com.
$TTL 300
@\tIN SOA ns1.example.com. hostmaster.example.com. (
\t\t2026112500 ; serial
\t\t3600 ; refresh
\t\t600 ; retry
\t\t1209600 ; expire
\t\t300 ; minimum
\t\t)
@\tIN NS ns1.example.com.
@\tIN NS ns2.example.com.
new\tIN A 198.51.100.92
"""


class LocalHost:
    """A connection double that runs dnsctl's shell scripts on this machine, in a temporary
    directory, and records every other command, answering with a chosen exit status."""

    name = "ns1"

    def __init__(self, statuses: dict[str, int] | None = None) -> None:
        self.statuses = statuses or {}
        self.commands: list[tuple[str, bool]] = []  # (command, reconnect)

    def run(self, argv, *, check=True, input=None, timeout=None, reconnect=False) -> Result:
        if list(argv[:3]) == ["sh", "-c", service.START_SCRIPT]:
            argv = ["systemctl", *argv[4:]]  # recorded, never run here
        command = " ".join(argv[3:] if argv[:2] == ["sh", "-c"] else argv)
        self.commands.append((command, reconnect))
        if argv[:2] == ["sh", "-c"]:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            result = Result(command, done.stdout, done.stderr, done.returncode)
        else:
            result = Result(command, "", "", self.statuses.get(command, 0))
        if check and not result.ok:
            raise RemoteError(f"{command} failed")
        return result

    def put(self, path, content, *, mode=0o644, owner="root", group="root", reconnect=False) -> None:
        self.commands.append((f"put {path}", reconnect))
        Path(path).write_text(content)
        os.chmod(path, mode)


def host_plan(tmp_path: Path, named_active: bool = True) -> tuple[HostPlan, dict[str, Path]]:
    """A plan that replaces a zone file and named.conf.local and creates named.conf.dnsctl."""
    paths = {name: tmp_path / "etc" / name for name in ("example.com.db", "named.conf.local", "dnsctl.conf")}
    paths["example.com.db"].parent.mkdir(parents=True)
    state = "active" if named_active else "inactive"
    host_facts = parse_host_facts(DEBIAN_HOST.replace("@@named\nactive", f"@@named\n{state}"))
    plan = HostPlan(
        "ns1",
        "198.51.100.10",
        DEBIAN,
        host_facts,
        changes=[
            FileChange(str(paths["example.com.db"]), OLD_ZONE, NEW_ZONE, "zone", zone="example.com"),
            FileChange(str(paths["named.conf.local"]), "// the admin's\n", "// ours\n", "config"),
            FileChange(str(paths["dnsctl.conf"]), None, "zone {};\n", "config"),
        ],
        expect_serials={"example.com": 2026112500},
    )
    return plan, paths


def activated_half_way(tmp_path: Path, plan: HostPlan, paths: dict[str, Path]) -> apply.Activation:
    """What the activation script leaves when the connection drops after the zone file:
    the zone file moved (backed up, and listed as moving), the rest not moved."""
    activation = apply.Activation(plan, str(tmp_path / "backup"))
    backup = Path(f"{activation.backup_dir}{paths['example.com.db']}")
    backup.parent.mkdir(parents=True)
    backup.write_text(OLD_ZONE)
    os.chmod(backup, 0o640)
    paths["example.com.db"].write_text(NEW_ZONE)
    paths["named.conf.local"].write_text("// the admin's\n")
    Path(f"{activation.backup_dir}/moving").write_text(f"{paths['example.com.db']}\n")
    return activation


def test_rollback_after_a_half_done_activation_restores_exactly_and_can_run_again(tmp_path):
    plan, paths = host_plan(tmp_path)
    activation = activated_half_way(tmp_path, plan, paths)
    host = LocalHost()
    for _ in range(2):  # a second run, as after a lost connection, changes nothing more
        apply.rollback(host, activation)
        zone = paths["example.com.db"].read_text()
        # The administrator's one-line SOA, byte for byte, with a serial above the failed one.
        assert zone == OLD_ZONE.replace(" 5 3600", " 2026112501 3600")
        assert stat.S_IMODE(paths["example.com.db"].stat().st_mode) == 0o640
        assert paths["named.conf.local"].read_text() == "// the admin's\n"
        assert not paths["dnsctl.conf"].exists()
        assert sorted(p.name for p in paths["example.com.db"].parent.iterdir()) == [
            "example.com.db",
            "named.conf.local",
        ]
        assert activation.restored_serials == {"example.com": 2026112501}
    assert host.commands[-1] == ("rndc reload", True)
    assert all(reconnect for _, reconnect in host.commands)  # every step survives a lost connection


def test_rollback_of_a_file_dnsctl_created_and_moved(tmp_path):
    plan, paths = host_plan(tmp_path)
    activation = activated_half_way(tmp_path, plan, paths)
    paths["dnsctl.conf"].write_text("zone {};\n")
    with open(f"{activation.backup_dir}/moving", "a") as moving:
        moving.write(f"{paths['dnsctl.conf']}\n")
    apply.rollback(LocalHost(), activation)
    assert not paths["dnsctl.conf"].exists()


def test_rollback_restarts_named_when_a_reload_fails(tmp_path):
    plan, paths = host_plan(tmp_path)
    host = LocalHost({"rndc reload": 1})
    apply.rollback(host, activated_half_way(tmp_path, plan, paths))
    assert [c for c, _ in host.commands[-2:]] == ["rndc reload", "systemctl restart named"]


def test_rollback_stops_named_it_started(tmp_path):
    plan, paths = host_plan(tmp_path, named_active=False)
    host = LocalHost()
    apply.rollback(host, activated_half_way(tmp_path, plan, paths))
    assert host.commands[-1] == ("systemctl stop named", True)


def test_a_zone_file_that_never_went_into_place_keeps_its_serial(tmp_path):
    plan, paths = host_plan(tmp_path)
    activation = apply.Activation(plan, str(tmp_path / "backup"))
    paths["example.com.db"].write_text(OLD_ZONE)  # the activation never listed it as moving
    apply.rollback(LocalHost(), activation)
    assert paths["example.com.db"].read_text() == OLD_ZONE
    assert activation.restored_serials == {}


def rdatas(rdtype: str, *texts: str) -> frozenset:
    return frozenset(dns.rdata.from_text(dns.rdataclass.IN, rdtype, text) for text in texts)


def test_changed_rrsets_are_the_old_records_of_what_changed():
    changed = rollback.changed_rrsets("example.com", OLD_ZONE, NEW_ZONE)
    name = dns.name.from_text
    assert changed == {
        (name("example.com."), dns.rdatatype.NS): rdatas("NS", "ns1.example.com."),
        (name("old.example.com."), dns.rdatatype.A): rdatas("A", "198.51.100.91"),
        (name("new.example.com."), dns.rdatatype.A): frozenset(),
    }
    assert rollback.changed_rrsets("example.com", "$INCLUDE other\n", NEW_ZONE) == {}


def session_for(inventory, fleet: Fleet | None = None) -> Session:
    return Session(inventory, Report("test", out=io.StringIO()), fleet or Fleet(), Options(timeout=1))


MANAGED = DEBIAN.managed_conf


def test_expected_after_a_failed_add_slave(inventory):
    # The primary's NS set changed and ns2 was configured; ns2 did not carry the zone before.
    primary = HostPlan(
        "ns1",
        "198.51.100.10",
        DEBIAN,
        parse_host_facts(DEBIAN_HOST),
        current={MANAGED: 'zone "example.com" {\n\ttype master;\n};\n'},
        changes=[FileChange("/var/lib/bind/example.com.db", OLD_ZONE, NEW_ZONE, "zone", zone="example.com")],
        expect_serials={"example.com": 2026112500},
    )
    secondary = HostPlan(
        "ns2", "198.51.100.11", DEBIAN, parse_host_facts(DEBIAN_HOST), current={MANAGED: None}
    )
    activations = [apply.Activation(primary, "/b"), apply.Activation(secondary, "/b")]
    activations[0].restored_serials = {"example.com": 2026112501}
    wants = {"ns1": {"example.com": "primary"}, "ns2": {"example.com": "secondary"}}
    expected = rollback.expected_after_rollback(
        session_for(inventory), {"ns1": primary, "ns2": secondary}, wants, activations
    )
    by_server = {e.server: e for e in expected}
    assert by_server["ns1"].served and by_server["ns1"].serial == 2026112501
    assert by_server["ns1"].failed == 2026112500
    ns = (dns.name.from_text("example.com."), dns.rdatatype.NS)
    assert by_server["ns1"].records[ns] == rdatas("NS", "ns1.example.com.")
    assert not by_server["ns2"].served  # back to not answering for the zone at all


def test_a_secondary_outside_the_run_must_follow_the_rollback(inventory):
    primary = HostPlan(
        "ns1",
        "198.51.100.10",
        DEBIAN,
        parse_host_facts(DEBIAN_HOST),
        current={MANAGED: 'zone "example.com" {\n};\n'},
        changes=[FileChange("/var/lib/bind/example.com.db", OLD_ZONE, NEW_ZONE, "zone", zone="example.com")],
        expect_serials={"example.com": 2026112500},
    )
    activation = apply.Activation(primary, "/b", restored_serials={"example.com": 2026112501})
    expected = rollback.expected_after_rollback(
        session_for(inventory), {"ns1": primary}, {"ns1": {"example.com": "primary"}}, [activation]
    )
    ns2 = next(e for e in expected if e.server == "ns2")
    assert ns2.serial == 2026112501 and ns2.failed == 2026112500 and not ns2.known_to_carry


def test_roll_back_names_each_hosts_state_when_one_fails(inventory, monkeypatch):
    fleet = FakeFleet()
    for name in ("ns1", "ns2"):
        fleet.host(name)
    fleet.connected = ["ns1", "ns2"]
    session = session_for(inventory, fleet)
    plans = {
        name: HostPlan(name, address, DEBIAN, parse_host_facts(DEBIAN_HOST))
        for name, address in (("ns1", "198.51.100.10"), ("ns2", "198.51.100.11"))
    }
    activations = [apply.Activation(plans[name], "/var/backups/dnsctl/x") for name in ("ns1", "ns2")]

    def rollback_host(connection, activation):
        if activation.plan.server == "ns1":
            raise RemoteError(
                "ns1 (198.51.100.10): unreachable on port 22 (gave up reconnecting after 3 attempts)"
            )

    monkeypatch.setattr(apply, "rollback", rollback_host)
    wants = {"ns1": {}, "ns2": {}}
    with pytest.raises(RollbackFailed) as failed:
        rollback.roll_back(session, plans, wants, activations, KeyboardInterrupt())
    message = str(failed.value)
    assert message.startswith("interrupted; ROLLBACK FAILED: ")
    assert "ns2: rolled back" in message
    assert "ns1: NOT rolled back (ns1 (198.51.100.10): unreachable" in message
    assert "old ones are in /var/backups/dnsctl/x" in message

    monkeypatch.setattr(apply, "rollback", lambda connection, activation: None)
    with pytest.raises(RolledBack, match="interrupted; rolled back ns1, ns2 to the previous configuration"):
        rollback.roll_back(session, plans, wants, activations, KeyboardInterrupt())


def test_add_slave_whose_transfer_does_not_come_is_rolled_back(monkeypatch):
    """ns2 takes its new configuration but never serves the zone: ns2 and the primary's NS
    change are rolled back (exit 5), and ns2 is checked to no longer answer for the zone."""
    scene = Scene(monkeypatch, INVENTORY)
    alone = inventory_data(("pc1", "A", "198.51.100.50"))
    alone["zones"][ZONE]["secondaries"] = []  # what ns1 carried before: no secondary yet
    files = configured_files(parse_inventory(alone), {ZONE: "primary"}, OLD_SERIAL)
    ns1 = scene.server("ns1", files=files, dns_open=True)
    ns2 = scene.server("ns2", dns_open=True)
    ns2_files = dict(ns2.host.files)
    ns1.preflight()
    ns2.preflight()
    ns1.stage((ZONE,))
    ns2.stage(create_dir=True)
    ns1.activate()
    ns1.reload()
    ns2.activate()
    ns2.reload(loads=False)  # the transfer never comes
    ns2.roll_back()
    ns1.roll_back()

    with pytest.raises(RolledBack) as caught:
        add_slave(scene.session(), ZONE)

    assert str(caught.value) == (
        f"ns2: {ZONE} not transferred within 30 s (answer REFUSED, no SOA); "
        "rolled back ns1, ns2 to the previous configuration"
    )
    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], TODAY_SERIAL + 1)
    assert {
        path: text for path, text in ns2.host.files.items() if not path.startswith(apply.BACKUP_ROOT)
    } == ns2_files
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL + 1} and scene.dns.zones(NS2) == {}
    assert f"after the rollback: {ZONE} at {NS2}: does not serve {ZONE}, as before" in scene.output
    scene.fleet.verify()


# --- named past systemd's start limit ------------------------------------------------------------

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$CALLS"
case $1 in
  show) cat "$RESULT" ;;
  reset-failed) echo success > "$RESULT" ;;
  *) [ "$(cat "$RESULT")" = success ] ;;
esac
"""


def run_start_script(tmp_path: Path, result: str) -> tuple[int, list[str]]:
    """service.START_SCRIPT with a systemctl that fails while the unit's Result is not success."""
    (tmp_path / "systemctl").write_text(FAKE_SYSTEMCTL)
    (tmp_path / "systemctl").chmod(0o755)
    (tmp_path / "result").write_text(result + "\n")
    env = {
        "PATH": f"{tmp_path}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls"),
        "RESULT": str(tmp_path / "result"),
    }
    argv = service.start_command("restart", "named")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    return done.returncode, (tmp_path / "calls").read_text().splitlines()


def test_a_start_refused_by_systemds_start_limit_is_reset_once_and_tried_again(tmp_path):
    status, calls = run_start_script(tmp_path, "start-limit-hit")
    assert status == 0
    assert calls == ["restart named", "show -p Result --value named", "reset-failed named", "restart named"]


def test_any_other_failed_start_is_not_tried_again(tmp_path):
    status, calls = run_start_script(tmp_path, "exit-code")
    assert status == 1
    assert calls == ["restart named", "show -p Result --value named"]
