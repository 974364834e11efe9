"""Last: `dnsctl lab down` leaves nothing of the lab on this machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .conftest import dnsctl

pytestmark = pytest.mark.lab


def test_lab_down_leaves_nothing(the_lab):
    result = dnsctl("lab", "down", "--state-dir", str(the_lab.state_dir))
    assert result.returncode == 0, result.stderr
    assert not Path("/sys/class/net/ctllab0").exists()
    assert not list(Path("/sys/class/net").glob("vb-*"))
    assert not list(Path("/sys/fs/cgroup").glob("*/dnslab-*"))
    assert "dnslab-" not in Path("/proc/mounts").read_text()
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert "systemd-nspawn" not in processes
    assert not list(the_lab.state_dir.glob("dnslab-*"))
    assert not the_lab.state_dir.exists()
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True).stdout
    assert "198.51.100." not in routes
    status = dnsctl("--json", "lab", "status", "--state-dir", str(the_lab.state_dir))
    assert '"running": false' in status.stdout
