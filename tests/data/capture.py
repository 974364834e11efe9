"""Capture what dnsctl's scripts print on the lab, for the unit tests to replay.

doctor/CASE/HOST-SCRIPT.txt: doctor's reading of the path, healthy and with each link broken
for real (tests/test_doctor.py). status/*.txt: the zone listings and transfer attempts status
reads, before and after a record was added by hand (tests/test_status.py). Needs root and
the lab lock:

    labrun .venv/bin/python tests/data/capture.py
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from dnsctl import lab
from dnsctl.models import load_inventory
from dnsctl.ops.doctor import read_pairs
from dnsctl.ops.session import Session
from dnsctl.ops.status import read_host, served_by_file, served_by_transfer, transfers_from
from dnsctl.remote import Result
from dnsctl.report import Report
from dnsctl.transfer_path import walk

HERE = Path(__file__).parent
STATE = Path("/var/lib/dnsctl/doctor-capture")
ZONE = "example.com"
MANAGED = "/etc/bind/named.conf.dnsctl"
ZONE_FILE = "/var/lib/bind/example.com.db"
LOWER_SERIAL = r"sed -i -E 's/^([[:space:]]+)[0-9]+ ; serial$/\12000010100 ; serial/'"
ADD_BY_HAND = (
    f"printf 'extra\\tIN A 198.51.100.66\\n' >> {ZONE_FILE} && "
    f"sed -i -E 's/^([[:space:]]+)[0-9]+ ; serial$/\\12026112599 ; serial/' {ZONE_FILE} && rndc reload {ZONE}"
)
KEYGEN = (
    "tsig-keygen -a hmac-sha256 xfer > /etc/bind/xfer.key && chgrp bind /etc/bind/xfer.key && "
    "chmod 640 /etc/bind/xfer.key && cp /etc/bind/named.conf.local /root/local && "
    "echo 'include \"/etc/bind/xfer.key\";' >> /etc/bind/named.conf.local && "
)

# case: (commands that break it, commands that restore it), each (host, shell command)
CASES: dict[str, tuple[list[tuple[str, str]], list[tuple[str, str]]]] = {
    "healthy": ([], []),
    "primary-stopped": ([("ns1", "systemctl stop named")], [("ns1", "systemctl start named")]),
    "listen-localhost": (
        [
            (
                "ns1",
                "cp /etc/bind/named.conf.options /root/options && "
                r"sed -i 's/^options {/options {\n\tlisten-on { 127.0.0.1; };/' "
                "/etc/bind/named.conf.options && systemctl restart named",
            )
        ],
        [("ns1", "cp /root/options /etc/bind/named.conf.options && systemctl restart named")],
    ),
    "dns-not-allowed": (
        [("ns1", "firewall-cmd --remove-service=dns")],
        [("ns1", "firewall-cmd --add-service=dns")],
    ),
    "tcp-rejected": (
        [("ns1", "firewall-cmd --add-rich-rule='rule family=ipv4 port port=53 protocol=tcp reject'")],
        [("ns1", "firewall-cmd --remove-rich-rule='rule family=ipv4 port port=53 protocol=tcp reject'")],
    ),
    "query-refused": (
        [
            (
                "ns1",
                f"cp {MANAGED} /root/managed && sed -i 's/ 198.51.100.0\\/24;//; s/ 198.51.100.11;//' "
                f"{MANAGED} && sed -i 's/allow-transfer {{ none; }}/allow-transfer {{ 198.51.100.11; }}/' "
                f"{MANAGED} && rndc reconfig",
            )
        ],
        [("ns1", f"cp /root/managed {MANAGED} && rndc reconfig")],
    ),
    "transfer-refused": (
        [
            (
                "ns1",
                f"cp {MANAGED} /root/managed && sed -i 's/allow-transfer {{ 198.51.100.11; }}/"
                f"allow-transfer {{ none; }}/' {MANAGED} && rndc reconfig",
            ),
            ("ns2", f"rndc retransfer {ZONE}; sleep 0.5"),
        ],
        # A failed retransfer leaves the zone forced to transfer whatever the serial: clear it.
        [("ns1", f"cp /root/managed {MANAGED} && rndc reconfig"), ("ns2", f"rndc retransfer {ZONE}")],
    ),
    "serial-backwards": (
        [
            (
                "ns1",
                f"cp {ZONE_FILE} /root/zone && {LOWER_SERIAL} {ZONE_FILE} && rndc reload {ZONE} && sleep 0.5",
            )
        ],
        [("ns1", f"cp /root/zone {ZONE_FILE} && rndc reload {ZONE}")],
    ),
    "notify-missing": (
        [("ns1", f"cp {MANAGED} /root/managed && sed -i '/also-notify/d' {MANAGED} && rndc reconfig")],
        [("ns1", f"cp /root/managed {MANAGED} && rndc reconfig")],
    ),
    "slaves-root-owned": (
        [
            (
                "ns2",
                f"chown root:root /var/cache/bind/slaves && chmod 755 /var/cache/bind/slaves && "
                f"rndc retransfer {ZONE}; sleep 0.5",
            )
        ],
        [("ns2", "chown root:bind /var/cache/bind/slaves && chmod 775 /var/cache/bind/slaves")],
    ),
    "tsig-badsig": (
        [
            (
                "ns1",
                f"{KEYGEN}cp {MANAGED} /root/managed && sed -i 's/allow-transfer {{ 198.51.100.11; }}/"
                f"allow-transfer {{ key xfer; }}/' {MANAGED} && rndc reconfig",
            ),
            (
                "ns2",
                f"{KEYGEN}cp {MANAGED} /root/managed && sed -i 's/masters {{ 198.51.100.10; }}/"
                f"masters {{ 198.51.100.10 key xfer; }}/' {MANAGED} && rndc reconfig && "
                f"rndc retransfer {ZONE}; sleep 0.5",
            ),
        ],
        [],  # tsig-badkey builds on it
    ),
    "tsig-badkey": (
        [
            (
                "ns2",
                'sed -i \'s/key "xfer"/key "other"/\' /etc/bind/xfer.key && '
                f"sed -i 's/key xfer;/key other;/' {MANAGED} && rndc reconfig && "
                f"rndc retransfer {ZONE}; sleep 0.5",
            )
        ],
        [
            (
                host,
                f"cp /root/local /etc/bind/named.conf.local && cp /root/managed {MANAGED} && "
                "rm /etc/bind/xfer.key && rndc reconfig",
            )
            for host in ("ns1", "ns2")
        ],
    ),
    "primary-journal": (
        [
            (
                "ns1",
                f"sed -i 's/notify-delay 0;/notify-delay 0;\\n\\tallow-update {{ 127.0.0.1; }};/' {MANAGED} "
                "&& rndc reconfig && printf 'server 127.0.0.1\\n"
                "update add dyn.example.com. 300 A 198.51.100.99\\nsend\\n' | nsupdate",
            )
        ],
        [],
    ),
}


class Recorder:
    """A connection that runs through nsenter and keeps what each dnsctl script printed."""

    def __init__(self, name: str, outputs: dict[str, str]) -> None:
        self.name = name
        self.outputs = outputs

    def run(self, argv: list[str], check: bool = True, **_: object) -> Result:
        done = lab.host_exec(self.name, list(argv))
        self.outputs[f"{self.name}-{argv[3]}"] = done.stdout
        return Result(shlex.join(argv), done.stdout, done.stderr, done.returncode)


class RecordingFleet:
    def __init__(self) -> None:
        self.outputs: dict[str, str] = {}

    def __getitem__(self, name: str) -> Recorder:
        return Recorder(name, self.outputs)

    def each(self, items, function):
        return [function(item) for item in items]


def shell(host: str, command: str) -> None:
    done = lab.host_exec(host, ["sh", "-c", command])
    if done.returncode != 0:
        raise SystemExit(f"{host}: {command}: {done.stderr or done.stdout}")


def dnsctl(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "dnsctl", "-i", str(STATE / "inventory.toml"), *args])
    if done.returncode != 0:
        raise SystemExit(f"dnsctl {' '.join(args)} failed")


def capture(case: str, zone: str = ZONE) -> None:
    fleet = RecordingFleet()
    session = Session(load_inventory(STATE / "inventory.toml"), Report("capture"), fleet)  # type: ignore[arg-type]
    pair = read_pairs(session, zone, "ns1", ["ns2"])[0]
    folder = HERE / "doctor" / case
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in fleet.outputs.items():
        (folder / f"{name}.txt").write_text(text)
    last = walk(pair)[-1]
    print(f"{case}: {'ok' if last.ok else 'BROKEN'} at {last.host}: {last.check}: {last.detail}", flush=True)


def capture_status(case: str) -> None:
    """What status reads over SSH (host facts, the secondary's configuration, the AXFR it runs,
    the one refused to a client, the primary's zone file), by status's own functions."""
    fleet = RecordingFleet()
    session = Session(load_inventory(STATE / "inventory.toml"), Report("capture"), fleet)  # type: ignore[arg-type]
    hosts = {name: read_host(session, name) for name in ("ns1", "ns2")}
    served_by_transfer(session, ZONE, "ns2", "198.51.100.10", hosts["ns2"])
    transfers_from(session, "client1", ZONE, ["ns1", "ns2"])
    served_by_file(session, ZONE, "ns1", hosts["ns1"])
    folder = HERE / "status" / case
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in fleet.outputs.items():
        (folder / f"{name}.txt").write_text(text)


def main() -> None:
    lab.lab_up(STATE, secondaries=1, progress=print)
    try:
        inventory = STATE / "inventory.toml"
        inventory.write_text(
            inventory.read_text() + '\n[zones."lonely.test"]\nprimary = "ns1"\nsecondaries = ["ns2"]\n'
        )
        dnsctl("init-primary", ZONE, "--yes")
        dnsctl("add-slave", ZONE, "--yes")
        dnsctl("init-primary", "lonely.test", "--yes")
        capture("zone-not-on-secondary", "lonely.test")
        capture_status("healthy")
        shell("ns1", ADD_BY_HAND)
        shell("ns2", "sleep 1")  # NOTIFY, then the transfer
        capture_status("drift")
        dnsctl("add-slave", ZONE, "--yes")  # the record added by hand is gone again
        for case, (breaks, restores) in CASES.items():
            for host, command in breaks:
                shell(host, command)
            capture(case)
            for host, command in restores:
                shell(host, command)
    finally:
        lab.lab_down(STATE)


if __name__ == "__main__":
    main()
