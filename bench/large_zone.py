"""Benchmark: load and render a zone of N records (pure, no hosts).

Usage: python bench/large_zone.py [--records 100000]
"""

from __future__ import annotations

import argparse
import resource
import time

from dnsctl.models import parse_inventory
from dnsctl.render import render_zone


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    count = parser.parse_args().records
    records = [
        {"name": f"host{i}", "type": "A", "value": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
        for i in range(count)
    ]
    records += [{"name": f"alias{i}", "type": "CNAME", "value": f"host{i}"} for i in range(count // 10)]
    raw = {
        "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
        "zones": {"big.test": {"primary": "ns1", "secondaries": ["ns2"], "records": records}},
    }
    started = time.monotonic()
    inventory = parse_inventory(raw)
    loaded = time.monotonic()
    text = render_zone(inventory, "big.test", 2026112500)
    rendered = time.monotonic()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"records: {len(records)}; load+validate {loaded - started:.2f} s; render {rendered - loaded:.2f} s; "
        f"zone text {len(text) / 1e6:.1f} MB; peak RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
