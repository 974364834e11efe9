"""The SSH layer's pure parts: how commands are shown, quoted and run in parallel."""

from __future__ import annotations

import pytest

from dnsctl.errors import RemoteError
from dnsctl.remote import Fleet, Result, _display


def test_display_of_scripts_and_argv():
    assert _display(["sh", "-c", "long\nscript", "dnsctl-read", "/etc/a b"]) == "dnsctl-read '/etc/a b'"
    assert _display(["rndc", "reload"]) == "rndc reload"
    assert _display("cat > /x\nmore") == "cat > /x"
    assert _display(["echo", "$(reboot); x"]) == "echo '$(reboot); x'"


def test_result_reason_is_the_last_meaningful_line():
    assert Result("c", "", "warning\nreal error\n\n", 1).reason() == "real error"
    assert Result("c", "", "", 3).reason() == "exit status 3"


def test_fleet_each_runs_all_and_raises_the_first_error():
    seen = []

    def work(item: int) -> int:
        seen.append(item)
        if item == 2:
            raise RemoteError("host 2 down")
        return item * 10

    with pytest.raises(RemoteError, match="host 2 down"):
        Fleet().each([1, 2, 3], work)
    assert sorted(seen) == [1, 2, 3]
    assert Fleet().each([1, 3], work) == [10, 30]
