"""Faults and bad input: each run ends with its documented exit code, a one-line
reason, no half-written file, and every server still answering its old data."""

from __future__ import annotations

import pytest

from dnsctl.remote import Connection, Target

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, interrupt_at, set_up, with_record
from .served import Prober, authoritative_answer, served_serial

pytestmark = pytest.mark.lab

ZONE = """
[zones."faults.test"]
primary = "ns1"
secondaries = ["ns2"]

[[zones."faults.test".records]]
name = "www"
type = "A"
value = "198.51.100.80"
"""


STATE_SCRIPT = r"""
for f in /etc/bind/* /var/lib/bind/*; do
  [ -f "$f" ] || continue
  printf '%s ' "$f"
  sed -E 's/^[[:space:]]+[0-9]+ ; serial$/SERIAL/' "$f" | md5sum
done
"""


def state(the_lab, host: str) -> str:
    """Checksums of every file dnsctl may touch, zone serials aside: a rolled-back
    zone has its old content under a higher serial, so that secondaries follow."""
    return the_lab.exec(host, "sh", "-c", STATE_SCRIPT).stdout


@pytest.fixture(scope="module")
def faults(the_lab, tmp_path_factory):
    """An inventory with faults.test, set up on both servers before the faults begin."""
    inventory = the_lab.write_inventory(tmp_path_factory.mktemp("faults") / "faults.toml", extra=ZONE)
    set_up(inventory, "faults.test")
    return inventory


def assert_untouched(the_lab, before: dict[str, str], old_serial: int) -> None:
    for host, text in before.items():
        assert state(the_lab, host) == text, f"{host} changed"
        assert the_lab.leftovers(host) == ""
    assert served_serial(NS1, "faults.test") == old_serial
    assert served_serial(NS2, "faults.test") is not None  # it may still be catching up by NOTIFY


STRICTER_CHECKZONE = "#!/bin/sh\necho 'zone faults.test/IN: refused by local policy' >&2\nexit 1\n"


def test_zone_rejected_by_named_checkzone(the_lab, faults, tmp_path):
    # The inventory refuses every zone it knows named would; a host whose
    # named-checkzone is stricter still (another BIND, a local wrapper) gets exit 4.
    inventory = with_record(faults, tmp_path, "faults.test", "strict", "198.51.100.79")
    before = {"ns1": state(the_lab, "ns1")}
    old = served_serial(NS1, "faults.test")
    install = "cat > /run/named-checkzone && chmod 755 /run/named-checkzone"
    the_lab.exec("ns1", "sh", "-c", install, input=STRICTER_CHECKZONE)
    the_lab.exec("ns1", "mount", "--bind", "/run/named-checkzone", "/usr/bin/named-checkzone")
    try:
        with Prober(NS1, "faults.test") as prober:
            result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
    finally:
        the_lab.exec("ns1", "umount", "/usr/bin/named-checkzone")
    assert result.returncode == 4, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "named-checkzone" in result.stderr
    assert prober.asked > 5 and prober.misses == []
    assert_untouched(the_lab, before, old)


def test_existing_config_already_broken(the_lab, faults, tmp_path):
    local = the_lab.read("ns1", "/etc/bind/named.conf.local")
    the_lab.exec(
        "ns1", "sh", "-c", "printf 'zone \"bad.test\" { type nonsense; };\\n' >> /etc/bind/named.conf.local"
    )
    try:
        before = {"ns1": state(the_lab, "ns1")}
        inventory = with_record(faults, tmp_path, "faults.test", "new", "198.51.100.81")
        result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
        assert result.returncode == 4, result.stdout + result.stderr
        assert "already fails named-checkconf" in result.stderr
        assert state(the_lab, "ns1") == before["ns1"]
    finally:
        the_lab.exec("ns1", "sh", "-c", "cat > /etc/bind/named.conf.local", input=local)


def test_one_host_of_three_unreachable(the_lab, faults, tmp_path):
    text = faults.read_text().replace('secondaries = ["ns2"]', 'secondaries = ["ns2", "ns3"]')
    text = text.replace("[ssh]\n", "[ssh]\nconnect_timeout = 3\n", 1)
    text += '\n[servers.ns3]\naddress = "198.51.100.19"\n'
    inventory = tmp_path / "three.toml"
    inventory.write_text(text)
    before = {"ns1": state(the_lab, "ns1"), "ns2": state(the_lab, "ns2")}
    old = served_serial(NS1, "faults.test")
    result = dnsctl("add-slave", "faults.test", "--yes", inventory=inventory)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "ns3" in result.stderr and result.stderr.count("\n") == 1
    assert_untouched(the_lab, before, old)


