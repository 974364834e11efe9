"""The converge engine without root: plan -> stage -> activate -> verify, and every way back.

Each test declares, host by host, the commands dnsctl must run and what a BIND
server answers (tests/simulated.py on the recorded double of tests/fakes.py), then
checks the outcome on the simulated hosts: their files, what named serves, and
that nothing dnsctl staged was left behind.
"""

from __future__ import annotations

import signal

import dns.serial
import pytest

from dnsctl import apply, interrupt, render
from dnsctl.errors import (
    Aborted,
    CommandFailed,
    LockBusy,
    PreconditionError,
    RemoteError,
    RollbackFailed,
    RolledBack,
    ValidationError,
)
from dnsctl.models import parse_inventory
from dnsctl.ops import add_slave, init_primary
from dnsctl.platform import RHEL

from .fakes import dropped, exactly, prefix, script
from .simulated import DEBIAN_FILES, Scene, configured_files, failed, starting

NS1, NS2 = "198.51.100.10", "198.51.100.11"
ZONE = "example.com"
ZONE_FILE = "/var/lib/bind/example.com.db"
MANAGED = "/etc/bind/named.conf.dnsctl"
LOCAL = "/etc/bind/named.conf.local"
TODAY_SERIAL = 2026112500


def inventory_data(*records: tuple[str, str, str]) -> dict:
    return {
        "servers": {"ns1": {"address": NS1}, "ns2": {"address": NS2}},
        "clients": {"client1": {"address": "198.51.100.20", "connection": "lab"}},
        "zones": {
            ZONE: {
                "primary": "ns1",
                "secondaries": ["ns2"],
                "allow_query": ["198.51.100.0/24"],
                "records": [{"name": n, "type": t, "value": v} for n, t, v in records],
            }
        },
    }


INVENTORY = parse_inventory(inventory_data(("pc1", "A", "198.51.100.50")))
# What ns1 carried before the inventory's pc1 moved and www was added.
OLDER = parse_inventory(inventory_data(("pc1", "A", "198.51.100.49")))
OLD_SERIAL = 2026112003


@pytest.fixture
def scene(monkeypatch):
    scene = Scene(monkeypatch, INVENTORY)
    yield scene
    scene.fleet.verify()


def older_primary(scene: Scene, **state):
    """ns1 as an earlier run left it: the zone with pc1 at .49, serial OLD_SERIAL, served."""
    files = configured_files(OLDER, {ZONE: "primary"}, OLD_SERIAL)
    return scene.server("ns1", files=files, dns_open=True, **state), files


def snapshot(server) -> dict[str, str]:
    return dict(server.host.files)


def without_backups(server) -> dict[str, str]:
    return {path: text for path, text in server.host.files.items() if not path.startswith(apply.BACKUP_ROOT)}


# --- the happy path ------------------------------------------------------------------------


