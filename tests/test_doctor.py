"""doctor on what the lab showed, healthy and with each link of the transfer path broken for real
(tests/data/doctor, written by tests/data/capture.py), plus the links the lab cannot break."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from dnsctl.cli import main
from dnsctl.errors import VerifyError
from dnsctl.facts.dig import Transfer
from dnsctl.facts.named_config import ZoneStatus
from dnsctl.models import parse_inventory
from dnsctl.ops.doctor import doctor, read_pairs
from dnsctl.ops.session import Session
from dnsctl.report import Report
from dnsctl.transfer_path import CHECKS, Pair, walk

from .replay import LAB, replayed

DATA = Path(__file__).parent / "data" / "doctor"


def session_of(case: str, json_mode: bool = True, out: io.StringIO | None = None) -> Session:
    report = Report("doctor", json_mode=json_mode, out=out)
    return Session(parse_inventory(LAB), report, replayed(DATA / case))  # type: ignore[arg-type]


def pair_of(case: str, zone: str = "example.com") -> Pair:
    session = session_of(case)
    session.connect(["ns1", "ns2"])
    return read_pairs(session, zone, "ns1", ["ns2"])[0]


def test_a_healthy_pair_passes_every_link():
    links = walk(pair_of("healthy"))
    assert len(links) == len(CHECKS) and all(link.ok for link in links), links[-1]
    assert links[-1].detail.startswith("serial 2026112600, as ns1")


@pytest.mark.parametrize(
    ("case", "host", "check", "words"),
    [
        ("primary-stopped", "ns1", "named runs", ["named is not running on ns1", "systemctl start named"]),
        (
            "listen-localhost",
            "ns1",
            "named listens on 198.51.100.10 port 53",
            ["named listens on 127.0.0.1", "listen-on { 127.0.0.1/32; }", "add 198.51.100.10 to listen-on"],
        ),
        (
            "dns-not-allowed",
            "ns2",
            "reaches ns1 over UDP port 53",
            [
                "host unreachable",
                "does not allow dns",
                "firewall-cmd --permanent --zone=public --add-service=dns",
            ],
        ),
        (
            "tcp-rejected",
            "ns2",
            "reaches ns1 over TCP port 53",
            [
                "connection refused",
                '--remove-rich-rule=\'rule family="ipv4" port port="53" protocol="tcp" reject\'',
            ],
        ),
        (
            "query-refused",
            "ns2",
            "reaches ns1 over UDP port 53",
            ["refuses the SOA query from 198.51.100.11", "add 198.51.100.11 to the allow-query"],
        ),
        (
            "transfer-refused",
            "ns2",
            "ns1 transfers example.com to ns2",
            [
                "refuses the AXFR from 198.51.100.11 (allow-transfer { none; })",
                "dnsctl add-slave example.com ns2",
            ],
        ),
        (
            "serial-backwards",
            "ns1",
            "ns1's serial is not below ns2's",
            ["serves serial 2000010100, below ns2's 2026112600", "on ns2: rndc retransfer example.com"],
        ),
        (
            "notify-missing",
            "ns1",
            "ns1 notifies ns2 of changes",
            ["notify explicit, and 198.51.100.11 is not in also-notify", "every 3600 s", "also-notify"],
        ),
        (
            "slaves-root-owned",
            "ns2",
            "named can write /var/cache/bind/slaves",
            ["(owner root:root, mode 755)", "chown root:bind /var/cache/bind/slaves && chmod 775"],
        ),
        (
            "tsig-badsig",
            "ns2",
            "ns1 transfers example.com to ns2",
            ["TSIG BADSIG", "the same secret for key xfer"],
        ),
        (
            "tsig-badkey",
            "ns2",
            "ns1 transfers example.com to ns2",
            ["TSIG BADKEY", "does not know key other"],
        ),
        (
            "primary-journal",
            "ns1",
            "no zone journal in the way",
            ["/var/lib/bind/example.com.db.jnl", "rndc sync -clean example.com"],
        ),
    ],
)
def test_each_link_broken_on_the_lab_is_named_with_its_fix(case, host, check, words):
    links = walk(pair_of(case))
    broken = links[-1]
    assert all(link.ok for link in links[:-1])
    assert (broken.ok, broken.host, broken.check) == (False, host, check)
    for word in words:
        assert word in f"{broken.detail} | {broken.fix}"


def test_the_broken_links_show_named_s_own_log():
    evidence = walk(pair_of("transfer-refused"))[-1].evidence
    assert evidence and "zone transfer 'example.com/AXFR/IN' denied" in evidence[-1]
    evidence = walk(pair_of("slaves-root-owned"))[-1].evidence
    assert any("dumping master file" in line and "permission denied" in line for line in evidence)
    evidence = walk(pair_of("serial-backwards"))[-1].evidence
    assert "notify from 198.51.100.10" in evidence[-1] and evidence[-1].endswith("zone is up to date")


def test_a_zone_the_secondary_does_not_carry():
    broken = walk(pair_of("zone-not-on-secondary", "lonely.test"))[-1]
    assert (broken.host, broken.check) == ("ns2", "takes lonely.test from 198.51.100.10")
    assert broken.fix == "dnsctl add-slave lonely.test ns2"


def test_tsig_key_is_read_from_the_secondary_and_used_for_the_probe():
    session = session_of("tsig-badsig")
    session.connect(["ns1", "ns2"])
    assert read_pairs(session, "example.com", "ns1", ["ns2"])[0].key == "xfer"
    secondary = session.fleet["ns2"]
    probe = next(call.words for call in secondary.calls if call.words[3] == "dnsctl-transfer")
    assert probe[4:] == (
        "example.com",
        "198.51.100.11",
        "xfer",
        "/etc/bind/named.conf",
        "count",
        "198.51.100.10",
    )
    session.fleet.verify()  # type: ignore[attr-defined]


def test_tsig_error_known_only_from_the_primary_s_log():
    pair = pair_of("tsig-badsig")
    unsigned = dataclasses.replace(pair, transfer=Transfer(0, True, None, None))
    broken = walk(unsigned)[-1]
    assert "TSIG BADSIG" in broken.detail
    assert any("tsig verify failure (BADSIG)" in line for line in broken.evidence)


def test_badtime_names_the_clock_offset():
    pair = pair_of("tsig-badsig")
    late = dataclasses.replace(
        pair,
        transfer=dataclasses.replace(pair.transfer, tsig_error="BADTIME"),
        clock_offset=412.3,
    )
    broken = walk(late)[-1]
    assert "differ by +412.3 s (TSIG allows 300 s)" in broken.detail
    assert "chronyd or systemd-timesyncd" in broken.fix


def test_a_secondary_behind_with_every_link_working_shows_its_log():
    pair = pair_of("healthy")
    behind = dataclasses.replace(
        pair,
        secondary=dataclasses.replace(pair.secondary, loaded=ZoneStatus(None, "secondary", 2026112500)),
    )
    broken = walk(behind)[-1]
    assert (broken.check, broken.ok) == ("serves ns1's serial", False)
    assert "has serial 2026112500, ns1 serves 2026112600" in broken.detail
    assert broken.fix.startswith("on ns2: rndc refresh example.com") and broken.evidence


def test_selinux_type_of_the_secondary_directory():
    pair = pair_of("healthy")

    def with_context(context: str) -> Pair:
        directory = dataclasses.replace(pair.at_secondary.directory, selinux=context)
        return dataclasses.replace(
            pair, at_secondary=dataclasses.replace(pair.at_secondary, directory=directory)
        )

    broken = walk(with_context("system_u:object_r:named_zone_t:s0"))[-1]
    assert broken.check == "named can write /var/cache/bind/slaves" and not broken.ok
    assert "restorecon -Rv /var/cache/bind/slaves" in broken.fix
    assert walk(with_context("system_u:object_r:named_cache_t:s0"))[-1].ok


def test_notify_by_the_ns_set_or_not_at_all():
    pair = pair_of("notify-missing")
    stanza = pair.primary.config.zones["example.com"]

    def notifying(notify: str | None) -> Pair:
        zones = {**pair.primary.config.zones, "example.com": dataclasses.replace(stanza, notify=notify)}
        config = dataclasses.replace(pair.primary.config, zones=zones)
        return dataclasses.replace(pair, primary=dataclasses.replace(pair.primary, config=config))

    by_default = next(link for link in walk(notifying(None)) if "notifies" in link.check)
    assert by_default.ok and "in the NS set as ns2.example.com." in by_default.detail
    silent = next(link for link in walk(notifying("no")) if "notifies" in link.check)
    assert not silent.ok and silent.detail.startswith("notify no")


def test_a_secondary_journal_that_named_cannot_use():
    pair = pair_of("healthy")
    trouble = (
        "2026-11-25T16:00:00+0000 ns2 named[1]: zone example.com/IN: "
        "journal rollforward failed: journal out of sync with zone"
    )
    at_secondary = dataclasses.replace(
        pair.at_secondary,
        journal="/var/cache/bind/slaves/example.com.db.jnl",
        log=(*pair.at_secondary.log, trouble),
    )
    broken = walk(dataclasses.replace(pair, at_secondary=at_secondary))[-1]
    assert (broken.host, broken.check) == ("ns2", "no zone journal in the way")
    assert broken.fix == "on ns2: rndc retransfer example.com"


def test_doctor_reports_every_link_and_fails_with_the_broken_one():
    session = session_of("transfer-refused")
    with pytest.raises(
        VerifyError, match=r"example.com to ns2: ns1 transfers example.com to ns2: ns1 refuses"
    ):
        doctor(session, "example.com")
    steps = session.report.steps
    assert [step.status for step in steps[1:]] == ["ok"] * 7 + ["fail"]
    assert steps[-1].data["fix"].startswith("allow 198.51.100.11 in the allow-transfer of example.com on ns1")
    assert session.report.data["doctor"]["ns2"]["healthy"] is False


def test_doctor_on_a_healthy_pair_prints_the_walk():
    out = io.StringIO()
    doctor(session_of("healthy", json_mode=False, out=out), "example.com", "ns2")
    text = out.getvalue()
    assert "example.com: ns1 -> ns2" in text
    assert text.count("\nOK   ") >= len(CHECKS) and "FAIL" not in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["doctor", "nosuch.test"], "unknown zone 'nosuch.test'"),
        (["doctor", "example.com", "ns1"], "'ns1' is not a secondary of example.com"),
        (["doctor", "example.com", "ns9"], "unknown server 'ns9'"),
        (["doctor", "solo.test"], "solo.test has no secondaries"),
    ],
)
def test_bad_arguments_fail_before_any_connection(tmp_path, args, needle):
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        '[servers.ns1]\naddress = "198.51.100.10"\n[servers.ns2]\naddress = "198.51.100.11"\n'
        '[zones."example.com"]\nprimary = "ns1"\nsecondaries = ["ns2"]\n'
        '[zones."solo.test"]\nprimary = "ns1"\n'
    )
    result = CliRunner().invoke(main, ["-i", str(inventory), *args])
    assert result.exit_code == 2, result.output
    assert needle in result.stderr and result.stderr.count("\n") == 1