def test_firewalld_not_running(the_lab, faults, tmp_path):
    the_lab.exec("ns2", "systemctl", "stop", "firewalld")
    try:
        inventory = with_record(faults, tmp_path, "faults.test", "fw", "198.51.100.82")
        before = {"ns1": state(the_lab, "ns1"), "ns2": state(the_lab, "ns2")}
        old = served_serial(NS1, "faults.test")
        result = dnsctl("add-slave", "faults.test", "--yes", inventory=inventory)
        assert result.returncode == 7, result.stdout + result.stderr
        assert "firewalld" in result.stderr and "--no-firewall" in result.stderr
        assert_untouched(the_lab, before, old)
        dnsctl_ok("add-slave", "faults.test", "--yes", "--no-firewall", inventory=inventory)
        assert served_serial(NS2, "faults.test") == served_serial(NS1, "faults.test") != old
    finally:
        the_lab.exec("ns2", "systemctl", "start", "firewalld")


def test_read_only_config_directory(the_lab, faults, tmp_path):
    inventory = the_lab.write_inventory(
        tmp_path / "ro.toml", extra=ZONE.replace("faults.test", "readonly.test")
    )
    the_lab.exec("ns1", "mount", "-o", "bind,ro", "/etc/bind", "/etc/bind")
    try:
        before = {"ns1": state(the_lab, "ns1")}
        with Prober(NS1, "faults.test") as prober:
            result = dnsctl("init-primary", "readonly.test", "--yes", inventory=inventory)
        assert result.returncode == 5, result.stdout + result.stderr
        assert "nothing was changed" in result.stderr and result.stderr.count("\n") == 1
        assert prober.misses == []
    finally:
        the_lab.exec("ns1", "umount", "/etc/bind")
    assert state(the_lab, "ns1") == before["ns1"]
    assert the_lab.leftovers("ns1") == ""


def test_lock_held_by_another_run(the_lab, faults):
    holder = Connection(
        Target(
            "ns1",
            NS1,
            key=str(the_lab.state_dir / "id_ed25519"),
            known_hosts=str(the_lab.state_dir / "known_hosts"),
        )
    ).connect()
    try:
        holder.lock("the test's other run")
        result = dnsctl("init-primary", "faults.test", "--yes", inventory=faults)
        assert result.returncode == 7, result.stdout + result.stderr
        assert "locked by the test's other run" in result.stderr
    finally:
        holder.close()
    dnsctl_ok("init-primary", "faults.test", "--yes", inventory=faults)


def test_zone_with_a_journal(the_lab, faults, tmp_path):
    the_lab.exec("ns1", "touch", "/var/lib/bind/faults.test.db.jnl")
    try:
        inventory = with_record(faults, tmp_path, "faults.test", "jnl", "198.51.100.83")
        before = {"ns1": state(the_lab, "ns1")}
        old = served_serial(NS1, "faults.test")
        result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
        assert result.returncode == 4, result.stdout + result.stderr
        assert ".jnl" in result.stderr
        assert_untouched(the_lab, before, old)
    finally:
        the_lab.exec("ns1", "rm", "-f", "/var/lib/bind/faults.test.db.jnl")


def test_failed_reload_is_rolled_back(the_lab, faults, tmp_path):
    # rndc that fails once it is asked to reload: the change is activated, then undone.
    the_lab.exec("ns1", "mv", "/usr/sbin/rndc", "/usr/sbin/rndc.real")
    the_lab.exec(
        "ns1",
        "sh",
        "-c",
        "printf '#!/bin/sh\\necho rndc: connection refused >&2\\nexit 1\\n' "
        "> /usr/sbin/rndc && chmod 755 /usr/sbin/rndc",
    )
    try:
        inventory = with_record(faults, tmp_path, "faults.test", "rb", "198.51.100.84")
        before = {"ns1": state(the_lab, "ns1")}
        old = served_serial(NS1, "faults.test")
        result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
        assert result.returncode == 5, result.stdout + result.stderr
        assert "rolled back" in result.stderr and result.stderr.count("\n") == 1
        assert state(the_lab, "ns1") == before["ns1"]
        assert the_lab.leftovers("ns1") == ""
        assert served_serial(NS1, "faults.test") > old  # old content, newer serial
    finally:
        the_lab.exec("ns1", "mv", "-f", "/usr/sbin/rndc.real", "/usr/sbin/rndc")


def test_ctrl_c_between_upload_and_activation(the_lab, faults, tmp_path):
    inventory = with_record(faults, tmp_path, "faults.test", "int", "198.51.100.85")
    before = {"ns1": state(the_lab, "ns1")}
    old = served_serial(NS1, "faults.test")
    # Staged and being validated: nothing is activated yet.
    code, rest = interrupt_at("named-checkzone", inventory, "init-primary", "faults.test")
    assert code == 130, rest
    assert "interrupted" in rest
    assert state(the_lab, "ns1") == before["ns1"]
    assert the_lab.leftovers("ns1") == ""
    assert served_serial(NS1, "faults.test") == old