def test_init_primary_on_a_fresh_debian_host(scene):
    ns1 = scene.server("ns1")
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()

    init_primary(scene.session(), ZONE)

    files = ns1.host.files
    assert files[ZONE_FILE] == render.render_zone(INVENTORY, ZONE, TODAY_SERIAL)
    assert 'file "/var/lib/bind/example.com.db";' in files[MANAGED]
    assert files[LOCAL].startswith(DEBIAN_FILES[LOCAL])
    assert 'include "/etc/bind/named.conf.dnsctl";' in files[LOCAL]
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL}
    assert ns1.runtime_dns and ns1.permanent_dns
    assert len(ns1.host.locks) == 1 and ns1.host.locks[0].startswith("dnsctl pid ")
    assert ns1.staged_leftovers() == []
    # The new zone and the include chain to it were checked as private copies, then every
    # new file was staged beside its target under a random name, keeping the old one's mode.
    written = [call.words[4] for call in ns1.host.calls if script(apply.WRITE_SCRIPT)(call)]
    check = ns1.check_dir
    assert check is not None and check.startswith(apply.CHECK_ROOT + "/check-")
    assert written[:4] == [
        check + ZONE_FILE,
        check + "/etc/bind/named.conf",
        check + LOCAL,
        check + MANAGED,
    ]
    assert [path.rsplit(".dnsctl-", 1)[0] for path in written[4:]] == [ZONE_FILE, LOCAL, MANAGED]
    assert ns1.modes[ZONE_FILE] == ("root", "bind", 0o644)
    assert ns1.host.writes == []  # nothing through put(), which would follow a link
    # The old named.conf.local was backed up before it was replaced.
    backups = [path for path in files if path.startswith(apply.BACKUP_ROOT) and not path.endswith("/moving")]
    assert len(backups) == 1 and backups[0].endswith(LOCAL)
    assert files[backups[0]] == DEBIAN_FILES[LOCAL]
    output = scene.output
    assert "plan: create /var/lib/bind/example.com.db; update /etc/bind/named.conf.local" in output
    assert "+++ ns1:/var/lib/bind/example.com.db" in output
    assert f"verify {ZONE} SOA at {NS1}: serial {TODAY_SERIAL}, authoritative" in output
    assert (NS1, ZONE) in scene.dns.asked


def test_firewalld_is_opened_over_dbus_in_one_command(scene):
    """Where busctl reaches firewalld, runtime and permanent are one command, no firewall-cmd."""
    ns1 = scene.server("ns1", dbus=True)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()

    init_primary(scene.session(), ZONE)

    assert ns1.runtime_dns and ns1.permanent_dns
    assert "dnsctl-firewall public add add" in ns1.host.commands()
    assert not any(command.startswith("firewall-cmd") for command in ns1.host.commands())


def test_dry_run_changes_nothing(scene):
    ns1 = scene.server("ns1")
    before = snapshot(ns1)
    ns1.preflight()

    init_primary(scene.session(dry_run=True), ZONE)

    assert ns1.host.files == before and ns1.host.writes == []
    assert scene.dns.zones(NS1) == {}
    assert "+++ ns1:/var/lib/bind/example.com.db" in scene.output
    assert scene.output.rstrip().endswith("dry run: nothing was changed")


def test_a_second_run_plans_nothing(scene):
    ns1 = scene.server("ns1")
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()
    init_primary(scene.session(), ZONE)
    after_first = snapshot(ns1)
    writes = len(ns1.host.writes)

    ns1.preflight(writes=False)
    init_primary(scene.session(), ZONE)

    assert ns1.host.files == after_first and len(ns1.host.writes) == writes
    assert "ns1                   plan: no changes" in scene.output
    assert f"serial {TODAY_SERIAL}, authoritative" in scene.output


def test_a_changed_record_moves_the_serial_forward(scene):
    ns1, _ = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()

    init_primary(scene.session(), ZONE)

    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL}
    assert "198.51.100.50" in ns1.host.files[ZONE_FILE]
    assert "plan: update /var/lib/bind/example.com.db; reload named" in scene.output


def test_serial_moves_on_from_what_named_serves_when_it_is_ahead_of_the_file(scene):
    ns1, _ = older_primary(scene)
    scene.dns.serve(NS1, ZONE, 2026112599)  # an edit by hand, reloaded, file since restored
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload()

    init_primary(scene.session(), ZONE)

    assert render.zone_serial(ns1.host.files[ZONE_FILE]) == 2026112600


def test_rhel_host_without_bind_gets_it_installed_then_planned_again(scene):
    ns1 = scene.server("ns1", layout=RHEL, installed=False, firewall="absent")
    ns1.preflight()  # facts only: nothing to read before BIND is there
    ns1.install()
    ns1.preflight(facts_only=False)
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(starts=True)

    init_primary(scene.session(), ZONE)

    assert ns1.host.files["/var/named/example.com.db"] == render.render_zone(INVENTORY, ZONE, TODAY_SERIAL)
    assert "listen-on port 53 { 127.0.0.1; 198.51.100.10; };" in ns1.host.files["/etc/named.conf"]
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL}
    assert "plan: install bind bind-utils, then plan the configuration" in scene.output


