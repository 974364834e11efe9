"""verify: which records a check asks for, and that it asks them all, side by side."""

from __future__ import annotations

import itertools
import threading
import time

import dns.flags
import dns.message
import dns.name
import dns.rrset

from dnsctl import verify
from dnsctl.models import parse_inventory

SERVER = "198.51.100.10"


def inventory(records: list[dict]):
    return parse_inventory(
        {
            "servers": {"ns1": {"address": SERVER}},
            "zones": {"big.test": {"primary": "ns1", "records": records}},
        }
    )


def a_records(count: int) -> list[dict]:
    return [
        {"name": f"host{i}", "type": "A", "value": f"10.0.{i >> 8 & 255}.{i & 255}"} for i in range(count)
    ]


def test_every_record_set_up_to_the_bound():
    keys = [(f"h{i}", "A") for i in range(verify.MAX_CHECKED_RRSETS)]
    assert verify.sample(keys, kind=lambda key: key[1]) == keys


def test_beyond_the_bound_each_type_and_an_even_spread():
    keys = [(f"h{i}", "A") for i in range(10_000)]
    keys[7_777] = ("mail", "MX")
    keys[9_999] = ("txt", "TXT")
    picked = verify.sample(keys, kind=lambda key: key[1])
    assert len(picked) <= verify.MAX_CHECKED_RRSETS
    assert {"A", "MX", "TXT"} <= {rdtype for _, rdtype in picked}
    assert picked == sorted(picked, key=keys.index)  # in the zone's order
    indexes = [keys.index(key) for key in picked if key[1] == "A"]
    gaps = {later - earlier for earlier, later in itertools.pairwise(indexes)}
    assert max(gaps) <= 10_000 // (verify.MAX_CHECKED_RRSETS - 3) + 1  # evenly spread
    assert picked[0] == keys[0]
    assert verify.sample(keys, kind=lambda key: key[1]) == picked  # the same every time


def answering(table: dict[str, str], asked: list[str], delay: float = 0.0):
    """An ask() that answers A queries from table (name -> address), recording each question."""

    def ask(server: str, name: object, rdtype: str, timeout: float = 2.0) -> dns.message.Message:
        assert server == SERVER
        text = dns.name.from_text(str(name)).to_text()
        asked.append(text)
        time.sleep(delay)
        query = dns.message.make_query(text, rdtype)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if text in table:
            response.answer.append(dns.rrset.from_text(text, 300, "IN", rdtype, table[text]))
        return response

    return ask


def test_a_large_zone_is_checked_on_its_sample_concurrently(monkeypatch):
    records = a_records(5_000)
    table = {f"host{i}.big.test.": record["value"] for i, record in enumerate(records)}
    asked: list[str] = []
    monkeypatch.setattr(verify, "ask", answering(table, asked, delay=0.01))
    started = time.monotonic()
    assert verify.check_records(inventory(records), "big.test", SERVER) == []
    assert 200 < len(asked) <= verify.MAX_CHECKED_RRSETS
    # 0.01 s per answer: one after another would take 2.5 s.
    assert time.monotonic() - started < 1.0


def test_a_wrong_answer_in_the_sample_is_reported(monkeypatch):
    records = a_records(3)
    table = {"host0.big.test.": "10.0.0.0", "host1.big.test.": "10.9.9.9"}
    monkeypatch.setattr(verify, "ask", answering(table, []))
    assert verify.check_records(inventory(records), "big.test", SERVER) == [
        "host1.big.test. A: expected 10.0.0.1, got 10.9.9.9",
        "host2.big.test. A: expected 10.0.0.2, got NOERROR",
    ]


def test_wait_for_serial_polls_at_short_intervals(monkeypatch):
    answers = iter([verify.SoaAnswer(1, True, "NOERROR")] * 5 + [verify.SoaAnswer(2, True, "NOERROR")])
    calls = threading.Event()
    monkeypatch.setattr(verify, "soa", lambda server, zone, timeout=2.0: calls.set() or next(answers))
    started = time.monotonic()
    assert verify.wait_for_serial(SERVER, "big.test", 2, timeout=5).serial == 2
    assert time.monotonic() - started < 6 * verify.POLL_INTERVAL + 0.1
