"""configure-client without root: plan, dry run, a second run, and the way back to the old settings.

client1 is a simulated NetworkManager client (tests/simulated.py): nmcli changes
its connection's settings, `nmcli connection up` makes them active and writes
resolv.conf, and getent answers when a server in resolv.conf serves the zone.
"""

from __future__ import annotations

import pytest

from dnsctl import interrupt
from dnsctl.errors import PreconditionError, RollbackFailed, RolledBack, UsageError
from dnsctl.facts.scripts import NM_READ_SCRIPT
from dnsctl.models import parse_inventory
from dnsctl.ops import configure_client

from .fakes import exactly, prefix, script
from .simulated import Scene
from .test_converge import NS1, NS2, inventory_data

INVENTORY = parse_inventory(inventory_data(("pc1", "A", "198.51.100.50")))
PC1 = "pc1.example.com"
SERIAL = 2026112500


@pytest.fixture
def scene(monkeypatch):
    scene = Scene(monkeypatch, INVENTORY)
    scene.dns.serve(NS1, "example.com", SERIAL)
    scene.dns.serve(NS2, "example.com", SERIAL)
    yield scene
    scene.fleet.verify()


def fresh_client(scene: Scene, **state):
    """client1 with DHCP-given DNS only, as NetworkManager leaves a new connection."""
    return scene.client("client1", addresses={PC1: {"198.51.100.50"}}, **state)


def configured_client(scene: Scene):
    return fresh_client(scene, servers=(NS1, NS2), ignore_auto_dns="yes")


def test_configure_a_fresh_client(scene):
    client = fresh_client(scene)
    client.read()
    client.set_dns()
    client.resolve(PC1)

    configure_client(scene.session())

    assert client.active == {
        "ipv4.dns": f"{NS1} {NS2}",
        "ipv4.ignore-auto-dns": "yes",
        "ipv4.dns-options": "",
    }
    assert client.nameservers() == [NS1, NS2]
    output = scene.output
    assert f"plan: ipv4.dns: (none) -> {NS1} {NS2}; ipv4.ignore-auto-dns: no -> yes" in output
    assert f"verify /etc/resolv.conf: nameservers {NS1} {NS2}" in output
    assert f"getent resolves {PC1}: 198.51.100.50" in output


def test_dns_options_are_set_with_nmcli_escaping_read_back(scene):
    client = configured_client(scene)
    client.read()
    client.set_dns()
    client.resolve(PC1)
    configure_client(scene.session(), dns_options="timeout:1,attempts:1")
    assert client.active["ipv4.dns-options"] == "timeout:1,attempts:1"
    assert client.host.files["/etc/resolv.conf"].endswith("options timeout:1 attempts:1\n")

    client.read()  # nmcli -g shows it as timeout\:1,attempts\:1: the same, so nothing to do
    client.resolve(PC1)
    configure_client(scene.session(), dns_options="timeout:1,attempts:1")
    assert "plan: no changes" in scene.output


def test_dry_run_changes_nothing(scene):
    client = fresh_client(scene)
    before = dict(client.settings), dict(client.host.files)
    client.read()

    configure_client(scene.session(dry_run=True))

    assert (client.settings, client.host.files) == before
    assert f"ipv4.dns: (none) -> {NS1} {NS2}" in scene.output
    assert "dry run: nothing was changed" in scene.output


def test_a_second_run_changes_nothing_and_still_verifies(scene):
    client = configured_client(scene)
    client.read()
    client.resolve(PC1)

    configure_client(scene.session())

    assert not client.host.ran(prefix("nmcli", "connection", "modify"))
    assert "client1               plan: no changes" in scene.output
    assert f"getent resolves {PC1}: 198.51.100.50" in scene.output


def test_connection_that_does_not_come_up_gets_its_previous_settings_back(scene):
    client = fresh_client(scene)
    before = dict(client.settings)
    client.read()
    client.set_dns(up_fails=True)
    client.set_dns()  # the previous settings, and the connection up again
    client.read()  # dnsctl reads them back to prove it

    with pytest.raises(RolledBack) as caught:
        configure_client(scene.session())

    assert str(caught.value) == (
        "client1: `nmcli connection up lab` failed: Error: Connection activation failed: "
        "IP configuration could not be reserved; client1 has its previous DNS settings again"
    )
    assert client.settings == before == client.active
    restore = client.host.calls[-3]
    assert restore.words == (
        "nmcli", "connection", "modify", "lab",
        "ipv4.dns", "", "ipv4.ignore-auto-dns", "no", "ipv4.dns-options", "",
    )  # fmt: skip


