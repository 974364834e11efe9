"""The lab itself and the SSH layer, before dnsctl has changed anything."""

from __future__ import annotations

import subprocess

import dns.exception
import dns.message
import dns.query
import paramiko
import pytest

from dnsctl.remote import Connection, Target

from .conftest import CLIENT, NS1, NS2, dnsctl, dnsctl_json

pytestmark = pytest.mark.lab


def target(the_lab, address: str, **overrides) -> Target:
    settings = {
        "name": address,
        "hostname": address,
        "key": str(the_lab.state_dir / "id_ed25519"),
        "known_hosts": str(the_lab.state_dir / "known_hosts"),
        "connect_timeout": 5,
    }
    settings.update(overrides)
    return Target(**settings)


@pytest.mark.parametrize("address", [NS1, NS2, CLIENT])
def test_ssh_with_strict_host_keys(the_lab, address):
    with Connection(target(the_lab, address)).connect() as connection:
        result = connection.run(["cat", "/etc/hostname"])
    expected = the_lab.exec({NS1: "ns1", NS2: "ns2"}.get(address, "client1"), "cat", "/etc/hostname").stdout
    assert result.stdout == expected


def test_lab_status_shows_every_host_running(the_lab):
    code, document = dnsctl_json("lab", "status", "--state-dir", str(the_lab.state_dir))
    assert code == 0, document
    hosts = {host["name"]: host for host in document["hosts"]}
    assert set(hosts) == {"ns1", "ns2", "client1"}
    assert all(host["running"] and host["ssh"] == "active" for host in hosts.values())
    assert hosts["ns1"]["named"] == "active" and hosts["client1"]["named"] != "active"


def test_named_runs_on_servers(the_lab):
    for host in ("ns1", "ns2"):
        assert the_lab.exec(host, "systemctl", "is-active", "named").stdout.strip() == "active"


def test_dns_closed_by_firewall_before_init(the_lab):
    query = dns.message.make_query("example.com", "SOA")
    for address in (NS1, NS2):
        with pytest.raises((dns.exception.Timeout, OSError)):
            dns.query.udp(query, address, timeout=2)


def _write(tmp_path, the_lab, name: str, known_hosts_text: str | None = None, key: str | None = None):
    known_hosts = tmp_path / f"{name}.known_hosts"
    if known_hosts_text is not None:
        known_hosts.write_text(known_hosts_text)
    replace = {str(the_lab.state_dir / "known_hosts"): str(known_hosts)}
    if key:
        replace[str(the_lab.state_dir / "id_ed25519")] = key
    return the_lab.write_inventory(tmp_path / f"{name}.toml", **replace), known_hosts


def test_changed_host_key_is_refused(the_lab, tmp_path):
    original = (the_lab.state_dir / "known_hosts").read_text().splitlines()
    other_key = paramiko.ECDSAKey.generate()
    forged = [
        f"{NS1} {other_key.get_name()} {other_key.get_base64()}" if line.startswith(NS1 + " ") else line
        for line in original
    ]
    inventory, _ = _write(tmp_path, the_lab, "changed", "\n".join(forged) + "\n")
    result = dnsctl("init-primary", "example.com", "--dry-run", inventory=inventory)
    assert result.returncode == 3, result.stderr
    assert "host key" in result.stderr and "198.51.100.10" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_unknown_host_key_is_refused_unless_accepted(the_lab, tmp_path):
    inventory, known_hosts = _write(tmp_path, the_lab, "unknown", "")
    refused = dnsctl("init-primary", "example.com", "--dry-run", inventory=inventory)
    assert refused.returncode == 3
    assert "unknown SSH host key" in refused.stderr
    accepted = dnsctl(
        "--accept-new-host-keys", "init-primary", "example.com", "--dry-run", inventory=inventory
    )
    assert accepted.returncode == 0, accepted.stderr
    assert NS1 in known_hosts.read_text()


def test_wrong_key_is_refused(the_lab, tmp_path):
    wrong = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong)], check=True)
    inventory, _ = _write(
        tmp_path, the_lab, "wrongkey", (the_lab.state_dir / "known_hosts").read_text(), str(wrong)
    )
    result = dnsctl("init-primary", "example.com", "--dry-run", inventory=inventory)
    assert result.returncode == 3
    assert "authentication failed" in result.stderr


def test_unreachable_host(the_lab, tmp_path):
    inventory = the_lab.write_inventory(
        tmp_path / "unreachable.toml", **{'address = "198.51.100.10"': 'address = "198.51.100.99"'}
    )
    text = inventory.read_text().replace("[ssh]\n", "[ssh]\nconnect_timeout = 3\n", 1)
    inventory.write_text(text)
    result = dnsctl("init-primary", "example.com", "--dry-run", inventory=inventory)
    assert result.returncode == 3
    assert "198.51.100.99" in result.stderr and "unreachable" in result.stderr


@pytest.mark.parametrize(
    ("snippet", "field"),
    [
        ('[zones."ex;ample"]\nprimary = "ns1"\n', 'zones."ex;ample"'),
        ('[zones."other.test"]\nprimary = "nosuch"\n', 'zones."other.test".primary'),
        (
            '[zones."other.test"]\nprimary = "ns1"\nsecondaries = ["ns1"]\n',
            'zones."other.test".secondaries[0]',
        ),
        ('[zones."other.test"]\nprimary = "ns1"\ncolour = "blue"\n', 'zones."other.test".colour'),
        (
            '[zones."other.test"]\nprimary = "ns1"\n[[zones."other.test".records]]\n'
            'name = "a"\ntype = "A"\nvalue = "1.2.3.4; rm -rf /"\n',
            'zones."other.test".records[0].value',
        ),
    ],
)
def test_invalid_inventory_changes_nothing(the_lab, tmp_path, snippet, field):
    inventory = the_lab.write_inventory(tmp_path / "bad.toml", extra=snippet)
    before = the_lab.exec("ns1", "sh", "-c", "ls -l --time-style=full-iso /etc/bind").stdout
    result = dnsctl("init-primary", "example.com", "--yes", inventory=inventory)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and field in result.stderr
    assert the_lab.exec("ns1", "sh", "-c", "ls -l --time-style=full-iso /etc/bind").stdout == before
