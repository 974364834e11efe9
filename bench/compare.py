"""dnsctl against its peers, side by side on one lab in one run.

Every figure in bench/RESULTS.md comes from one run of this script: the same lab,
the same machine, the same hour. Each round starts every tool from a fresh lab
(no zones, DNS closed in firewalld, the client without DNS servers), and the order
of the tools rotates from round to round so none always runs on a warmer machine.

  1. tutorial  init-primary, add-slave, configure-client as three dnsctl processes;
               the same change by bench/floor.py (three processes: the floor), by a
               pyinfra deploy and an Ansible playbook (bench/peers/); then each
               tool's no-op re-run (dnsctl: one `dnsctl apply` where it exists).
  2. records   `record add` until every secondary serves it, alone and 10 back to back.
  3. fleet     `dnsctl apply` of the tutorial zone from a fresh lab with 1, 8 and 32
               secondaries, its no-op, and dnsctl's peak memory.
  4. large     a zone of 100,000 records: load and render in-process, then
               init-primary and add-slave end to end on the lab.

Usage (root): python bench/compare.py [--rounds 5] [--sections tutorial,records,fleet,large]
Writes bench/RESULTS.md (--out to change). pyinfra and Ansible are installed from
PyPI into /var/cache/dnsctl/bench-peers on first use. dnsctl is measured as `pip
install` leaves it, with its modules compiled to bytecode, like paramiko and the peers.
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import dns.flags
import dns.message
import dns.query

from dnsctl import lab

HERE = Path(__file__).resolve().parent
STATE = Path("/var/lib/dnsctl/bench-lab")
PEERS = Path("/var/cache/dnsctl/bench-peers")
PEER_PACKAGES = ("pyinfra==3.10.0", "ansible==12.3.0")
TOOLS = ("dnsctl", "floor", "pyinfra", "ansible")


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, int]:
    """Seconds and peak RSS (KiB) of one child process; raise when it fails."""
    started = time.monotonic()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
    )
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"bench: {' '.join(argv)} failed:\n{output.decode(errors='replace')[-3000:]}")
    return seconds, usage.ru_maxrss


def dnsctl(*args: str) -> tuple[float, int]:
    return run([sys.executable, "-m", "dnsctl", "-i", str(STATE / "inventory.toml"), *args])


def has_command(name: str) -> bool:
    probe = subprocess.run([sys.executable, "-m", "dnsctl", name, "--help"], capture_output=True)
    return probe.returncode == 0


def fresh_lab(secondaries: int = 1) -> dict:
    lab.lab_down(STATE)
    lab.lab_up(STATE, secondaries=secondaries)
    return tomllib.loads((STATE / "inventory.toml").read_text())


def served(address: str, zone: str = "example.com") -> bool:
    query = dns.message.make_query(zone, "SOA")
    try:
        response = dns.query.udp(query, address, timeout=2)
    except Exception:
        return False
    return bool(response.flags & dns.flags.AA and response.answer)


def check_end_state(inventory: dict) -> None:
    """Every tool must leave the same result: both servers serve the zone, the client uses them."""
    for server in inventory["servers"].values():
        deadline = time.monotonic() + 10
        while not served(server["address"]):
            if time.monotonic() > deadline:
                raise SystemExit(f"bench: {server['address']} does not serve example.com")
            time.sleep(0.05)
    resolv = lab.host_exec("client1", ["cat", "/etc/resolv.conf"]).stdout
    for server in inventory["servers"].values():
        if f"nameserver {server['address']}" not in resolv:
            raise SystemExit(f"bench: the client does not use {server['address']}")


def ensure_peers() -> None:
    if (PEERS / "bin" / "ansible-playbook").exists() and (PEERS / "bin" / "pyinfra").exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEERS)], check=True)
    subprocess.run([str(PEERS / "bin" / "pip"), "install", "-q", *PEER_PACKAGES], check=True)


def peer_files(inventory: dict, workdir: Path) -> None:
    """pyinfra's and Ansible's inventories for the lab, as their users would write them."""
    servers, client = inventory["servers"], inventory["clients"]["client1"]
    primary, secondary = servers["ns1"]["address"], servers["ns2"]["address"]
    key, known_hosts = inventory["ssh"]["key"], inventory["ssh"]["known_hosts"]
    common = (
        f'"ssh_user": "root", "ssh_key": "{key}", "ssh_known_hosts_file": "{known_hosts}", '
        f'"ssh_strict_host_key_checking": "yes", "primary": "{primary}", "secondary": "{secondary}"'
    )
    (workdir / "inventory.py").write_text(
        f'primary = [("{primary}", {{{common}, "role": "primary"}})]\n'
        f'secondary = [("{secondary}", {{{common}, "role": "secondary"}})]\n'
        f'clients = [("{client["address"]}", {{{common}, "role": "client"}})]\n'
    )
    stanza_vars = (
        "primary_stanza: |\n"
        '  zone "example.com" {\n'
        "  \ttype master;\n"
        '  \tfile "/var/lib/bind/example.com.db";\n'
        f"  \tallow-transfer {{ {secondary}; }};\n"
        "  \tnotify explicit;\n"
        "  \tnotify-delay 0;\n"
        f"  \talso-notify {{ {secondary}; }};\n"
        "  };\n"
        "secondary_stanza: |\n"
        '  zone "example.com" {\n'
        "  \ttype slave;\n"
        '  \tfile "/var/cache/bind/slaves/example.com.db";\n'
        f"  \tmasters {{ {primary}; }};\n"
        "  };\n"
    )
    (workdir / "group_vars").mkdir(exist_ok=True)
    (workdir / "group_vars" / "all.yml").write_text(
        f'primary: "{primary}"\nsecondary: "{secondary}"\n' + stanza_vars
    )
    (workdir / "hosts.ini").write_text(
        "[servers]\n"
        f"ns1 ansible_host={primary} role=primary\n"
        f"ns2 ansible_host={secondary} role=secondary\n"
        "[clients]\n"
        f"client1 ansible_host={client['address']} role=client\n"
        "[all:vars]\n"
        f"ansible_user=root\nansible_ssh_private_key_file={key}\n"
        f"ansible_ssh_common_args='-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes'\n"
        "ansible_python_interpreter=/usr/bin/python3\n"
    )
    (workdir / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = True\nforks = 10\ninterpreter_python = /usr/bin/python3\n"
        "[ssh_connection]\npipelining = True\n"
    )


def tool_runs(
    tool: str, workdir: Path, apply_exists: bool
) -> tuple[Callable[[], float], Callable[[], float]]:
    """(the change, its no-op re-run) of one tool, each returning seconds."""
    inventory = str(STATE / "inventory.toml")
    if tool == "dnsctl":
        steps = (
            ["init-primary", "example.com", "--yes"],
            ["add-slave", "example.com", "--yes"],
            ["configure-client", "--yes"],
        )

        def change() -> float:
            return sum(dnsctl(*step)[0] for step in steps)

        def noop() -> float:
            return dnsctl("apply", "--yes")[0] if apply_exists else change()

        return change, noop
    if tool == "floor":
        floor = [sys.executable, str(HERE / "floor.py"), inventory]

        def floor_change() -> float:
            return sum(run([*floor, step])[0] for step in ("primary", "secondary", "client"))

        return floor_change, lambda: run([*floor, "noop"])[0]
    env = dict(os.environ, ANSIBLE_CONFIG=str(workdir / "ansible.cfg"), PYINFRA_PROGRESS="off")
    if tool == "pyinfra":
        argv = [
            str(PEERS / "bin" / "pyinfra"),
            str(workdir / "inventory.py"),
            str(HERE / "peers" / "deploy.py"),
            "-y",
        ]
    else:
        argv = [
            str(PEERS / "bin" / "ansible-playbook"),
            "-i",
            str(workdir / "hosts.ini"),
            str(HERE / "peers" / "playbook.yml"),
        ]

    def peer() -> float:
        return run(argv, env=env)[0]

    return peer, peer


def tutorial(rounds: int, workdir: Path) -> dict[str, dict[str, list[float]]]:
    ensure_peers()
    apply_exists = has_command("apply")
    results = {tool: {"change": [], "noop": []} for tool in TOOLS}
    for index in range(rounds):
        order = TOOLS[index % len(TOOLS) :] + TOOLS[: index % len(TOOLS)]
        for tool in order:
            inventory = fresh_lab()
            peer_files(inventory, workdir)
            change, noop = tool_runs(tool, workdir, apply_exists)
            results[tool]["change"].append(change())
            check_end_state(inventory)
            results[tool]["noop"].append(noop())
            print(
                f"round {index + 1} {tool}: change {results[tool]['change'][-1]:.2f} s, "
                f"no-op {results[tool]['noop'][-1]:.2f} s",
                file=sys.stderr,
            )
    results["dnsctl"]["noop_is_apply"] = [1.0 if apply_exists else 0.0]
    results["breakdown"] = breakdown()
    return results


BREAKDOWN_PROBE = """
import atexit, json, sys, time
started = time.perf_counter()
import dnsctl.cli
from dnsctl import ops, remote
{op}
remote._import_paramiko()
seconds = {{"imports": time.perf_counter() - started}}
from dnsctl.ops import session

