"""failover-test without root: the primary goes away, the client still resolves, the primary
always comes back, and a failed restore says what still protects the host.

ns1 and ns2 are simulated BIND servers already serving example.com; client1 points at
both. Stopping named on ns1 (or dropping DNS there) changes what FakeDns answers,
so the client's lookups move to ns2 as on the lab.
"""

from __future__ import annotations

import signal

import pytest

from dnsctl import interrupt, verify
from dnsctl.errors import PreconditionError, RemoteError, RollbackFailed, UsageError, VerifyError
from dnsctl.models import parse_inventory
from dnsctl.ops import failover_test
from dnsctl.ops.failover import DROP_RULE, SAFETY_UNIT, _asked_until_silent

from .fakes import dropped, exactly, prefix
from .simulated import BindServer, Scene, configured_files, starting
from .test_converge import NS1, NS2, inventory_data

INVENTORY = parse_inventory(inventory_data(("pc1", "A", "198.51.100.50")))
ZONE, PC1, SERIAL = "example.com", "pc1.example.com", 2026112500
TIMER = f"{SAFETY_UNIT}.timer"


@pytest.fixture
def scene(monkeypatch):
    scene = Scene(monkeypatch, INVENTORY)
    yield scene
    scene.fleet.verify()


@pytest.fixture
def lab(scene):
    """The tutorial after configure-client: ns1 primary, ns2 secondary, client1 on both."""
    ns1 = scene.server("ns1", files=configured_files(INVENTORY, {ZONE: "primary"}, SERIAL), dns_open=True)
    ns2 = scene.server("ns2", files=configured_files(INVENTORY, {ZONE: "secondary"}, SERIAL), dns_open=True)
    client = scene.client(
        "client1", servers=(NS1, NS2), ignore_auto_dns="yes", addresses={PC1: {"198.51.100.50"}}
    )
    assert scene.dns.zones(NS1) == scene.dns.zones(NS2) == {ZONE: SERIAL}
    return ns1, ns2, client


def resolve(client) -> None:
    client.resolve(PC1)
    client.dig(PC1)


def stop_named(ns1: BindServer) -> None:
    """A stale dead man's switch is cleared, a new one armed, then named stopped."""
    ns1.host.expect(exactly("systemctl", "stop", TIMER), stderr=f"Unit {TIMER} not loaded.\n", status=5)
    ns1.host.expect(prefix("systemd-run", f"--unit={SAFETY_UNIT}", "--on-active=300", "systemctl", "start"))
    ns1.host.expect(exactly("systemctl", "stop", "named"), respond=ns1.on_service)


def start_named(ns1: BindServer) -> None:
    ns1.host.expect(starting("start"), respond=ns1.on_service)
    ns1.host.expect(exactly("systemctl", "stop", TIMER))


def drop_dns(ns1: BindServer, scene: Scene) -> None:
    def add_rule(call):
        scene.dns.down[NS1] = "no answer (timeout)"

    ns1.host.expect(
        exactly("firewall-cmd", f"--add-rich-rule={DROP_RULE}", "--timeout=300"), respond=add_rule
    )


def allow_dns(ns1: BindServer, scene: Scene) -> None:
    def remove_rule(call):
        del scene.dns.down[NS1]

    ns1.host.expect(exactly("firewall-cmd", f"--remove-rich-rule={DROP_RULE}"), respond=remove_rule)


