"""TSIG for zone transfers on the lab: tsig turned on for a zone in service, AXFR with the key
accepted and without it refused (from the secondary and from the control machine), a second
run that plans nothing, secrets absent from everything dnsctl prints, and `tsig rotate` while
the secondary is made to transfer again and again, with not one transfer failing.

Every result is checked without dnsctl: the keys are read from the hosts' files, transfers
are asked for with dnspython from this machine and with dig on ns2, and named's log on each
server says what it did.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from pathlib import Path

import dns.exception
import dns.query
import dns.tsig
import dns.tsigkeyring
import dns.xfr
import dns.zone
import pytest

from dnsctl import lab

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok, set_up
from .served import served_serial

pytestmark = pytest.mark.lab

ZONE = "tsig.test"
SHARED_ZONES = ("shared-a.test", "shared-b.test")
SHARED_KEY = "transfer.shared"
KEY_FILE = "/etc/bind/named.conf.dnsctl-keys"
MANAGED = "/etc/bind/named.conf.dnsctl"

ZONES = """
[zones."tsig.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]
#TSIG

[[zones."tsig.test".records]]
name = "www"
type = "A"
value = "198.51.100.70"

[zones."shared-a.test"]
primary = "ns1"
secondaries = ["ns2"]
tsig = "transfer.shared"

[zones."shared-b.test"]
primary = "ns1"
secondaries = ["ns2"]
tsig = "transfer.shared"
"""

KEY = re.compile(r'key "([^"]+)" \{\s*algorithm ([\w-]+);\s*secret "([^"]+)";\s*\};')


def keys_on(the_lab, host: str) -> dict[str, str]:
    """The keys in a host's key file, name -> secret, read inside the host."""
    return {name: secret for name, _, secret in KEY.findall(the_lab.read(host, KEY_FILE))}


def generations(the_lab, host: str, key: str) -> dict[str, str]:
    return {name: secret for name, secret in keys_on(the_lab, host).items() if name.startswith(key + ".")}


def axfr(zone: str, key: tuple[str, str] | None = None, server: str = NS1) -> str:
    """A zone transfer from this machine: "ok N records" or why it failed."""
    signed = {}
    if key is not None:
        signed = {"keyring": dns.tsigkeyring.from_text({key[0]: ("hmac-sha256", key[1])}), "keyname": key[0]}
    try:
        transferred = dns.zone.from_xfr(dns.query.xfr(server, zone, timeout=5, lifetime=10, **signed))
    except dns.xfr.TransferError as exc:
        return f"refused: {exc}"
    except dns.tsig.PeerError as exc:
        return f"refused: {exc.__class__.__name__}"
    except (dns.exception.DNSException, OSError) as exc:
        return f"failed: {exc!r}"
    return f"ok {sum(len(rdataset) for _, rdataset in transferred.iterate_rdatasets())} records"


def dig_axfr_on_ns2(the_lab, zone: str, key: tuple[str, str] | None) -> str:
    """`dig AXFR` run on ns2 against the primary, with the key in a file of its own when given."""
    argv = ["dig", f"@{NS1}", zone, "AXFR", "+nocomments"]
    if key is not None:
        statement = f'key "{key[0]}" {{\n\talgorithm hmac-sha256;\n\tsecret "{key[1]}";\n}};\n'
        the_lab.exec("ns2", "sh", "-c", "umask 077 && cat > /run/dig.key", input=statement)
        argv[1:1] = ["-k", "/run/dig.key"]
    return the_lab.exec("ns2", *argv, check=False).stdout


def log_since(the_lab, host: str, since: int) -> list[str]:
    """named's log lines on a host since a time (seconds since the epoch, the host's clock)."""
    argv = ["journalctl", "-u", "named", "--since", f"@{since}", "-o", "cat", "--no-pager"]
    return the_lab.exec(host, *argv).stdout.splitlines()


@pytest.fixture(scope="module")
def inventories(the_lab, tmp_path_factory) -> tuple[Path, Path]:
    """The zones without tsig, set up on both servers; and the inventory that turns it on."""
    directory = tmp_path_factory.mktemp("tsig")
    plain = the_lab.write_inventory(directory / "plain.toml", extra=ZONES.replace("#TSIG", ""))
    signed = the_lab.write_inventory(directory / "tsig.toml", extra=ZONES.replace("#TSIG", "tsig = true"))
    set_up(plain, ZONE)
    return plain, signed


@pytest.fixture(scope="module")
def signed(the_lab, inventories) -> Path:
    """tsig turned on for tsig.test, which is in service."""
    inventory = inventories[1]
    result = dnsctl_ok("add-slave", ZONE, "--yes", inventory=inventory)
    assert f"force a transfer of {ZONE} with key {ZONE}." in result.stdout
    return inventory


def test_tsig_turned_on_for_a_zone_in_service(the_lab, signed):
    primary_keys, secondary_keys = generations(the_lab, "ns1", ZONE), generations(the_lab, "ns2", ZONE)
    assert len(primary_keys) == 1 and primary_keys == secondary_keys
    (name,) = primary_keys
    assert re.fullmatch(rf"{re.escape(ZONE)}\.\d{{14}}", name)
    for host in ("ns1", "ns2"):  # only root and named can read the secret
        owner = the_lab.exec(host, "stat", "-c", "%a %U %G", KEY_FILE).stdout.split()
        assert owner == ["640", "root", "bind"]
    assert f'allow-transfer {{ key "{name}"; }};' in the_lab.read("ns1", MANAGED)
    assert f'masters {{ {NS1} key "{name}"; }};' in the_lab.read("ns2", MANAGED)
    assert served_serial(NS2, ZONE) == served_serial(NS1, ZONE) is not None


def test_axfr_with_the_key_is_accepted_and_without_it_refused(the_lab, signed):
    ((name, secret),) = generations(the_lab, "ns1", ZONE).items()
    assert axfr(ZONE, (name, secret)).startswith("ok ")
    assert axfr(ZONE).startswith("refused")
    assert axfr(ZONE, (name, "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=")) == "refused: PeerBadSignature"
    # From the secondary's own address, which no longer suffices without the key:
    assert "www.tsig.test." in dig_axfr_on_ns2(the_lab, ZONE, (name, secret))
    assert "Transfer failed." in dig_axfr_on_ns2(the_lab, ZONE, None)


def test_a_second_run_plans_nothing(signed):
    for command in ("init-primary", "add-slave"):
        result = dnsctl_ok(command, ZONE, "--yes", inventory=signed)
        assert "new TSIG key" not in result.stdout
        assert "ns1                   plan: no changes" in result.stdout
    assert "ns2                   plan: no changes" in result.stdout


def test_status_and_doctor_see_a_healthy_signed_pair(signed):
    for command in ("status", "doctor"):
        result = dnsctl_ok(command, ZONE, inventory=signed)
    assert f"signed with key {ZONE}." in result.stdout  # doctor transferred as ns2 does


def test_doctor_names_a_wrong_secret_and_add_slave_puts_the_key_back(the_lab, signed):
    ((name, secret),) = generations(the_lab, "ns2", ZONE).items()
    wrong = "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE="
    the_lab.exec("ns2", "sed", "-i", f"s|{secret}|{wrong}|", KEY_FILE)
    the_lab.exec("ns2", "rndc", "reconfig")
    broken = dnsctl("doctor", ZONE, inventory=signed)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "BADSIG" in broken.stdout and f"key {name}" in broken.stdout
    assert wrong not in broken.stdout + broken.stderr and secret not in broken.stdout + broken.stderr

    repaired = dnsctl_ok("add-slave", ZONE, "--yes", inventory=signed)
    assert f"update {KEY_FILE}" in repaired.stdout
    assert generations(the_lab, "ns2", ZONE) == {name: secret}
    assert dnsctl("doctor", ZONE, inventory=signed).returncode == 0


def shown(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_a_shared_key_and_no_secret_in_anything_dnsctl_prints(the_lab, signed):
    outputs = [
        shown(dnsctl("-v", "add-slave", SHARED_ZONES[0], "--yes", inventory=signed)),
        shown(dnsctl("-v", "--json", "add-slave", SHARED_ZONES[1], "--yes", inventory=signed)),
    ]
    ((name, secret),) = generations(the_lab, "ns1", SHARED_KEY).items()
    for zone in SHARED_ZONES:
        assert f'allow-transfer {{ key "{name}"; }};' in the_lab.read("ns1", MANAGED).split(f'"{zone}"')[1]
        assert axfr(zone, (name, secret)).startswith("ok ")
    outputs += [
        shown(dnsctl("-v", "init-primary", ZONE, "--dry-run", inventory=signed)),
        shown(dnsctl("-v", "--json", "add-slave", ZONE, "--dry-run", inventory=signed)),
        shown(dnsctl("-v", "tsig", "rotate", SHARED_KEY, "--dry-run", inventory=signed)),
        shown(dnsctl("-v", "tsig", "rotate", SHARED_KEY, "--yes", inventory=signed)),
    ]
    assert 'secret "<hidden>"' in outputs[-1]  # the diff shows the key file changing, not its value
    ((new_name, new_secret),) = generations(the_lab, "ns1", SHARED_KEY).items()
    assert new_name != name
    code, document = dnsctl_json("tsig", "rotate", SHARED_KEY, "--yes", inventory=signed)
    assert code == 0, document
    assert [step["step"] for step in document["rotation"]] == [1, 2, 3]
    ((last_name, last_secret),) = generations(the_lab, "ns1", SHARED_KEY).items()
    outputs.append(str(document))
    every_secret = [secret, new_secret, last_secret, *keys_on(the_lab, "ns1").values()]
    for output in outputs:
        for value in every_secret:
            assert value not in output
    for zone in SHARED_ZONES:
        assert axfr(zone, (last_name, last_secret)).startswith("ok ")
        assert axfr(zone, (name, secret)) == "refused: PeerBadKey"


class Transfers:
    """While a rotation runs: ns2 made to transfer the zone again and again (`rndc retransfer`
    in a loop inside ns2), and both servers asked for its SOA every 20 ms from here."""

    STOP = "/run/dnsctl-test-stop-retransfers"
    LOOP = f"""
rm -f {STOP}
while [ ! -e {STOP} ]; do rndc retransfer {ZONE} >/dev/null 2>&1; sleep 0.05; done
"""

    def __init__(self, the_lab) -> None:
        self.the_lab = the_lab
        self.misses: dict[str, list[str]] = {NS1: [], NS2: []}
        self.asked = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._loop: subprocess.Popen | None = None

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.asked += 1
            for server, misses in self.misses.items():
                if served_serial(server, ZONE) is None:
                    misses.append(time.strftime("%H:%M:%S"))
            time.sleep(0.02)

    def __enter__(self) -> Transfers:
        leader = lab.leader_of("ns2")
        self._loop = subprocess.Popen(["nsenter", "-t", str(leader), "-a", "sh", "-c", self.LOOP])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.the_lab.exec("ns2", "touch", self.STOP)
        assert self._loop is not None
        self._loop.wait(10)
        self._stop.set()
        self._thread.join(5)


FAILED_TRANSFER = re.compile(r"fail|refused|denied|BADKEY|BADSIG|BADTIME|error|shut", re.IGNORECASE)


def test_a_rotation_while_transfers_are_forced_fails_no_transfer(the_lab, signed):
    ((old_name, old_secret),) = generations(the_lab, "ns1", ZONE).items()
    since = int(the_lab.exec("ns2", "date", "+%s").stdout)
    with Transfers(the_lab) as transfers:
        time.sleep(0.5)  # transfers with the old key before the rotation starts
        result = dnsctl("-v", "tsig", "rotate", ZONE, "--yes", inventory=signed)
        time.sleep(0.5)  # and with the new one after it ended
    assert result.returncode == 0, result.stdout + result.stderr
    ((new_name, new_secret),) = generations(the_lab, "ns1", ZONE).items()
    assert new_name != old_name

    secondary_log = [line for line in log_since(the_lab, "ns2", since) if ZONE in line]
    assert not [line for line in secondary_log if FAILED_TRANSFER.search(line)]
    assert any(f"TSIG '{old_name}'" in line for line in secondary_log)
    assert sum(f"TSIG '{new_name}'" in line for line in secondary_log) >= 3
    # What ns1 said about the zone or about ns2's requests (this machine's are the tests' own).
    primary_log = [line for line in log_since(the_lab, "ns1", since) if ZONE in line or f"{NS2}#" in line]
    assert not [line for line in primary_log if FAILED_TRANSFER.search(line)]
    assert transfers.asked > 20 and transfers.misses == {NS1: [], NS2: []}

    # Afterwards the old key is refused and the new one accepted, from here and from ns2.
    assert axfr(ZONE, (old_name, old_secret)) == "refused: PeerBadKey"
    assert axfr(ZONE, (new_name, new_secret)).startswith("ok ")
    assert "Transfer failed." in dig_axfr_on_ns2(the_lab, ZONE, (old_name, old_secret))
    assert "www.tsig.test." in dig_axfr_on_ns2(the_lab, ZONE, (new_name, new_secret))
    assert generations(the_lab, "ns2", ZONE) == {new_name: new_secret}
    assert f'masters {{ {NS1} key "{new_name}"; }};' in the_lab.read("ns2", MANAGED)
    assert old_secret not in shown(result) and new_secret not in shown(result)


def test_rotate_refuses_what_it_cannot_rotate(signed):
    for target, needle in (("nosuch.test", "neither a zone nor a TSIG key"), ("example.com", "no TSIG key")):
        result = dnsctl("tsig", "rotate", target, "--yes", inventory=signed)
        assert result.returncode == 2, shown(result)
        assert needle in result.stderr and result.stderr.count("\n") == 1


def test_a_secondary_that_cannot_use_the_new_key_keeps_the_old_one_and_a_rerun_finishes(the_lab, signed):
    ((old_name, old_secret),) = generations(the_lab, "ns1", ZONE).items()
    # ns1 silently drops ns2's TCP to port 53: SOA checks (UDP) pass, no transfer can.
    rule = f"rule family=ipv4 source address={NS2} port port=53 protocol=tcp drop"
    the_lab.exec("ns1", "firewall-cmd", f"--add-rich-rule={rule}")
    try:
        failed = dnsctl("tsig", "rotate", ZONE, "--yes", "--timeout", "3", inventory=signed)
    finally:
        the_lab.exec("ns1", "firewall-cmd", f"--remove-rich-rule={rule}")
    assert failed.returncode == 5, shown(failed)
    assert "did not complete within 3 s" in failed.stderr and failed.stderr.count("\n") == 1
    held = generations(the_lab, "ns1", ZONE)
    assert len(held) == 2 and old_name in held  # ns1 accepts both: step 1 stayed
    assert generations(the_lab, "ns2", ZONE) == {old_name: old_secret}  # ns2 went back to the old key
    assert f'masters {{ {NS1} key "{old_name}"; }};' in the_lab.read("ns2", MANAGED)
    assert axfr(ZONE, (old_name, old_secret)).startswith("ok ")

    finished = dnsctl("tsig", "rotate", ZONE, "--yes", inventory=signed)
    assert finished.returncode == 0, shown(finished)
    ((new_name, new_secret),) = generations(the_lab, "ns1", ZONE).items()
    assert held == {old_name: old_secret, new_name: new_secret}  # the same new key, not another one
    assert f"finishing: {old_name} -> {new_name}" in finished.stdout
    assert generations(the_lab, "ns2", ZONE) == {new_name: new_secret}
    assert axfr(ZONE, (old_name, old_secret)) == "refused: PeerBadKey"
    assert served_serial(NS2, ZONE) == served_serial(NS1, ZONE) is not None