def test_restart_instead_of_reload(scene):
    ns1, _ = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.host.expect(starting("restart"), respond=ns1.on_service)

    init_primary(scene.session(restart=True), ZONE)

    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL}


def test_add_slave_on_a_fresh_secondary(scene):
    ns1, _ = older_primary(scene)
    ns2 = scene.server("ns2")
    ns1.preflight()
    ns2.preflight()
    ns1.stage((ZONE,))
    ns2.stage(create_dir=True)
    ns1.activate()
    ns1.reload()
    ns2.activate()
    ns2.reload()
    ns2.open_firewall()
    ns2.transferred(ZONE)

    add_slave(scene.session(), ZONE)

    assert scene.dns.zones(NS2) == {ZONE: TODAY_SERIAL} == scene.dns.zones(NS1)
    assert "/var/cache/bind/slaves" in ns2.host.dirs
    assert "masters { 198.51.100.10; };" in ns2.host.files[MANAGED]
    assert "zone transferred, in sync" in scene.output


# --- refused before anything is written ----------------------------------------------------


def test_named_checkzone_rejection_removes_every_staged_file_and_activates_nothing(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.host.expect(script(apply.CHECK_DIR_SCRIPT), respond=ns1.on_check_dir)
    ns1.host.allow(script(apply.WRITE_SCRIPT), respond=ns1.on_write)
    ns1.host.expect(
        prefix("named-checkzone", ZONE),
        "zone example.com/IN: pc1.example.com/A 198.51.100.50: bad owner\n"
        "zone example.com/IN: not loaded due to errors.\n",
        status=1,
    )
    # Run beside named-checkzone (each loads the zone); its verdict comes second.
    not_loaded = "zone example.com/IN: not loaded due to errors.\n"
    ns1.host.expect(prefix("named-checkconf", "-z"), not_loaded, status=1)
    ns1.remove_check_copies()  # nothing was staged beside the live files yet

    with pytest.raises(ValidationError, match=r"^ns1: named-checkzone rejected zone example\.com: .*owner"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files == files
    assert ns1.staged_leftovers() == []
    assert scene.dns.zones(NS1) == {ZONE: OLD_SERIAL}


def test_named_checkconf_rejection(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.host.expect(script(apply.CHECK_DIR_SCRIPT), respond=ns1.on_check_dir)
    ns1.host.allow(script(apply.WRITE_SCRIPT), respond=ns1.on_write)
    ns1.host.expect(prefix("named-checkzone", ZONE), "OK\n")
    ns1.host.expect(
        prefix("named-checkconf", "-z"),
        respond=lambda call: failed(
            call, f"{ns1.check_dir}/etc/bind/named.conf.dnsctl:3: unknown option 'bogus'"
        ),
    )
    ns1.remove_check_copies()

    with pytest.raises(ValidationError) as caught:
        init_primary(scene.session(), ZONE)

    assert str(caught.value) == (
        "ns1: named-checkconf rejected the new configuration: "
        "/etc/bind/named.conf.dnsctl:3: unknown option 'bogus'"
    )
    assert ns1.host.files == files and ns1.staged_leftovers() == []


def test_a_failing_write_while_staging_changes_nothing(scene):
    ns1, files = older_primary(scene)
    ns1.host.write_error = lambda path: "No space left on device" if path.startswith("/var/lib/") else None
    ns1.preflight()
    ns1.validate((ZONE,))  # the copies in the private directory are written, checked
    ns1.remove_staged()  # the zone's staged file could not be written: its name is removed
    ns1.remove_check_copies()

    with pytest.raises(RolledBack, match=r"No space left on device; nothing was changed$"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files == files and ns1.staged_leftovers() == []


def test_a_broken_configuration_is_refused_untouched(scene):
    ns1, files = older_primary(scene)
    ns1.checkconf_error = "/etc/bind/named.conf.local:9: missing ';' before end of file"
    ns1.preflight()

    with pytest.raises(ValidationError, match=r"already fails named-checkconf \(/etc/bind/named\.conf"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files == files and ns1.host.writes == []


def test_a_zone_with_a_journal_is_refused(scene):
    ns1, _ = older_primary(scene)
    ns1.host.files[ZONE_FILE + ".jnl"] = "journal"
    ns1.preflight()

    with pytest.raises(ValidationError, match=r"example.com.db.jnl exists"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.writes == []


def test_stopped_firewalld_is_a_precondition(scene):
    ns1 = scene.server("ns1", firewall="not running")
    ns1.preflight(facts_only=True)
    with pytest.raises(PreconditionError, match="firewalld is installed but not running"):
        init_primary(scene.session(), ZONE)


def test_unknown_os_family_is_a_precondition(scene):
    ns1 = scene.server("ns1")
    ns1.os_release = "ID=alpine\n"
    ns1.preflight(facts_only=True)
    with pytest.raises(PreconditionError, match=r"set servers\.ns1\.layout"):
        init_primary(scene.session(), ZONE)


def test_a_held_lock_stops_the_run_before_any_command(scene):
    ns1 = scene.server("ns1")
    ns1.host.lock_error = LockBusy("ns1 (198.51.100.10): locked by dnsctl pid 7 on admin")
    with pytest.raises(LockBusy, match="locked by dnsctl pid 7"):
        init_primary(scene.session(), ZONE)
    assert ns1.host.calls == []


def test_answering_no_changes_nothing(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()

    def refuse(question: str) -> None:
        raise Aborted("aborted; nothing was changed")

    with pytest.raises(Aborted):
        init_primary(scene.session(confirm=refuse), ZONE)
    assert ns1.host.files == files and ns1.host.writes == []


# --- rolled back after activation -------------------------------------------------------------


def test_half_done_activation_is_rolled_back(scene):
    """Two of three files moved, then mv fails: both go back, the third is never left staged."""
    ns1 = scene.server("ns1")
    before = snapshot(ns1)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate(fail_at=2)
    ns1.open_firewall()  # beside the activation, which it does not depend on
    ns1.roll_back()

    with pytest.raises(RolledBack) as caught:
        init_primary(scene.session(), ZONE)

    assert str(caught.value).startswith("ns1: `dnsctl-activate /var/backups/dnsctl/")
    assert str(caught.value).endswith("Read-only file system; rolled back ns1 to the previous configuration")
    assert caught.value.exit_code == 5
    assert without_backups(ns1) == before
    assert ns1.staged_leftovers() == []
    assert scene.dns.zones(NS1) == {}


def test_named_not_serving_the_new_serial_rolls_back_to_the_old_content_above_it(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(loads=False)  # named keeps the old zone
    ns1.roll_back()

    with pytest.raises(RolledBack, match=f"does not serve {ZONE} serial {TODAY_SERIAL} after the change"):
        init_primary(scene.session(), ZONE)

    restored = TODAY_SERIAL + 1  # above the published serial, so secondaries follow it back
    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], restored)
    assert scene.dns.zones(NS1) == {ZONE: restored}
    assert ns1.staged_leftovers() == []


def test_secondary_reload_failure_rolls_back_primary_and_secondary(scene):
    ns1, ns1_files = older_primary(scene)
    ns2 = scene.server("ns2")
    ns2_files = snapshot(ns2)
    ns1.preflight()
    ns2.preflight()
    ns1.stage((ZONE,))
    ns2.stage(create_dir=True)
    ns1.activate()
    ns1.reload()
    ns2.activate()
    ns2.reload(fails=True)
    ns2.open_firewall()  # beside the activation, which it does not depend on
    ns2.roll_back(reload_fails=True)  # the reload fails again: named is restarted
    ns1.roll_back()

    with pytest.raises(RolledBack) as caught:
        add_slave(scene.session(), ZONE)

    assert str(caught.value) == (
        "ns2: `rndc reload` failed: rndc: 'reload' failed: failure; "
        "rolled back ns1, ns2 to the previous configuration"
    )
    assert ns1.host.files[ZONE_FILE] == render.with_serial(ns1_files[ZONE_FILE], TODAY_SERIAL + 1)
    assert without_backups(ns2) == ns2_files
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL + 1}
    assert scene.dns.zones(NS2) == {}
    assert ns1.staged_leftovers() == ns2.staged_leftovers() == []


def test_a_connection_lost_during_the_rollback_is_made_again(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(loads=False)
    ns1.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=ns1.on_make_dir)
    lost = dropped("ns1 (198.51.100.10)", "dnsctl-rollback")
    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), raises=lost)
    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), respond=ns1.on_roll_back)  # on the new connection
    ns1.host.expect(exactly("rndc", "reload"), respond=lambda call: ns1.on_rndc_reload(call, True, False))

    with pytest.raises(RolledBack, match=r"rolled back ns1 to the previous configuration$"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.reconnects == 1
    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], TODAY_SERIAL + 1)
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL + 1}