def timed(owner, name, part):
    original = getattr(owner, name)
    def run(*args, **kwargs):
        begun = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            seconds[part] = seconds.get(part, 0.0) + time.perf_counter() - begun
    setattr(owner, name, run)

timed(session, "load_inventory", "inventory")
timed(session.Session, "lock", "lock")
from dnsctl.report import Report
spans = []
adding = Report.add

def add(self, *args, seconds=0.0, **kwargs):
    if seconds:
        now = time.perf_counter()
        spans.append((now - seconds, now))
    return adding(self, *args, seconds=seconds, **kwargs)

Report.add = add

def covered(spans):
    total, reached = 0.0, float("-inf")
    for start, end in sorted(spans):
        total += max(0.0, end - max(start, reached))
        reached = max(reached, end)
    return total

def leaving():
    seconds["exit_at"] = time.time()
    seconds["steps"] = covered(spans)  # steps side by side count once
    with open({out!r}, "w") as handle:
        json.dump(seconds, handle)

atexit.register(leaving)  # runs before dnsctl's own exit handler and Python's clean-up
dnsctl.cli.main(sys.argv[1:])
"""


def breakdown() -> dict[str, dict]:
    """Where the time of each tutorial command goes: one more run of each, from a fresh lab,
    with --json (every step's seconds), timed from outside and from inside: starting Python,
    importing what the command uses (paramiko included, so `ssh connect` is the handshake
    alone), loading the inventory, taking the hosts' locks, and leaving."""
    fresh_lab()
    result = {}
    python = run([sys.executable, "-c", "pass"])[0]
    timings = STATE / "breakdown.json"
    for name, args, op in (
        ("init-primary", ["init-primary", "example.com", "--yes"], "ops.init_primary"),
        ("add-slave", ["add-slave", "example.com", "--yes"], "ops.add_slave"),
        ("configure-client", ["configure-client", "--yes"], "ops.configure_client"),
    ):
        probe = BREAKDOWN_PROBE.format(op=op, out=str(timings))
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", probe, "-i", str(STATE / "inventory.toml"), "--json", *args],
            capture_output=True,
            text=True,
        )
        ended_at, wall = time.time(), time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"bench: {name} failed in the breakdown:\n{done.stderr[-3000:]}")
        inside = json.loads(timings.read_text())
        steps = [
            (step["host"], step["action"], step["seconds"])
            for step in json.loads(done.stdout)["steps"]
            if step["status"] == "ok" and step["seconds"] >= 0.005
        ]
        result[name] = {
            "wall": wall,
            "python": python,
            "imports": inside["imports"],
            "inventory": inside.get("inventory", 0.0),
            "lock": inside.get("lock", 0.0),
            "exit": ended_at - inside["exit_at"],
            "stepped": inside["steps"],
            "steps": steps,
        }
    return result