def test_resolv_conf_nobody_could_write_rolls_back(scene):
    """NetworkManager takes the new settings but cannot write resolv.conf (a read-only mount)."""
    client = configured_client(scene)
    client.resolv_conf_writable = False
    before = dict(client.settings)
    client.read()
    client.set_dns()
    client.set_dns()
    client.read()

    with pytest.raises(RolledBack) as caught:
        configure_client(scene.session(), dns_servers=[NS2, NS1])

    assert str(caught.value) == (
        f"client1: /etc/resolv.conf lists {NS1} {NS2}, expected {NS2} {NS1}; "
        "client1 has its previous DNS settings again"
    )
    assert client.settings == before == client.active


def test_client_that_cannot_resolve_afterwards_rolls_back(scene):
    client = fresh_client(scene)
    client.addresses.clear()  # e.g. nsswitch.conf says `hosts: files`: DNS is never asked
    client.read()
    client.set_dns()
    client.resolve(PC1)
    client.set_dns()
    client.read()

    with pytest.raises(RolledBack, match=f"getent {PC1} gave nothing, expected 198.51.100.50"):
        configure_client(scene.session(), dns_servers=[NS1, NS2])


def test_ctrl_c_while_the_connection_comes_up_rolls_back(scene):
    client = fresh_client(scene)
    before = dict(client.settings)
    client.read()
    client.host.expect(prefix("nmcli", "connection", "modify", "lab"), respond=client.on_modify)

    def up_and_ctrl_c(call):
        interrupt.request()
        return client.on_up(call, fails=False)

    client.host.expect(exactly("nmcli", "connection", "up", "lab"), respond=up_and_ctrl_c)
    client.set_dns()
    client.read()

    with pytest.raises(RolledBack, match=r"^interrupted; client1 has its previous DNS settings again$"):
        configure_client(scene.session())

    assert client.settings == before == client.active


def test_restore_that_fails_is_rollback_failed_naming_the_old_settings(scene):
    client = configured_client(scene)
    client.read()
    client.set_dns(up_fails=True)
    client.set_dns(up_fails=True)  # the connection does not come back up with the old settings either

    with pytest.raises(RollbackFailed) as caught:
        configure_client(scene.session(), dns_servers=[NS2])

    message = str(caught.value)
    assert caught.value.exit_code == 6
    assert message.startswith("client1: `nmcli connection up lab` failed: Error: Connection activation")
    assert "; ROLLBACK FAILED on client1: client1: `nmcli connection up lab` failed:" in message
    assert message.endswith(f"its connection lab had DNS {NS1} {NS2}")


def test_restore_that_does_not_take_is_rollback_failed(scene):
    client = fresh_client(scene)
    client.read()
    client.set_dns(up_fails=True)
    # The old settings are given, but NetworkManager keeps the new ones (e.g. a profile it
    # cannot write, read-only /etc/NetworkManager).
    client.host.expect(prefix("nmcli", "connection", "modify", "lab"))
    client.host.expect(exactly("nmcli", "connection", "up", "lab"), respond=lambda c: client.on_up(c, False))
    client.read()

    with pytest.raises(RollbackFailed, match=rf"DNS is {NS1} {NS2}, expected \(none\)"):
        configure_client(scene.session())


def test_no_active_connection_is_a_precondition(scene):
    client = fresh_client(scene)
    client.host.expect(script(NM_READ_SCRIPT), stderr="no active NetworkManager connection\n", status=3)
    with pytest.raises(PreconditionError, match=r"^client1: no active NetworkManager connection$"):
        configure_client(scene.session())


def test_nothing_served_yet_skips_the_lookup(scene):
    scene.dns.answers.clear()
    client = fresh_client(scene)
    client.read()
    client.set_dns()

    configure_client(scene.session())

    assert "--   client1" in scene.output and "no zone with an address record is served yet" in scene.output


def test_usage_errors_touch_no_host(scene):
    with pytest.raises(UsageError, match="nosuch"):
        configure_client(scene.session(), clients=["nosuch"])
    empty = parse_inventory({"servers": {"ns1": {"address": NS1}}})
    scene.inventory = empty
    with pytest.raises(UsageError, match="no clients in the inventory"):
        configure_client(scene.session())
