"""TSIG for a catalog and its members on the lab: turned on while ns2 consumes the catalog and
is made to transfer a member again and again, with not one transfer failing; AXFR of a member
and of the catalog refused without the key and accepted with it; a new member reaching ns2 with
ns2's configuration byte for byte unchanged; `tsig rotate` with the consumer transferring
throughout; the guard against changing the key outside `catalog sync`; and TSIG turned off again.

Every result is checked without dnsctl: the keys are read from the hosts' key files, transfers
are asked for with dnspython from this machine and with dig on ns2, and named's log on each
server says what it did. The module gives both servers back their configuration as it found it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from dnsctl import lab

from .conftest import NS1, NS2, dnsctl, dnsctl_json, dnsctl_ok
from .served import Prober, served_serial, wait_until
from .test_19_tsig import FAILED_TRANSFER, KEY, axfr, dig_axfr_on_ns2, log_since

pytestmark = pytest.mark.lab

HERE = "198.51.100.1"  # this machine, on the lab's bridge
CATALOG = "catalog.cattsig.test"
KEY_NAME = "cattsig"
ALPHA, BETA, GAMMA = "alpha.cattsig.test", "beta.cattsig.test", "gamma.cattsig.test"
MEMBERS = """
[zones."alpha.cattsig.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]
#TSIG

[[zones."alpha.cattsig.test".records]]
name = "www"
type = "A"
value = "198.51.100.81"

[zones."beta.cattsig.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]
#TSIG
"""
NEW_MEMBER = """
[zones."gamma.cattsig.test"]
primary = "ns1"
secondaries = ["ns2"]
allow_query = ["198.51.100.0/24"]
#TSIG

[[zones."gamma.cattsig.test".records]]
name = "www"
type = "A"
value = "198.51.100.83"
"""


def paths(the_lab, host: str) -> dict[str, str]:
    """The files dnsctl writes named's configuration into on a host, by role."""
    if host == "ns2" and the_lab.rhel_layout():
        return {
            "options": "/etc/named.conf",
            "managed": "/etc/named.dnsctl.conf",
            "keys": "/etc/named.dnsctl-keys.conf",
        }
    return {
        "options": "/etc/bind/named.conf.options",
        "managed": "/etc/bind/named.conf.dnsctl",
        "keys": "/etc/bind/named.conf.dnsctl-keys",
        "local": "/etc/bind/named.conf.local",
    }


def inventory(the_lab, path: Path, tsig: bool, extra: str = "") -> Path:
    """The lab's inventory with the catalog and its members; example.com (which earlier
    modules keep as an explicit secondary zone on ns2) stays out of the catalog."""
    example = 'secondaries = ["ns2"]\nallow_query'
    replace = {
        "[ssh]": f'catalog = "{CATALOG}"\n\n[ssh]',
        example: example.replace("\nallow", "\nin_catalog = false\nallow"),
        **the_lab.ns2_layout(),
    }
    setting = f'tsig = "{KEY_NAME}"' if tsig else ""
    return the_lab.write_inventory(path, extra=(MEMBERS + extra).replace("#TSIG", setting), **replace)


def wait_served(server: str, zone: str) -> int:
    return wait_until(lambda: served_serial(server, zone), f"{server} to serve {zone}")


def generations(the_lab, host: str) -> dict[str, str]:
    """The generations of the catalog's key in a host's key file, name -> secret."""
    text = the_lab.exec(host, "sh", "-c", f"cat {paths(the_lab, host)['keys']} 2>/dev/null; true").stdout
    return {name: secret for name, _, secret in KEY.findall(text) if name.startswith(KEY_NAME + ".")}


def every_secret(the_lab) -> list[str]:
    return [secret for host in ("ns1", "ns2") for _, _, secret in KEY.findall(key_files(the_lab, host))]


def key_files(the_lab, host: str) -> str:
    return the_lab.exec(host, "sh", "-c", f"cat {paths(the_lab, host)['keys']} 2>/dev/null; true").stdout


def config_hash(the_lab, host: str) -> str:
    """sha256 of every configuration file, as `sha256sum` sees them inside the host."""
    files = "/etc/bind/* /etc/named.conf /etc/named.dnsctl.conf /etc/named.dnsctl-keys.conf"
    return the_lab.exec(host, "sh", "-c", f"sha256sum {files} 2>/dev/null; true").stdout


def shown(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


class Transfers:
    """While a change runs: ns2 made to transfer a member again and again (`rndc retransfer`
    in a loop inside ns2), and ns2 asked for both members' SOA every 20 ms from here."""

    STOP = "/run/dnsctl-test-stop-catalog-retransfers"

    def __init__(self, the_lab) -> None:
        self.the_lab = the_lab
        self.since = int(the_lab.exec("ns2", "date", "+%s").stdout)
        self.probers = [Prober(NS2, ALPHA), Prober(NS2, BETA)]
        self._loop: subprocess.Popen | None = None

    def __enter__(self) -> Transfers:
        loop = f"""
rm -f {self.STOP}
while [ ! -e {self.STOP} ]; do rndc retransfer {ALPHA} >/dev/null 2>&1; sleep 0.05; done
"""
        self._loop = subprocess.Popen(["nsenter", "-t", str(lab.leader_of("ns2")), "-a", "sh", "-c", loop])
        for prober in self.probers:
            prober.__enter__()
        time.sleep(0.5)  # transfers the old way before the change starts
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # and the new way after it ended
        self.the_lab.exec("ns2", "touch", self.STOP)
        assert self._loop is not None
        self._loop.wait(10)
        for prober in self.probers:
            prober.__exit__()

    def check(self) -> list[str]:
        """named's log lines on ns2 about the catalog's zones, and on ns1 about them or ns2's
        requests (this machine's are the tests' own), since the change started; asserting
        that none says a transfer failed."""
        ours = (CATALOG, ALPHA, BETA)
        secondary = [
            line for line in log_since(self.the_lab, "ns2", self.since) if any(z in line for z in ours)
        ]
        primary = [
            line
            for line in log_since(self.the_lab, "ns1", self.since)
            if (any(z in line for z in ours) or f"{NS2}#" in line) and f" {HERE}#" not in line
        ]
        assert not [line for line in secondary + primary if FAILED_TRANSFER.search(line)]
        assert (
            sum(
                f"transfer of '{ALPHA}/IN'" in line and "Transfer status: success" in line
                for line in secondary
            )
            > 5
        )
        for prober in self.probers:
            assert prober.asked > 20 and prober.misses == [], prober.misses
        return secondary


@pytest.fixture(scope="module", autouse=True)
def as_found(the_lab):
    """Give ns1 and ns2 back their configuration files as this module found them."""
    saved = {
        host: {path: file_or_none(the_lab, host, path) for path in paths(the_lab, host).values()}
        for host in ("ns1", "ns2")
    }
    yield
    for host in ("ns2", "ns1"):
        for path, text in saved[host].items():
            if text is None:
                the_lab.exec(host, "rm", "-f", path)
            else:
                the_lab.exec(host, "sh", "-c", 'cat > "$1"', "restore", path, input=text)
        the_lab.exec(host, "rndc", "reconfig")
    for zone in (ALPHA, BETA, GAMMA):
        wait_until(lambda zone=zone: served_serial(NS2, zone) is None, f"ns2 to stop serving {zone}")


def file_or_none(the_lab, host: str, path: str) -> str | None:
    result = the_lab.exec(host, "cat", path, check=False)
    return result.stdout if result.returncode == 0 else None


@pytest.fixture(scope="module")
def inventories(the_lab, tmp_path_factory) -> dict[str, Path]:
    """The catalog set up without TSIG, ns2 consuming it; and the inventories of what follows."""
    directory = tmp_path_factory.mktemp("cattsig")
    made = {
        "plain": inventory(the_lab, directory / "plain.toml", tsig=False),
        "signed": inventory(the_lab, directory / "signed.toml", tsig=True),
        "grown": inventory(the_lab, directory / "grown.toml", tsig=True, extra=NEW_MEMBER),
    }
    for command in (("init-primary", ALPHA), ("init-primary", BETA), ("catalog", "sync")):
        dnsctl_ok(*command, "--yes", inventory=made["plain"])
    assert wait_served(NS2, ALPHA) == served_serial(NS1, ALPHA)
    assert axfr(ALPHA, server=NS1).startswith("refused")  # from this machine: not a consumer
    return made


@pytest.fixture(scope="module")
def turned_on(the_lab, inventories) -> subprocess.CompletedProcess:
    """tsig set on every member and `catalog sync` run while ns2 transfers alpha in a loop."""
    with Transfers(the_lab) as transfers:
        result = dnsctl("-v", "catalog", "sync", "--yes", inventory=inventories["signed"])
    assert result.returncode == 0, shown(result)
    secondary_log = transfers.check()
    ((name, _),) = generations(the_lab, "ns1").items()
    assert any(f"TSIG '{name}'" in line and ALPHA in line for line in secondary_log)
    return result


def test_turning_tsig_on_moves_the_consumer_in_three_steps(the_lab, turned_on):
    output = turned_on.stdout
    ((name, secret),) = generations(the_lab, "ns1").items()
    assert re.fullmatch(rf"{KEY_NAME}\.\d{{14}}", name)
    assert generations(the_lab, "ns2") == {name: secret}
    assert f"transfers: the consumers' addresses -> key {name}" in output
    assert output.index("step 1 of 3") < output.index("step 2 of 3") < output.index("step 3 of 3")
    assert f"force a transfer of {ALPHA} with key {name}: transferred again" in output
    managed = the_lab.read("ns1", paths(the_lab, "ns1")["managed"])
    for zone in (CATALOG, ALPHA, BETA):
        stanza = managed.split(f'zone "{zone}" {{')[1].split("\n};\n")[0]
        assert f'allow-transfer {{ key "{name}"; }};' in stanza
    consumer = the_lab.read("ns2", paths(the_lab, "ns2")["managed"])
    assert f'masters {{ {NS1} key "{name}"; }};' in consumer
    options = the_lab.read("ns2", paths(the_lab, "ns2")["options"])
    assert f'zone "{CATALOG}" default-primaries {{ {NS1} key "{name}"; }}' in options
    owner = the_lab.exec("ns2", "stat", "-c", "%a %U", paths(the_lab, "ns2")["keys"]).stdout.split()
    assert owner == ["640", "root"]
    assert the_lab.exec("ns2", "named-checkconf").returncode == 0


def test_axfr_of_a_member_and_of_the_catalog_needs_the_key(the_lab, turned_on):
    ((name, secret),) = generations(the_lab, "ns1").items()
    for zone in (ALPHA, CATALOG):
        assert axfr(zone).startswith("refused"), zone
        assert axfr(zone, (name, secret)).startswith("ok "), zone
        assert "Transfer failed." in dig_axfr_on_ns2(the_lab, zone, None)  # ns2's address is not enough
        assert f"{zone}." in dig_axfr_on_ns2(the_lab, zone, (name, secret))
    assert axfr(ALPHA, (name, "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=")) == "refused: PeerBadSignature"


def test_sync_again_plans_nothing_and_status_transfers_with_the_key(the_lab, inventories, turned_on):
    before = config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2")
    code, document = dnsctl_json("catalog", "sync", "--yes", inventory=inventories["signed"])
    assert code == 0, document
    assert all(not host["actions"] for host in document["plan"].values()), document["plan"]
    assert "rotation" not in document
    assert config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2") == before
    status = dnsctl("status", ALPHA, inventory=inventories["signed"])
    assert status.returncode == 0, shown(status)  # its drift check transfers as ns2 does


def test_a_new_member_reaches_the_consumer_with_its_configuration_untouched(the_lab, inventories, turned_on):
    before = config_hash(the_lab, "ns2")
    since = int(the_lab.exec("ns2", "date", "+%s").stdout)
    result = dnsctl("init-primary", GAMMA, "--yes", inventory=inventories["grown"])
    assert result.returncode == 0, shown(result)
    assert wait_served(NS2, GAMMA) == served_serial(NS1, GAMMA)
    ((name, secret),) = generations(the_lab, "ns1").items()
    assert axfr(GAMMA).startswith("refused") and axfr(GAMMA, (name, secret)).startswith("ok ")
    code, document = dnsctl_json("add-slave", GAMMA, "--yes", inventory=inventories["grown"])
    assert code == 0, document
    assert document["plan"]["ns2"]["actions"] == []
    assert config_hash(the_lab, "ns2") == before  # byte for byte
    log = log_since(the_lab, "ns2", since)
    assert any(f"zone {GAMMA}/IN: transferred serial" in line and f"TSIG '{name}'" in line for line in log)


def test_changing_the_key_outside_catalog_sync_is_refused(the_lab, inventories, turned_on):
    before = config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2")
    for command in (("add-slave", ALPHA), ("init-primary", BETA), ("apply",)):
        result = dnsctl(*command, "--yes", inventory=inventories["plain"])
        assert result.returncode == 7, shown(result)
        assert "run `dnsctl catalog sync`" in result.stderr and result.stderr.count("\n") == 1
    assert config_hash(the_lab, "ns1") + config_hash(the_lab, "ns2") == before


def test_a_mixed_catalog_is_refused_at_load(the_lab, tmp_path):
    mixed = inventory(
        the_lab, tmp_path / "mixed.toml", tsig=True, extra=NEW_MEMBER.replace("#TSIG", "tsig = true")
    )
    result = dnsctl("catalog", "sync", "--yes", inventory=mixed)
    assert result.returncode == 2, shown(result)
    assert f'zones."{GAMMA}".tsig: the catalog\'s consumers ask for all members with one key' in result.stderr
    assert result.stderr.count("\n") == 1


def test_rotation_keeps_the_consumer_transferring(the_lab, inventories, turned_on):
    ((old_name, old_secret),) = generations(the_lab, "ns1").items()
    with Transfers(the_lab) as transfers:
        result = dnsctl("-v", "tsig", "rotate", CATALOG, "--yes", inventory=inventories["grown"])
    assert result.returncode == 0, shown(result)
    secondary_log = transfers.check()
    ((new_name, new_secret),) = generations(the_lab, "ns1").items()
    assert new_name != old_name
    assert any(f"TSIG '{old_name}'" in line for line in secondary_log)
    assert sum(f"TSIG '{new_name}'" in line and ALPHA in line for line in secondary_log) >= 3
    options = the_lab.read("ns2", paths(the_lab, "ns2")["options"])
    assert f'default-primaries {{ {NS1} key "{new_name}"; }}' in options
    assert generations(the_lab, "ns2") == {new_name: new_secret}
    for zone in (ALPHA, GAMMA, CATALOG):
        assert axfr(zone, (old_name, old_secret)) == "refused: PeerBadKey", zone
        assert axfr(zone, (new_name, new_secret)).startswith("ok "), zone
    for zone in (ALPHA, GAMMA):  # every member proven with the new key
        assert f"force a transfer of {zone} with key {new_name}: transferred again" in result.stdout
    for value in (old_secret, new_secret):
        assert value not in shown(result) and value not in shown(turned_on)


def test_no_secret_in_anything_dnsctl_prints(the_lab, inventories, turned_on):
    outputs = [
        shown(dnsctl("-v", "catalog", "sync", "--dry-run", inventory=inventories["grown"])),
        shown(
            dnsctl("-v", "--json", "tsig", "rotate", KEY_NAME, "--dry-run", inventory=inventories["grown"])
        ),
        shown(dnsctl("-v", "--json", "add-slave", ALPHA, "--yes", inventory=inventories["grown"])),
    ]
    assert "<hidden>" in outputs[1]
    secrets = every_secret(the_lab)
    assert secrets
    for output in outputs:
        for value in secrets:
            assert value not in output


def test_turning_tsig_off_again_keeps_the_consumer_transferring(the_lab, inventories, turned_on, tmp_path):
    unsigned = inventory(the_lab, tmp_path / "unsigned.toml", tsig=False, extra=NEW_MEMBER)
    ((name, _),) = generations(the_lab, "ns1").items()
    with Transfers(the_lab) as transfers:
        result = dnsctl("catalog", "sync", "--yes", inventory=unsigned)
    assert result.returncode == 0, shown(result)
    transfers.check()
    assert f"transfers: key {name} -> the consumers' addresses" in result.stdout
    assert generations(the_lab, "ns1") == {} and generations(the_lab, "ns2") == {}
    assert f"{ALPHA}." in dig_axfr_on_ns2(the_lab, ALPHA, None)  # ns2's address suffices again
    assert axfr(ALPHA).startswith("refused")  # and this machine's does not
    options = the_lab.read("ns2", paths(the_lab, "ns2")["options"])
    assert f"default-primaries {{ {NS1}; }}" in options