def test_rollback_that_fails_says_where_the_backups_are(scene):
    ns1, _ = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(loads=False)
    ns1.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=ns1.on_make_dir)
    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), raises=dropped("ns1 (198.51.100.10)", "dnsctl-rollback"))
    ns1.host.reconnect_error = RemoteError(
        "ns1 (198.51.100.10): unreachable on port 22: connection refused "
        "(gave up reconnecting after 3 attempts)"
    )

    with pytest.raises(RollbackFailed) as caught:
        init_primary(scene.session(), ZONE)

    message = str(caught.value)
    assert caught.value.exit_code == 6
    assert message.startswith(f"ns1: named does not serve {ZONE} serial {TODAY_SERIAL}")
    assert "; ROLLBACK FAILED: ns1: NOT rolled back (ns1 (198.51.100.10): unreachable on port 22" in message
    assert "the new files may be in place; the old ones are in /var/backups/dnsctl/" in message
    assert "\n" not in message


def test_rollback_that_does_not_bring_the_old_serial_back_fails(scene):
    ns1, _ = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(loads=False)
    ns1.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=ns1.on_make_dir)
    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), respond=ns1.on_roll_back)
    ns1.reload(loads=False)

    with pytest.raises(
        RollbackFailed,
        match=rf"ns1: rolled back, but serves {ZONE} serial {OLD_SERIAL}, not {TODAY_SERIAL + 1}",
    ):
        init_primary(scene.session(), ZONE)


