"""status on what the lab showed (tests/data/status, written by tests/data/capture.py): drift
found by the secondary's AXFR, transfers refused to a client, the firewall, the table. The DNS
answers asked from this machine are stood in for; the lab test asks them for real."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from dnsctl import verify
from dnsctl.errors import VerifyError
from dnsctl.facts.dig import parse_transfer, parse_transfers
from dnsctl.facts.host import parse_host_facts
from dnsctl.facts.scripts import sections
from dnsctl.models import parse_inventory
from dnsctl.ops.session import Session
from dnsctl.ops.status import CHECKS, Findings, Row, _check_firewall, status, table
from dnsctl.report import Report

from .replay import LAB, replayed

DATA = Path(__file__).parent / "data" / "status"
NS1, NS2 = "198.51.100.10", "198.51.100.11"


def served_text(case: str) -> str:
    output = (DATA / case / "ns2-dnsctl-transfer.txt").read_text()
    return "\n".join(sections(output)[NS1])


def test_no_drift_when_the_primary_serves_what_the_inventory_says():
    difference = verify.drift(parse_inventory(LAB), "example.com", served_text("healthy"))
    assert (difference.extra, difference.missing) == ([], [])


def test_a_record_added_by_hand_is_drift():
    difference = verify.drift(parse_inventory(LAB), "example.com", served_text("drift"))
    assert difference.extra == ["extra.example.com. A 198.51.100.66"]
    assert difference.missing == []


def test_a_record_the_inventory_has_and_the_server_lacks_is_drift():
    raw = json.loads(json.dumps(LAB))
    raw["zones"]["example.com"]["records"].append({"name": "www", "type": "A", "value": "198.51.100.70"})
    difference = verify.drift(parse_inventory(raw), "example.com", served_text("healthy"))
    assert difference.missing == ["www.example.com. A 198.51.100.70"] and difference.extra == []


def test_the_zone_file_as_named_checkzone_loads_it_reads_like_the_transfer():
    dumped = (DATA / "healthy" / "ns1-dnsctl-zone.txt").read_text()
    assert verify.zone_records(dumped, "example.com") == verify.zone_records(
        served_text("healthy"), "example.com"
    )


def test_signing_records_are_not_drift():
    signed = served_text("healthy") + (
        "\nexample.com. 300 IN NSEC3PARAM 1 0 0 -\n"
        "example.com. 300 IN RRSIG SOA 13 2 3600 20261225000000 20261125000000 1 example.com. AAAA\n"
    )
    assert verify.drift(parse_inventory(LAB), "example.com", signed).extra == []


def test_transfers_asked_from_a_client_were_refused():
    attempts = parse_transfers((DATA / "healthy" / "client1-dnsctl-transfer.txt").read_text())
    assert set(attempts) == {NS1, NS2}
    assert all(attempt.failed and not attempt.ok and attempt.records == 0 for attempt in attempts.values())


def test_dig_failing_by_itself_is_no_refusal():
    attempt = parse_transfer("dig: couldn't get address for 'nosuch': not found\n;; dnsctl records: 0\n")
    assert attempt.error == "dig failed: dig: couldn't get address for 'nosuch': not found" and not attempt.ok


def test_table_lines_up():
    rows = [
        Row("example.com", "ns1", "primary", 2026112600),
        Row("example.com", "ns2", "secondary", None),
    ]
    rows[0].cells.update(soa="ok", drift="FAIL")
    lines = table(rows).splitlines()
    assert lines[0].split() == ["zone", "server", "role", "serial", *CHECKS]
    assert lines[1].split()[:5] == ["example.com", "ns1", "primary", "2026112600", "ok"]
    assert lines[2].split()[3] == "-"
    assert lines[0].index("serial") == lines[1].index("2026112600") == lines[2].index("-  ")


class Answers:
    """What this machine hears from the lab's servers by DNS, for the unit tests."""

    def __init__(self, serials: dict[str, int | None]) -> None:
        self.serials = serials

    def soa(self, server: str, zone: str, timeout: float = 2.0, *, tcp: bool = False) -> verify.SoaAnswer:
        serial = self.serials.get(server)
        if serial is None:
            return verify.SoaAnswer(
                None, False, "-", "unreachable (no route to host, or a firewall rejects DNS)"
            )
        return verify.SoaAnswer(serial, True, "NOERROR")


