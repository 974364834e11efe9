"""The inventory is where safety starts: what dnsctl accepts, named loads without a
warning; what would carry text into named.conf is refused before any host is touched.

Checked without dnsctl: named-checkzone and named-checkconf -z run inside a lab host
on the zone text dnsctl renders, and ns1's files and answers are read directly.
"""

from __future__ import annotations

import dns.message
import dns.query
import pytest

from dnsctl.models import parse_inventory
from dnsctl.render import render_zone

from ..test_models import ACCEPTED
from .conftest import NS1, dnsctl, dnsctl_ok

pytestmark = pytest.mark.lab

# named-checkzone with every check named makes on a master zone set to fail (check-names,
# NS, MX and SRV integrity, MX and SRV to a CNAME, duplicates), in-zone names only as
# the lab has no resolver; then named-checkconf -z loads it as named would, as a master.
NAMED_CHECKS = r"""
set -e
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/zone.db"
named-checkzone -k fail -i local -m fail -M fail -n fail -S fail -r fail "$1" "$dir/zone.db"
printf 'options { directory "%s"; };\nzone "%s" { type master; file "%s/zone.db"; };\n' \
  "$dir" "$1" "$dir" > "$dir/named.conf"
named-checkconf -z "$dir/named.conf"
"""


@pytest.mark.parametrize("name", ACCEPTED)
def test_every_tricky_inventory_dnsctl_accepts_is_loaded_by_named(the_lab, name):
    inventory = parse_inventory(ACCEPTED[name])
    for zone in inventory.zones:
        text = render_zone(inventory, zone, 2026112501)
        result = the_lab.exec("ns1", "sh", "-c", NAMED_CHECKS, "named-checks", zone, input=text, check=False)
        output = (result.stdout + result.stderr).splitlines()
        assert result.returncode == 0, f"{zone}: {output}"
        warnings = [line for line in output if "loaded serial" not in line and line != "OK"]
        assert warnings == [], f"{zone}: {warnings}"


INJECTION = "fe80::1%1; any; }; allow-update { any; }; #"

FILES = "find /etc/bind /var/lib/bind /var/cache/bind -type f -exec sha256sum {} + | sort"


def answers(server: str) -> list[str]:
    """What the server says about the lab zone, as text: SOA and the record."""
    found = []
    for name, rdtype in (("example.com", "SOA"), ("pc1.example.com", "A")):
        response = dns.query.udp(dns.message.make_query(name, rdtype), server, timeout=3)
        found.append(f"{name} {rdtype} {response.rcode()} {[rrset.to_text() for rrset in response.answer]}")
    return found


@pytest.fixture(scope="module")
def serving(the_lab):
    """ns1 serves the lab zone (a no-op when an earlier test set it up)."""
    dnsctl_ok("init-primary", "example.com", "--yes", inventory=the_lab.inventory)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            'allow_query = ["198.51.100.0/24"]',
            f'allow_query = ["198.51.100.0/24", "{INJECTION}"]',
            'zones."example.com".allow_query[1]',
        ),
        ('address = "198.51.100.10"', f'address = "{INJECTION}"', "servers.ns1.address"),
    ],
    ids=["allow_query", "server address"],
)
def test_scoped_address_injection_is_refused_and_nothing_changes(the_lab, serving, tmp_path, old, new, field):
    inventory = the_lab.write_inventory(tmp_path / "hostile.toml", **{old: new})
    assert INJECTION in inventory.read_text()
    files, served = the_lab.exec("ns1", "sh", "-c", FILES).stdout, answers(NS1)

    result = dnsctl("init-primary", "example.com", "--yes", inventory=inventory)

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"{field}: " in result.stderr and "scoped IPv6" in result.stderr
    assert the_lab.exec("ns1", "sh", "-c", FILES).stdout == files
    assert answers(NS1) == served


def test_both_injections_are_reported_at_once(the_lab, serving, tmp_path):
    inventory = the_lab.write_inventory(
        tmp_path / "hostile.toml",
        **{
            'allow_query = ["198.51.100.0/24"]': f'allow_query = ["{INJECTION}"]',
            'address = "198.51.100.10"': f'address = "{INJECTION}"',
        },
    )
    files = the_lab.exec("ns1", "sh", "-c", FILES).stdout

    result = dnsctl("check", inventory=inventory)

    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert "servers.ns1.address: " in lines[0] and 'zones."example.com".allow_query[0]: ' in lines[1]
    assert the_lab.exec("ns1", "sh", "-c", FILES).stdout == files