def test_dry_run_changes_nothing_and_shows_the_diff(the_lab, faults, tmp_path):
    inventory = with_record(faults, tmp_path, "faults.test", "dry", "198.51.100.86")
    before = {"ns1": state(the_lab, "ns1")}
    code, document = dnsctl_json("init-primary", "faults.test", "--dry-run", inventory=inventory)
    assert code == 0, document
    diff = document["plan"]["ns1"]["diff"]
    assert "+dry\tIN A 198.51.100.86" in diff
    assert state(the_lab, "ns1") == before["ns1"]
    assert the_lab.leftovers("ns1") == ""


def test_sudo_that_would_prompt(the_lab, faults, tmp_path):
    the_lab.exec(
        "ns1",
        "sh",
        "-c",
        "id deploy >/dev/null 2>&1 || useradd -m -s /bin/sh deploy; "
        "mkdir -p ~deploy/.ssh && cp /root/.ssh/authorized_keys ~deploy/.ssh/ && "
        "chown -R deploy: ~deploy/.ssh; rm -f /etc/sudoers.d/deploy",
    )
    text = faults.read_text().replace(
        '[servers.ns1]\naddress = "198.51.100.10"',
        '[servers.ns1]\naddress = "198.51.100.10"\nuser = "deploy"',
    )
    inventory = tmp_path / "deploy.toml"
    inventory.write_text(text)
    before = {"ns1": state(the_lab, "ns1")}
    result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "sudo would prompt" in result.stderr and result.stderr.count("\n") == 1
    assert state(the_lab, "ns1") == before["ns1"]
    # With NOPASSWD the same user works, every command going through sudo -n.
    the_lab.exec("ns1", "sh", "-c", "echo 'deploy ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/deploy")
    try:
        allowed = dnsctl_ok("init-primary", "faults.test", "--yes", inventory=inventory)
        assert "no changes" in allowed.stdout
    finally:
        the_lab.exec("ns1", "rm", "-f", "/etc/sudoers.d/deploy")


def test_ctrl_c_during_failover_brings_the_primary_back(the_lab, faults):
    assert dnsctl("configure-client", "--yes", inventory=faults).returncode == 0
    # The primary is going down.
    code, rest = interrupt_at("systemctl stop named", faults, "failover-test", "faults.test")
    assert code == 130, rest
    assert the_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"
    assert served_serial(NS1, "faults.test") is not None


def test_ctrl_c_after_activation_rolls_back(the_lab, faults, tmp_path):
    inventory = with_record(faults, tmp_path, "faults.test", "late", "198.51.100.87")
    before = {"ns1": state(the_lab, "ns1")}
    old = served_serial(NS1, "faults.test")
    # The new files are going into place.
    code, rest = interrupt_at("dnsctl-activate", inventory, "init-primary", "faults.test")
    assert code == 5, rest
    assert "interrupted; rolled back ns1" in rest
    assert state(the_lab, "ns1") == before["ns1"]
    assert the_lab.leftovers("ns1") == ""
    assert served_serial(NS1, "faults.test") > old  # old content, newer serial


def test_a_change_reloads_without_dropping_a_query(the_lab, faults, tmp_path):
    inventory = with_record(faults, tmp_path, "faults.test", "reload", "198.51.100.88")
    pid = the_lab.exec("ns1", "systemctl", "show", "named", "-p", "MainPID").stdout
    with Prober(NS1, "faults.test") as prober:
        result = dnsctl("init-primary", "faults.test", "--yes", inventory=inventory)
    assert result.returncode == 0, result.stdout + result.stderr
    assert prober.asked > 5 and prober.misses == []
    assert the_lab.exec("ns1", "systemctl", "show", "named", "-p", "MainPID").stdout == pid


def test_restart_when_asked(the_lab, faults, tmp_path):
    inventory = with_record(faults, tmp_path, "faults.test", "restart", "198.51.100.89")
    pid = the_lab.exec("ns1", "systemctl", "show", "named", "-p", "MainPID").stdout
    result = dnsctl_ok("init-primary", "faults.test", "--yes", "--restart", inventory=inventory)
    assert "restart" in result.stdout
    assert the_lab.exec("ns1", "systemctl", "show", "named", "-p", "MainPID").stdout != pid
    assert served_serial(NS1, "faults.test") is not None


def test_restart_past_systemds_start_limit(the_lab, faults, tmp_path):
    """named restarted too often for systemd (start-limit-hit) is still restarted when asked."""
    for _ in range(20):
        the_lab.exec("ns1", "systemctl", "restart", "named", check=False)
        result = the_lab.exec("ns1", "systemctl", "show", "named", "-p", "Result", "--value").stdout
        if result.strip() == "start-limit-hit":
            break
    else:
        pytest.fail("systemd never refused to start named again")
    inventory = with_record(faults, tmp_path, "faults.test", "limited", "198.51.100.90")
    dnsctl_ok("init-primary", "faults.test", "--yes", "--restart", inventory=inventory)
    assert the_lab.exec("ns1", "systemctl", "is-active", "named").stdout.strip() == "active"
    assert authoritative_answer(NS1, "limited.faults.test", "A") == ("NOERROR", {"198.51.100.90"})