@pytest.fixture
def run_status(monkeypatch):
    def run(case: str, serials: dict[str, int | None]) -> tuple[Session, str, VerifyError | None]:
        answers = Answers(serials)
        monkeypatch.setattr(verify, "soa", answers.soa)
        monkeypatch.setattr(verify, "check_records", lambda inventory, zone, server: [])
        monkeypatch.setattr(
            verify, "transfer", lambda server, zone: verify.TransferAnswer(True, "refused (REFUSED)")
        )
        out = io.StringIO()
        session = Session(parse_inventory(LAB), Report("status", out=out), replayed(DATA / case))  # type: ignore[arg-type]
        try:
            status(session, ["example.com"])
        except VerifyError as exc:
            return session, out.getvalue(), exc
        return session, out.getvalue(), None

    return run


def test_status_of_a_healthy_zone(run_status):
    session, text, error = run_status("healthy", {NS1: 2026112600, NS2: 2026112600})
    assert error is None, text
    copies = session.report.data["zones"]["example.com"]
    assert copies["ns1"]["checks"] == dict.fromkeys(CHECKS, "ok")
    assert copies["ns2"]["checks"]["drift"] == "-"
    assert copies["ns1"]["transfer"] == {
        "this machine": "refused (REFUSED)",
        "client1": "refused (Transfer failed)",
    }
    assert session.report.data["drift"]["example.com"]["how"] == "AXFR of ns1 from ns2"
    assert "example.com  ns1     primary    2026112600  ok" in text


def test_status_names_the_record_added_by_hand(run_status):
    session, text, error = run_status("drift", {NS1: 2026112599, NS2: 2026112599})
    assert error is not None
    assert str(error) == (
        "1 problem: ns1 example.com: drift: "
        "served but not in the inventory: extra.example.com. A 198.51.100.66"
    )
    assert session.report.data["drift"]["example.com"]["extra"] == ["extra.example.com. A 198.51.100.66"]
    assert "FAIL ns1" in text


def test_status_names_a_secondary_out_of_reach(run_status):
    session, _, error = run_status("healthy", {NS1: 2026112600, NS2: None})
    assert error is not None and "ns2 example.com: soa: unreachable" in str(error)
    assert session.report.data["zones"]["example.com"]["ns2"]["checks"]["records"] == "-"


def test_firewall_open_now_but_not_for_good():
    found = Findings()
    host = parse_host_facts(
        "@@os-release\nID=debian\n@@firewall\nstate=running\nzone=public\nruntime=dns ssh\npermanent=ssh\n"
    )
    _check_firewall("ns1", host, found)
    assert "not in its permanent configuration" in found.problems[0].detail
    assert found.firewalls["ns1"]["ok"] is False


def test_drift_of_a_derived_reverse_zone():
    raw = json.loads(json.dumps(LAB))
    raw["zones"]["example.com"]["reverse"] = ["198.51.100.0/24"]
    inventory = parse_inventory(raw)
    zone = "100.51.198.in-addr.arpa"
    served = (
        f"{zone}. 3600 IN SOA ns1.example.com. hostmaster.{zone}. 1 3600 600 1209600 300\n"
        f"{zone}. 3600 IN NS ns1.example.com.\n{zone}. 3600 IN NS ns2.example.com.\n"
        f"10.{zone}. 3600 IN PTR ns1.example.com.\n11.{zone}. 3600 IN PTR ns2.example.com.\n"
        f"66.{zone}. 3600 IN PTR extra.example.com.\n"
    )
    difference = verify.drift(inventory, zone, served)
    assert difference.missing == [f"50.{zone}. PTR pc1.example.com."]
    assert difference.extra == [f"66.{zone}. PTR extra.example.com."]
