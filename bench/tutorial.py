"""Benchmark: the tutorial's change on the lab, end to end, and its no-op re-run.

Each round starts from a fresh lab (no zones, DNS closed), then times the three
commands an administrator runs: init-primary, add-slave, configure-client, as
separate `dnsctl` processes (Python start-up included, as in real use). Then the
same three again, which must change nothing. Reports medians and the largest
peak RSS of a dnsctl process.

Usage (root): python bench/tutorial.py [--rounds 5] [--secondaries 1]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from dnsctl import lab

STATE = Path("/var/lib/dnsctl/bench-lab")
COMMANDS = (["init-primary", "example.com"], ["add-slave", "example.com"], ["configure-client"])


def dnsctl(args: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "dnsctl", "-i", str(STATE / "inventory.toml"), *args, "--yes"],
        check=True,
        capture_output=True,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--secondaries", type=int, default=1)
    options = parser.parse_args()
    change, noop = [], []
    try:
        for _ in range(options.rounds):
            lab.lab_down(STATE)
            lab.lab_up(STATE, secondaries=options.secondaries)
            change.append(sum(dnsctl(args) for args in COMMANDS))
            noop.append(sum(dnsctl(args) for args in COMMANDS))
    finally:
        lab.lab_down(STATE)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    hosts = options.secondaries + 2
    print(f"hosts: {hosts} ({options.secondaries} secondaries), rounds: {options.rounds}")
    print(
        f"change (init-primary + add-slave + configure-client): median {statistics.median(change):.2f} s, "
        f"min {min(change):.2f} s, max {max(change):.2f} s"
    )
    print(
        f"no-op re-run of the same three: median {statistics.median(noop):.2f} s, "
        f"min {min(noop):.2f} s, max {max(noop):.2f} s"
    )
    print(f"peak RSS of one dnsctl process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