def test_rollback_that_does_not_bring_the_old_records_back_fails(scene):
    ns1, _ = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.reload(loads=False)
    ns1.roll_back()
    scene.dns.rrset_problems[NS1] = ["pc1.example.com. A: expected 198.51.100.49, got 198.51.100.50"]

    with pytest.raises(
        RollbackFailed, match=r"does not answer the old records: pc1\.example\.com\. A: expected"
    ):
        init_primary(scene.session(), ZONE)


def test_a_named_that_was_not_running_is_stopped_again_on_rollback(scene):
    files = configured_files(OLDER, {ZONE: "primary"}, OLD_SERIAL)
    ns1 = scene.server("ns1", files=files, named_active=False, firewall="absent")
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    ns1.host.expect(exactly("systemctl", "enable", "named"))
    ns1.host.expect(starting("start"))  # "started", but named exits at once
    ns1.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=ns1.on_make_dir)
    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), respond=ns1.on_roll_back)
    ns1.host.expect(exactly("systemctl", "stop", "named"), respond=ns1.on_service)

    # Nothing was served before, so there is no old serial to prove: the host is as it was.
    with pytest.raises(RolledBack, match=f"does not serve {ZONE} serial {TODAY_SERIAL}"):
        init_primary(scene.session(), ZONE)

    assert not ns1.named_active
    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], TODAY_SERIAL + 1)


# --- Ctrl-C ----------------------------------------------------------------------------------


