"""The report as people see it on a terminal: step lines, and the live line while something is awaited."""

from __future__ import annotations

import io
import json
import time

import pytest

from dnsctl.report import ERASE_LINE, LiveLine, Report


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True

    def screen(self) -> list[str]:
        """What a terminal shows: each carriage return and erase starts its line again."""
        return [line.split(ERASE_LINE)[-1] for line in self.getvalue().split("\n")]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def terminal(monkeypatch) -> FakeTerminal:
    monkeypatch.setenv("COLUMNS", "100")
    return FakeTerminal()


def live_report(terminal: FakeTerminal, clock: Clock, **kwargs) -> Report:
    # The ticker redraws on its own every `interval`; an hour keeps it out of the way so
    # that each test draws exactly when it says.
    live = LiveLine(terminal, clock=clock, delay=0.5, interval=3600)
    return Report("add-slave", out=terminal, err=terminal, live=live, **kwargs)


def test_a_wait_shows_what_is_awaited_and_the_time_so_far(terminal, clock):
    report = live_report(terminal, clock)
    with report.waiting("ns2", "wait for example.com serial 2026112500"):
        report.live.draw()
        assert terminal.getvalue() == ""  # not yet: a short wait would only flicker
        clock.now += 1.25
        report.live.draw()
        assert terminal.screen() == ["..   ns2             1.2s  wait for example.com serial 2026112500"]
        clock.now += 2
        report.live.draw()
        assert terminal.screen() == ["..   ns2             3.2s  wait for example.com serial 2026112500"]
    assert terminal.screen() == [""]  # erased when done
    assert terminal.getvalue().endswith(ERASE_LINE)


def test_a_step_is_replaced_by_its_result(terminal, clock):
    report = live_report(terminal, clock)
    with report.step("ns2", "transferred file /var/cache/bind/slaves/example.com.db"):
        clock.now += 2
        report.live.draw()
        assert "2.0s  transferred file" in terminal.screen()[-1]
    shown, live = terminal.screen()
    assert shown.startswith("OK   ns2 ") and shown.endswith(
        "s  transferred file /var/cache/bind/slaves/example.com.db"
    )
    assert live == ""


def test_lines_printed_meanwhile_go_above_the_live_line(terminal, clock):
    report = live_report(terminal, clock)
    with report.waiting("ns2", "wait for example.com serial 5"):
        clock.now += 1
        report.live.draw()
        report.add("ns3", "ssh connect", seconds=0.02)
        report.text("--- a diff")
        assert terminal.screen() == [
            "OK   ns3            0.02s  ssh connect",
            "--- a diff",
            "..   ns2             1.0s  wait for example.com serial 5",
        ]
    assert terminal.screen()[-1] == ""


def test_overlapping_waits_show_the_longest_and_how_many_more(terminal, clock):
    report = live_report(terminal, clock)
    with report.waiting("ns2", "wait for example.com serial 5"):
        clock.now += 1
        with report.waiting("ns3", "wait for example.com serial 5"):
            clock.now += 1
            report.live.draw()
            assert terminal.screen()[-1].endswith("2.0s  wait for example.com serial 5 (+1 more)")
        report.live.draw()
        assert terminal.screen()[-1].endswith("2.0s  wait for example.com serial 5")


def test_the_line_never_wraps(terminal, clock, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")
    report = live_report(terminal, clock)
    with report.waiting("ns2", "wait for a zone with a very long name indeed to be transferred"):
        clock.now += 1
        report.live.draw()
        assert len(terminal.screen()[-1]) == 39


def test_nothing_of_it_with_json(terminal, clock):
    report = live_report(terminal, clock, json_mode=True)
    assert report.live is None
    with report.step("ns2", "wait"):
        clock.now += 5
    report.note("lab", "building the lab's root file system")
    report.emit(ok=True)
    assert json.loads(terminal.getvalue())["steps"][0]["action"] == "wait"


def test_notes_are_live_then_stay_as_lines(terminal, clock):
    report = live_report(terminal, clock)
    report.note("lab", "building the lab's root file system (about 70 s, once)")
    clock.now += 30
    report.live.draw()
    assert terminal.screen() == [
        "..   lab            30.0s  building the lab's root file system (about 70 s, once)"
    ]
    report.note("lab", "root file system cached (70 s)")
    assert terminal.screen() == ["lab: building the lab's root file system (about 70 s, once)", ""]
    report.emit(ok=True)
    assert terminal.screen() == [
        "lab: building the lab's root file system (about 70 s, once)",
        "lab: root file system cached (70 s)",
        "",
    ]


def test_notes_without_a_terminal_are_plain_lines():
    out, err = io.StringIO(), io.StringIO()
    report = Report("lab up", out=out, err=err)
    report.note("lab", "building the lab's root file system")
    assert err.getvalue() == "lab: building the lab's root file system\n" and out.getvalue() == ""


def test_the_ticker_redraws_by_itself_and_stops(terminal):
    live = LiveLine(terminal, delay=0, interval=0.01)
    token = live.start("ns1", "bring the primary back")
    deadline = time.monotonic() + 5
    while terminal.getvalue().count(ERASE_LINE) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert terminal.getvalue().count(ERASE_LINE) >= 3
    ticker = live._ticker
    live.stop(token)
    ticker.join(timeout=5)
    assert not ticker.is_alive()
    assert terminal.screen()[-1] == ""


def test_the_ticker_goes_as_soon_as_nothing_is_awaited(terminal):
    live = LiveLine(terminal, interval=3600)
    token = live.start("ns1", "ssh connect")
    ticker = live._ticker
    live.stop(token)
    ticker.join(timeout=5)  # long before its hour is up
    assert not ticker.is_alive()