def records(rounds: int) -> dict[str, list[float]]:
    fresh_lab()
    dnsctl("init-primary", "example.com", "--yes")
    dnsctl("add-slave", "example.com", "--yes")
    alone = [
        dnsctl("record", "add", "example.com", f"alone{i}", "A", f"198.51.100.{60 + i}", "--yes")[0]
        for i in range(rounds)
    ]
    started = time.monotonic()
    for i in range(10):
        dnsctl("record", "add", "example.com", f"burst{i}", "A", f"198.51.100.{80 + i}", "--yes")
    return {"alone": alone, "burst10": [time.monotonic() - started]}


def fleet(sizes: list[int]) -> dict[int, dict[str, float]]:
    results = {}
    for size in sizes:
        fresh_lab(secondaries=size)
        change, memory = dnsctl("apply", "--yes")
        noop, noop_memory = dnsctl("apply", "--yes")
        results[size] = {"apply": change, "noop": noop, "peak_mib": max(memory, noop_memory) / 1024}
        print(f"fleet {size}: apply {change:.2f} s, no-op {noop:.2f} s", file=sys.stderr)
    return results


def large(count: int) -> dict[str, float]:
    from dnsctl.models import parse_inventory
    from dnsctl.render import render_zone

    inventory = fresh_lab()
    records = [
        {"name": f"host{i}", "type": "A", "value": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}"}
        for i in range(count)
    ]
    raw = {key: inventory[key] for key in ("ssh", "servers", "clients")}
    raw["zones"] = {"big.test": {"primary": "ns1", "secondaries": ["ns2"], "records": records}}
    started = time.monotonic()
    parsed = parse_inventory(raw)
    loaded = time.monotonic()
    render_zone(parsed, "big.test", 2026112500)
    rendered = time.monotonic()
    path = STATE / "big.toml"
    lines = [(STATE / "inventory.toml").read_text().split('[zones."example.com"]')[0]]
    lines.append('[zones."big.test"]\nprimary = "ns1"\nsecondaries = ["ns2"]\nrecords = [\n')
    lines += [f'  {{name = "{r["name"]}", type = "A", value = "{r["value"]}"}},\n' for r in records]
    lines.append("]\n")
    path.write_text("".join(lines))
    end_to_end = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "dnsctl", "-i", str(path), "init-primary", "big.test", "--yes"],
        check=True,
        capture_output=True,
    )
    primary = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "dnsctl", "-i", str(path), "add-slave", "big.test", "--yes"],
        check=True,
        capture_output=True,
    )
    done = time.monotonic()
    return {
        "load": loaded - started,
        "render": rendered - loaded,
        "init_primary": primary - end_to_end,
        "add_slave": done - primary,
        "end_to_end": done - end_to_end,
    }