def ctrl_c_during(respond):
    """A responder that answers as respond does while the user presses Ctrl-C."""

    def answer(call):
        interrupt.request()
        return respond(call)

    return answer


def test_ctrl_c_before_activation_leaves_nothing(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.host.expect(script(apply.CHECK_DIR_SCRIPT), respond=ns1.on_check_dir)
    ns1.host.allow(script(apply.WRITE_SCRIPT), respond=ns1.on_write)
    ns1.host.expect(prefix("named-checkzone", ZONE), respond=ctrl_c_during(ns1.on_checkzone))
    ns1.remove_check_copies()

    with pytest.raises(KeyboardInterrupt):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files == files and ns1.staged_leftovers() == []
    assert not ns1.host.ran(script(apply.ACTIVATE_SCRIPT))


def test_ctrl_c_during_the_last_command_of_staging_leaves_nothing(scene):
    """The Ctrl-C is raised at the clean-up's own checkpoint: the clean-up still runs."""
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.validate((ZONE,))
    ns1.host.expect(script(apply.UNCHANGED_SCRIPT), respond=ctrl_c_during(ns1.on_unchanged))
    ns1.remove_check_copies()
    ns1.remove_staged()  # converge discards what the interrupted stage left staged

    with pytest.raises(KeyboardInterrupt):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files == files and ns1.staged_leftovers() == []


def test_ctrl_c_after_activation_rolls_back(scene):
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    reload_and_ctrl_c = ctrl_c_during(lambda call: ns1.on_rndc_reload(call, True, False))
    ns1.host.expect(exactly("rndc", "reload"), respond=reload_and_ctrl_c)
    ns1.roll_back()

    with pytest.raises(RolledBack, match=r"^interrupted; rolled back ns1 to the previous configuration$"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], TODAY_SERIAL + 1)
    assert dns.serial.Serial(scene.dns.zones(NS1)[ZONE]) > dns.serial.Serial(TODAY_SERIAL)


def test_second_ctrl_c_and_sigterm_during_the_rollback_wait_for_it(scene):
    """The first Ctrl-C starts the rollback; the ones during it are held until it is done:
    exit 5 with every host back, not 130 with the new zone live."""
    ns1, files = older_primary(scene)
    ns1.preflight()
    ns1.stage((ZONE,))
    ns1.activate()
    reload_and_ctrl_c = ctrl_c_during(lambda call: ns1.on_rndc_reload(call, True, False))
    ns1.host.expect(exactly("rndc", "reload"), respond=reload_and_ctrl_c)
    ns1.host.allow(script(apply.PRIVATE_DIR_SCRIPT), respond=ns1.on_make_dir)

    def roll_back_while_signalled(call):
        interrupt.request(signal.SIGINT)
        interrupt.request(signal.SIGTERM)
        return ns1.on_roll_back(call)

    ns1.host.expect(script(apply.ROLLBACK_SCRIPT), respond=roll_back_while_signalled)
    ns1.host.expect(exactly("rndc", "reload"), respond=lambda call: ns1.on_rndc_reload(call, True, False))

    with pytest.raises(RolledBack, match=r"^interrupted; rolled back ns1 to the previous configuration$"):
        init_primary(scene.session(), ZONE)

    assert ns1.host.files[ZONE_FILE] == render.with_serial(files[ZONE_FILE], TODAY_SERIAL + 1)
    assert scene.dns.zones(NS1) == {ZONE: TODAY_SERIAL + 1}
    with pytest.raises(KeyboardInterrupt):  # remembered for whatever would run next
        interrupt.checkpoint()


def test_a_failed_command_raises_command_failed_with_its_reason(scene):
    ns1 = scene.server("ns1", layout=RHEL, installed=False, firewall="absent")
    ns1.preflight()
    ns1.host.expect(prefix("dnf", "install"), stderr="Error: Unable to find a match: bind\n", status=1)
    with pytest.raises(CommandFailed, match="Unable to find a match: bind"):
        init_primary(scene.session(), ZONE)