def test_failover_with_named_stopped(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    start_named(ns1)

    session = scene.session()
    failover_test(session, ZONE)

    assert session.report.data["failover"] is True
    output = scene.output
    assert f"before: resolve {PC1}: 198.51.100.50 from {NS1}" in output
    assert "primary stopped answering: refused (port unreachable)" in output
    assert f"during: resolve {PC1}: 198.51.100.50 from {NS2}" in output
    assert ns1.named_active and scene.dns.zones(NS1) == {ZONE: SERIAL}


def test_failover_with_dns_dropped(scene, lab):
    ns1, _, client = lab
    resolve(client)
    drop_dns(ns1, scene)
    resolve(client)
    allow_dns(ns1, scene)

    failover_test(scene.session(), ZONE, mode="drop")

    assert "primary stopped answering: no answer (timeout)" in scene.output
    assert NS1 not in scene.dns.down


def test_failover_that_does_not_work_still_brings_the_primary_back(scene, lab):
    ns1, ns2, client = lab
    ns2.stop_named()  # the secondary is down too: nobody answers during the test
    resolve(client)
    stop_named(ns1)
    resolve(client)
    start_named(ns1)

    with pytest.raises(VerifyError) as caught:
        failover_test(scene.session(), ZONE)

    assert str(caught.value) == (
        f"failover failed: with the primary down, {PC1} resolved to nothing from no server; "
        f"secondary ns2 does not serve {ZONE} (refused (port unreachable))"
    )
    assert ns1.named_active and scene.dns.zones(NS1) == {ZONE: SERIAL}


def test_ctrl_c_during_the_test_brings_the_primary_back(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)

    def getent_and_ctrl_c(call):
        interrupt.request()
        return client.on_getent(call)

    client.host.expect(exactly("getent", "ahostsv4", PC1), respond=getent_and_ctrl_c)
    start_named(ns1)

    with pytest.raises(KeyboardInterrupt):
        failover_test(scene.session(), ZONE)

    assert ns1.named_active and scene.dns.zones(NS1) == {ZONE: SERIAL}


def test_restore_that_fails_says_so_and_names_the_dead_mans_switch(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    ns1.host.expect(
        starting("start"),
        stderr="Job for named.service failed because the control process exited with error code.\n",
        status=1,
    )  # and the timer is left armed: it is what brings named back now

    with pytest.raises(RollbackFailed) as caught:
        failover_test(scene.session(), ZONE)

    assert caught.value.exit_code == 6
    assert str(caught.value) == (
        "could not bring the primary back: ns1: `systemctl start named` failed: Job for named.service "
        "failed because the control process exited with error code.; its dead man's switch, the systemd "
        f"timer {SAFETY_UNIT}, runs `systemctl start named` 5 minutes after the test began"
    )
    # Only a stale timer was stopped, before the test: the new one stays armed.
    assert ns1.host.commands().count(f"systemctl stop {TIMER}") == 1


def test_drop_rule_that_cannot_be_removed_says_it_expires(scene, lab):
    ns1, _, client = lab
    resolve(client)
    drop_dns(ns1, scene)
    resolve(client)
    ns1.host.expect(
        exactly("firewall-cmd", f"--remove-rich-rule={DROP_RULE}"),
        stderr="Error: DBUS_ERROR: firewalld is not running\n",
        status=252,
    )

    with pytest.raises(RollbackFailed) as caught:
        failover_test(scene.session(), ZONE, mode="drop")

    message = str(caught.value)
    assert message.startswith("could not bring the primary back: ns1: could not remove the drop rule: ")
    assert message.endswith("removes the firewalld drop rule 5 minutes after the test began")


def test_connection_lost_during_the_restore_is_made_again(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    lost = dropped("ns1 (198.51.100.10)", "systemctl start named")
    ns1.host.expect(starting("start"), raises=lost)
    start_named(ns1)  # again, on the new connection

    failover_test(scene.session(), ZONE)

    assert ns1.host.reconnects == 1 and ns1.named_active


def test_connection_that_cannot_be_made_again_during_the_restore(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    lost = dropped("ns1 (198.51.100.10)", "systemctl start named")
    ns1.host.expect(starting("start"), raises=lost)
    ns1.host.reconnect_error = RemoteError("ns1 (198.51.100.10): unreachable on port 22: timed out")

    with pytest.raises(RollbackFailed, match=r"unreachable on port 22: timed out; its dead man's switch"):
        failover_test(scene.session(), ZONE)


def test_primary_that_is_back_but_silent_is_a_failure(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    ns1.host.expect(starting("start"))  # "started", but named exits at once
    ns1.host.expect(exactly("systemctl", "stop", TIMER))

    with pytest.raises(
        RollbackFailed,
        match=rf"^could not bring the primary back: ns1: does not answer {ZONE} again \(refused",
    ):
        failover_test(scene.session(), ZONE)


def test_signals_during_the_restore_wait_for_it(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)

    def start_while_signalled(call):
        interrupt.request(signal.SIGTERM)
        interrupt.request(signal.SIGHUP)
        return ns1.on_service(call)

    ns1.host.expect(starting("start"), respond=start_while_signalled)
    ns1.host.expect(exactly("systemctl", "stop", TIMER))

    with pytest.raises(KeyboardInterrupt):  # once the primary is back
        failover_test(scene.session(), ZONE)

    assert ns1.named_active and scene.dns.zones(NS1) == {ZONE: SERIAL}


def test_the_test_holds_the_lock_of_the_client_and_the_primary(scene, lab):
    ns1, _, client = lab
    resolve(client)
    stop_named(ns1)
    resolve(client)
    start_named(ns1)

    failover_test(scene.session(), ZONE)

    assert len(ns1.host.locks) == len(client.host.locks) == 1


def test_primary_that_does_not_serve_the_zone_cannot_start_the_test(scene, lab):
    scene.dns.unserve(NS1, ZONE)
    with pytest.raises(PreconditionError, match="run init-primary first"):
        failover_test(scene.session(), ZONE)


def test_client_that_does_not_ask_the_primary_cannot_start_the_test(scene, lab):
    _, _, client = lab
    client.active["ipv4.dns"] = NS2
    client.write_resolv_conf()
    resolve(client)
    with pytest.raises(PreconditionError, match=r"from 198\.51\.100\.11; expected .*run configure-client"):
        failover_test(scene.session(), ZONE)


def test_client_without_dig(scene, lab):
    _, _, client = lab
    client.resolve(PC1)
    client.host.expect(prefix("dig"), stderr="sh: 1: dig: not found\n", status=127)
    with pytest.raises(PreconditionError, match="dig is not installed"):
        failover_test(scene.session(), ZONE)


def test_names_are_checked_before_any_host_is_contacted(scene):
    with pytest.raises(UsageError, match=r"^--name: "):
        failover_test(scene.session(), ZONE, name="bad name!")
    lonely = inventory_data(("pc1", "A", "198.51.100.50"))
    lonely["zones"][ZONE]["secondaries"] = []
    scene.inventory = parse_inventory(lonely)
    with pytest.raises(UsageError, match="has no secondaries"):
        failover_test(scene.session(), ZONE)


# --- is the primary silent? ---------------------------------------------------------------------

ANSWERED = verify.SoaAnswer(SERIAL, True, "NOERROR")
SILENT = verify.SoaAnswer(None, False, "", error="timed out")


@pytest.mark.parametrize(
    ("answers", "asked", "result"),
    [
        ([SILENT], 1, SILENT),
        ([ANSWERED, SILENT], 2, SILENT),  # the first on a flow conntrack already accepted
        ([ANSWERED, ANSWERED, ANSWERED], 3, ANSWERED),  # the rule really does not hold
    ],
)
def test_the_primary_is_asked_again_before_it_counts_as_answering(monkeypatch, answers, asked, result):
    left = list(answers)
    monkeypatch.setattr(verify, "soa", lambda address, zone, timeout: left.pop(0))
    assert _asked_until_silent(NS1, ZONE) == result
    assert len(answers) - len(left) == asked