def compile_dnsctl() -> None:
    """dnsctl's modules compiled to bytecode, as `pip install` leaves them (and paramiko and the
    peers here). An editable install compiles them at first use, except where
    PYTHONDONTWRITEBYTECODE is set: every process would then compile dnsctl's source again."""
    compileall.compile_dir(Path(lab.__file__).parent, quiet=1)


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} s, best {min(values):.2f} s"


def report(results: dict, rounds: int) -> str:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    lines = [
        "# Benchmark results",
        "",
        f"Made by `python bench/compare.py --rounds {rounds}` (as root) in one run on "
        f"{dt.date.today().isoformat()}, dnsctl at commit {commit}.",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores, {memory:.0f} GiB; the lab's containers "
        "share those cores with the tools being measured.",
        f"Peers: {', '.join(PEER_PACKAGES)} (from PyPI, in their own virtual environment); "
        "Ansible with pipelining and without fact gathering. dnsctl runs from its modules compiled "
        "to bytecode, as `pip install` leaves them and the peers.",
        "",
    ]
    if "tutorial" in results:
        data = results["tutorial"]
        lines += [
            "## 1. The tutorial's change on 3 hosts, and its no-op re-run",
            "",
            "| tool | change | no-op |",
            "|---|---|---|",
        ]
        for tool in TOOLS:
            lines.append(f"| {tool} | {summary(data[tool]['change'])} | {summary(data[tool]['noop'])} |")
        median = {
            tool: {k: statistics.median(v) for k, v in data[tool].items() if k in ("change", "noop")}
            for tool in TOOLS
        }
        dn = median["dnsctl"]
        noop_kind = (
            "`dnsctl apply`, one process" if data["dnsctl"]["noop_is_apply"][0] else "the three commands"
        )
        lines += [
            "",
            f"dnsctl's no-op is {noop_kind}. Ratios of medians (target in brackets):",
            "",
            f"- change: {dn['change'] / median['floor']['change']:.2f}x the floor (<= 1.1), "
            f"{dn['change'] / median['pyinfra']['change']:.2f}x pyinfra (<= 0.9), "
            f"{dn['change'] / median['ansible']['change']:.2f}x Ansible (<= 0.33)",
            f"- no-op: {dn['noop'] / median['floor']['noop']:.2f}x the floor's check (<= 1.2), "
            f"pyinfra {median['pyinfra']['noop'] / dn['noop']:.2f}x slower (>= 2), "
            f"Ansible {median['ansible']['noop'] / dn['noop']:.2f}x slower (>= 6)",
            "",
            "Raw figures (seconds, in round order):",
            "",
        ]
        for tool in TOOLS:
            lines.append(
                f"- {tool}: change {[round(v, 2) for v in data[tool]['change']]}, "
                f"no-op {[round(v, 2) for v in data[tool]['noop']]}"
            )
        lines += ["", "Where dnsctl's time goes (one more run of each command, from a fresh lab):", ""]
        for name, part in data["breakdown"].items():
            shown = "; ".join(f"{action.split(':')[0]} {seconds:.2f}" for _, action, seconds in part["steps"])
            accounted = ("python", "imports", "inventory", "lock", "stepped", "exit")
            rest = part["wall"] - sum(part[key] for key in accounted)
            lines.append(
                f"- {name}: {part['wall']:.2f} s in all: starting Python {part['python']:.2f} s, importing "
                f"what it uses {part['imports']:.2f} s, loading the inventory {part['inventory']:.2f} s, "
                f"taking the lock {part['lock']:.2f} s, its timed steps {part['stepped']:.2f} s ({shown}; "
                f"steps side by side counted once), exiting {part['exit']:.2f} s, "
                f"the rest (between steps) {rest:.2f} s"
            )
        lines.append("")
    if "records" in results:
        data = results["records"]
        lines += [
            "## 2. `record add` until every secondary serves it",
            "",
            f"- alone: {summary(data['alone'])} per command (raw {[round(v, 2) for v in data['alone']]})",
            f"- 10 back to back: {data['burst10'][0]:.2f} s in all",
            "",
        ]
    if "fleet" in results:
        lines += [
            "## 3. Fleets: `dnsctl apply` from a fresh lab",
            "",
            "| secondaries | apply | no-op | peak RSS |",
            "|---|---|---|---|",
        ]
        for size, data in results["fleet"].items():
            lines.append(
                f"| {size} | {data['apply']:.2f} s | {data['noop']:.2f} s | {data['peak_mib']:.0f} MiB |"
            )
        sizes = sorted(results["fleet"])
        ratio = results["fleet"][sizes[-1]]["apply"] / results["fleet"][sizes[0]]["apply"]
        lines += [
            "",
            f"{sizes[-1]} secondaries take {ratio:.2f}x the time of {sizes[0]} (target <= 2.5).",
            "",
        ]
    for note in results.get("skipped", []):
        lines += [f"## {note}", ""]
    if "large" in results:
        data = results["large"]
        lines += [
            "## 4. A zone of 100,000 records",
            "",
            f"- inventory load and validation {data['load']:.2f} s, "
            f"render {data['render']:.2f} s (in-process)",
            f"- init-primary {data['init_primary']:.2f} s, add-slave {data['add_slave']:.2f} s: "
            f"end to end {data['end_to_end']:.2f} s (target <= 5)",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sections", default="tutorial,records,fleet,large")
    parser.add_argument("--fleet-sizes", default="1,8,32")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    options = parser.parse_args()
    sections = options.sections.split(",")
    results: dict = {}
    workdir = Path("/var/lib/dnsctl/bench-peers-work")
    workdir.mkdir(parents=True, exist_ok=True)
    compile_dnsctl()
    try:
        if "tutorial" in sections:
            results["tutorial"] = tutorial(options.rounds, workdir)
        if "records" in sections:
            results["records"] = records(options.rounds)
        if "fleet" in sections and has_command("apply"):
            results["fleet"] = fleet([int(size) for size in options.fleet_sizes.split(",")])
        elif "fleet" in sections:
            results["skipped"] = ["3. Fleets: not measured, this dnsctl has no `apply` command yet"]
        if "large" in sections:
            results["large"] = large(options.records)
    finally:
        lab.lab_down(STATE)
    text = report(results, options.rounds)
    options.out.write_text(text + "\n")
    print(text)
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
