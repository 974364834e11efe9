"""One function per subcommand. Each: connect -> pre-flight -> plan -> show -> apply -> verify."""

from __future__ import annotations

import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import dns.serial

from dnsctl import apply, facts, render, verify
from dnsctl.errors import (
    DnsctlError,
    PreconditionError,
    RemoteError,
    RollbackFailed,
    RolledBack,
    UsageError,
    ValidationError,
    VerifyError,
)
from dnsctl.models import Inventory, dns_name_text, in_zone
from dnsctl.plan import FileChange, HostPlan
from dnsctl.remote import Connection, Fleet, Target
from dnsctl.report import Report

LOCK_PATH = "/run/lock/dnsctl.lock"


@dataclass
class Options:
    dry_run: bool = False
    restart: bool = False
    no_firewall: bool = False
    timeout: float = 30.0
    today: Callable[[], dt.date] = dt.date.today
    # Asks before a change; raises to abort. The CLI asks only on a terminal without --yes.
    confirm: Callable[[str], None] = lambda question: None


@dataclass
class Session:
    """Everything one dnsctl run shares: the inventory, its connections and its report."""

    inventory: Inventory
    report: Report
    fleet: Fleet
    options: Options = field(default_factory=Options)

    def target(self, name: str) -> Target:
        inventory = self.inventory
        host = inventory.servers.get(name) or inventory.clients.get(name)
        if host is None:
            raise UsageError(f"unknown host {name!r}")
        ssh = inventory.ssh
        return Target(
            name=name,
            hostname=host.ssh_host or host.address,
            port=host.port or ssh.port,
            user=host.user or ssh.user,
            key=host.key or ssh.key,
            known_hosts=ssh.known_hosts,
            connect_timeout=ssh.connect_timeout,
            command_timeout=ssh.command_timeout,
        )

    def connect(self, names: Sequence[str]) -> dict[str, Connection]:
        started = time.monotonic()
        connections = self.fleet.connect([self.target(name) for name in names])
        self.report.add(",".join(names), "ssh connect", seconds=time.monotonic() - started)
        return connections

    def lock(self, names: Sequence[str]) -> None:
        """Hold each host's dnsctl lock for the rest of the run; fail at once if held."""
        holder = f"dnsctl pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%H:%M:%S')}"
        self.fleet.each(list(names), lambda name: self.fleet[name].lock(LOCK_PATH, holder))


# --- servers: the shared plan / apply machinery ----------------------------------

# What a server should carry: zone -> "primary" | "secondary".
Wants = dict[str, dict[str, str]]

CHECK_SCRIPT = r"""
echo "@@checkconf"
if command -v named-checkconf >/dev/null 2>&1; then named-checkconf 2>&1; echo "status=$?"; fi
echo "@@journals"
for zone_file in "$@"; do if [ -e "$zone_file.jnl" ]; then echo "$zone_file"; fi; done
"""


def _gather(session: Session, server: str, wants: dict[str, str]) -> HostPlan:
    """Pre-flight one server and compute its plan. Writes nothing."""
    inventory = session.inventory
    connection = session.fleet[server]
    address = inventory.servers[server].address
    host_facts = facts.parse_host_facts(
        connection.run(["sh", "-c", facts.HOST_SCRIPT, "dnsctl-facts", address]).stdout,
        inventory.servers[server].layout,
    )
    layout = host_facts.layout
    if layout is None:
        raise PreconditionError(
            f"{server}: cannot tell the OS family from /etc/os-release; set servers.{server}.layout"
        )
    if host_facts.firewall.state not in ("running", "absent") and not session.options.no_firewall:
        raise PreconditionError(
            f"{server}: firewalld is installed but {host_facts.firewall.state}; "
            "start it, or pass --no-firewall to leave the firewall alone"
        )
    primary_files = [layout.primary_file(zone) for zone, role in wants.items() if role == "primary"]
    paths = [*layout.config_files(), *primary_files]
    if not host_facts.bind_installed:
        # Nothing to diff against yet: converge() installs, then plans again.
        return HostPlan(server, address, layout, host_facts, install=True)
    current = facts.parse_files(
        connection.run(["sh", "-c", facts.READ_FILES_SCRIPT, "dnsctl-read", *paths]).stdout
    )
    _check_existing(server, connection, primary_files)

    plan = HostPlan(server, address, layout, host_facts, current=current)
    plan.restart = session.options.restart
    plan.open_firewall = (
        host_facts.firewall.state == "running"
        and not host_facts.firewall.dns_open
        and not session.options.no_firewall
    )
    for zone, role in wants.items():
        if role == "primary":
            _plan_zone_file(session, plan, zone)
        elif layout.secondary_dir not in plan.directories:
            plan.directories.append(layout.secondary_dir)
    _plan_config(inventory, plan, wants)
    if plan.directories:
        missing = connection.run(
            [
                "sh",
                "-c",
                'for d in "$@"; do [ -d "$d" ] || echo "$d"; done',
                "dnsctl",
                *plan.directories,
            ]
        ).stdout.split()
        plan.directories = [path for path in plan.directories if path in missing]
    # Zone files first, then configuration: the order files are staged and moved in.
    plan.changes.sort(key=lambda change: change.kind != "zone")
    return plan


def _plan_config(inventory: Inventory, plan: HostPlan, wants: dict[str, str]) -> None:
    """The configuration changes: our stanzas, our include line, the server's listen-on."""
    layout, current = plan.layout, plan.current
    new = dict(current)
    stanzas = render.parse_managed(current.get(layout.managed_conf))
    for zone, role in wants.items():
        render_stanza = render.primary_stanza if role == "primary" else render.secondary_stanza
        stanzas[zone] = render_stanza(inventory, zone, layout)
    new[layout.managed_conf] = render.render_managed(stanzas)
    new[layout.include_parent] = render.ensure_include(new.get(layout.include_parent), layout.managed_conf)
    if new.get(layout.options_file) is not None:
        new[layout.options_file] = render.ensure_listen_on(new[layout.options_file], plan.address)
    for path in layout.config_files():
        if new.get(path) is not None and new[path] != current.get(path):
            group = layout.group if path == layout.managed_conf else "root"
            plan.changes.append(FileChange(path, current.get(path), new[path], "config", group))


def _check_existing(server: str, connection: Connection, zone_files: list[str]) -> None:
    """Refuse to build on a configuration named already rejects, or over a journal."""
    output = facts.sections(connection.run(["sh", "-c", CHECK_SCRIPT, "dnsctl-check", *zone_files]).stdout)
    check = output.get("checkconf", [])
    if check and check[-1].strip() != "status=0":
        reason = next((line for line in check[:-1] if line.strip()), "rejected")
        raise ValidationError(
            f"{server}: the existing configuration already fails named-checkconf ({reason.strip()}); "
            "fix it first, nothing was changed"
        )
    journals = [line for line in output.get("journals", []) if line.strip()]
    if journals:
        raise ValidationError(
            f"{server}: {journals[0]}.jnl exists: the zone takes dynamic updates and dnsctl "
            "would overwrite them; run `rndc sync -clean` and remove dynamic updates first"
        )


def next_serial(current: int | None, today: dt.date) -> int:
    """YYYYMMDDnn when that is ahead of current (RFC 1982), else current + 1."""
    dated = int(today.strftime("%Y%m%d")) * 100
    if current is None or dns.serial.Serial(dated) > dns.serial.Serial(current):
        return dated
    return (dns.serial.Serial(current) + 1).value


def _plan_zone_file(session: Session, plan: HostPlan, zone: str) -> None:
    path = plan.layout.primary_file(zone)
    old = plan.current.get(path)
    # What named serves may be ahead of the file (edited by hand, not reloaded): ask,
    # unless the firewall is known to block us until this run opens it.
    served = verify.soa(plan.address, zone, timeout=1.0) if plan.facts.firewall.dns_open else None
    candidates = [
        serial
        for serial in (render.zone_serial(old), served.serial if served and served.ok else None)
        if serial is not None
    ]
    current_serial = None
    for serial in candidates:
        if current_serial is None or dns.serial.Serial(serial) > dns.serial.Serial(current_serial):
            current_serial = serial
    unchanged = current_serial is not None and old == render.render_zone(
        session.inventory, zone, render.zone_serial(old) or 0
    )
    if unchanged:
        plan.expect_serials[zone] = render.zone_serial(old) or 0
        return
    serial = next_serial(current_serial, session.options.today())
    text = render.render_zone(session.inventory, zone, serial)
    plan.changes.append(FileChange(path, old, text, "zone", plan.layout.group, zone))
    plan.expect_serials[zone] = serial


def converge(session: Session, wants: Wants, stages: list[list[str]]) -> dict[str, HostPlan]:
    """Bring servers to what the inventory wants; stages are activated in order."""
    servers = [server for stage in stages for server in stage]
    session.connect(servers)
    session.lock(servers)
    report = session.report
    started = time.monotonic()
    plans = dict(
        zip(
            servers,
            session.fleet.each(servers, lambda s: _gather(session, s, wants[s])),
            strict=True,
        )
    )
    report.add(",".join(servers), "pre-flight and plan", seconds=time.monotonic() - started)
    show_plans(report, plans)
    if session.options.dry_run:
        report.text("dry run: nothing was changed")
        return plans
    if all(plan.empty for plan in plans.values()):
        return plans
    session.options.confirm("Apply these changes?")
    for server, plan in plans.items():
        if plan.install:
            # The configuration files only exist once BIND is there: plan again on them.
            with report.step(server, f"install {' '.join(plan.layout.packages)}"):
                apply.install(session.fleet[server], plan)
            plans[server] = _gather(session, server, wants[server])
            show_plans(report, {server: plans[server]})
    _apply(session, plans, stages)
    return plans


def show_plans(report: Report, plans: dict[str, HostPlan]) -> None:
    report.data.setdefault("plan", {}).update(
        {name: {"actions": plan.actions(), "diff": plan.diff()} for name, plan in plans.items()}
    )
    for name, plan in plans.items():
        if plan.empty:
            report.add(name, "plan", "plan", detail="no changes")
            continue
        report.add(name, "plan", "plan", detail="; ".join(plan.actions()))
        if plan.changes and not report.json_mode:
            report.text(plan.diff())


def _apply(session: Session, plans: dict[str, HostPlan], stages: list[list[str]]) -> None:
    fleet, report = session.fleet, session.report
    busy = [name for name, plan in plans.items() if not plan.empty]

    def stage(name: str) -> None:
        with report.step(name, "stage and validate"):
            apply.prepare(fleet[name], plans[name])
            apply.stage(fleet[name], plans[name])

    try:
        fleet.each(busy, stage)  # every host validated before any is activated
    except BaseException as exc:
        for name in busy:
            apply.discard(fleet[name], plans[name])
        if isinstance(exc, DnsctlError) and not isinstance(exc, ValidationError | RemoteError):
            # e.g. a read-only or full file system: the failed write is undone already.
            raise RolledBack(f"{exc}; nothing was changed") from None
        raise
    stamp = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    activations: list[apply.Activation] = []
    try:
        for group in stages:

            def activate(name: str) -> None:
                plan = plans[name]
                activation = apply.Activation(plan, f"{apply.BACKUP_ROOT}/{stamp}")
                activations.append(activation)
                with report.step(name, "back up, activate, " + ("restart" if plan.restart else "reload")):
                    apply.activate(fleet[name], activation)
                    plan.activated_at = time.monotonic()
                if plan.open_firewall:
                    with report.step(name, f"firewalld: allow dns in zone {plan.facts.firewall.zone}"):
                        apply.open_firewall(fleet[name], plan)
                _confirm_serials(session, plan)

            fleet.each([name for name in group if name in busy], activate)
    except BaseException as exc:
        for name in busy:
            if name not in {activation.plan.server for activation in activations}:
                apply.discard(fleet[name], plans[name])
        _roll_back(session, activations, exc)


def _confirm_serials(session: Session, plan: HostPlan) -> None:
    for zone, serial in plan.expect_serials.items():
        answer = verify.wait_for_serial(plan.address, zone, serial, session.options.timeout)
        if not (answer.ok and answer.serial == serial):
            raise VerifyError(
                f"{plan.server}: named does not serve {zone} serial {serial} after the change "
                f"({_describe(answer)})"
            )


def _describe(answer: verify.SoaAnswer) -> str:
    if answer.error:
        return answer.error
    if answer.serial is None:
        return f"answer {answer.rcode}, no SOA"
    return f"serial {answer.serial}, {'authoritative' if answer.authoritative else 'not authoritative'}"


def _roll_back(session: Session, activations: list[apply.Activation], cause: BaseException) -> None:
    report = session.report
    reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause)
    failed = []
    for activation in reversed(activations):
        name = activation.plan.server
        try:
            with report.step(name, "roll back"):
                apply.rollback(session.fleet[name], activation)
                plan = activation.plan
                for zone in plan.expect_serials:
                    old = render.zone_serial(plan.current.get(plan.layout.primary_file(zone)))
                    expected = activation.restored_serials.get(zone, old)
                    if expected is not None:
                        answer = verify.wait_for_serial(plan.address, zone, expected, session.options.timeout)
                        if answer.serial != expected:
                            raise VerifyError(
                                f"{zone} is not back to its old content at serial {expected} "
                                f"({_describe(answer)})"
                            )
        except (DnsctlError, OSError) as exc:
            failed.append(f"{name}: {exc}")
    hosts = ", ".join(a.plan.server for a in activations)
    if failed:
        raise RollbackFailed(
            f"{reason}; ROLLBACK FAILED on {'; '.join(failed)}; backups are in "
            f"{activations[0].backup_dir} on {hosts}"
        ) from None
    raise RolledBack(f"{reason}; rolled back {hosts} to the previous configuration") from None


# --- the subcommands ----------------------------------------------------------------


def init_primary(session: Session, zone_name: str) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    plans = converge(session, {zone.primary: {zone_name: "primary"}}, [[zone.primary]])
    if session.options.dry_run:
        return
    _verify_primary(session, zone_name, plans[zone.primary])


def _verify_primary(session: Session, zone_name: str, plan: HostPlan) -> None:
    report = session.report
    with report.step(plan.server, f"verify {zone_name} SOA at {plan.address}") as step:
        answer = verify.soa(plan.address, zone_name)
        expected = plan.expect_serials[zone_name]
        if not (answer.ok and answer.serial == expected):
            raise VerifyError(
                f"{plan.server}: {zone_name} SOA: expected serial {expected} with AA, got {_describe(answer)}"
            )
        step.detail = f"serial {answer.serial}, authoritative"
        step.data["serial"] = answer.serial
    count = len(session.inventory.zones[zone_name].records)
    with report.step(plan.server, f"verify the {count} inventory records at {plan.address}"):
        problems = verify.check_records(session.inventory, zone_name, plan.address)
        if problems:
            raise VerifyError(
                f"{plan.server}: {problems[0]}"
                + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
            )


def add_slave(session: Session, zone_name: str, servers: Sequence[str] = ()) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    for server in servers:
        inventory.server(server)
        if server not in zone.secondaries:
            raise UsageError(
                f"{server!r} is not a secondary of {zone_name} in the inventory "
                f"(secondaries: {', '.join(zone.secondaries) or 'none'})"
            )
    targets = list(dict.fromkeys(servers or zone.secondaries))
    if not targets:
        raise UsageError(f"zone {zone_name} has no secondaries in the inventory")
    wants: Wants = {zone.primary: {zone_name: "primary"}}
    wants.update({server: {zone_name: "secondary"} for server in targets})
    plans = converge(session, wants, [[zone.primary], targets])
    if session.options.dry_run:
        return
    serial = plans[zone.primary].expect_serials[zone_name]
    layout_files = {name: plans[name].layout.secondary_file(zone_name) for name in targets}

    def check(server: str) -> None:
        address = inventory.servers[server].address
        with session.report.step(server, f"wait for {zone_name} serial {serial} at {address}") as step:
            answer = verify.wait_for_serial(address, zone_name, serial, session.options.timeout)
            if not (answer.ok and answer.serial == serial):
                raise VerifyError(
                    f"{server}: {zone_name} not transferred within {session.options.timeout:.0f} s "
                    f"({_describe(answer)})"
                )
            activated_at = plans[server].activated_at
            if activated_at is None:
                step.detail = "already in sync"
            else:
                took = time.monotonic() - activated_at
                step.detail = f"zone transferred, in sync {took:.2f}s after named took the change"
                step.data["transfer_seconds"] = round(took, 3)
            step.data["serial"] = serial
        path = layout_files[server]
        with session.report.step(server, f"transferred file {path}"):
            session.fleet[server].run(["test", "-s", path])

    session.fleet.each(targets, check)


def _client_dns(session: Session, dns_servers: Sequence[str]) -> list[str]:
    if dns_servers:
        return list(dns_servers)
    inventory = session.inventory
    addresses: list[str] = []
    for zone in inventory.zones.values():
        for server in (zone.primary, *zone.secondaries):
            address = inventory.servers[server].address
            if address not in addresses:
                addresses.append(address)
    if not addresses:
        raise UsageError("no zones in the inventory: give the servers with --dns")
    return addresses


def address_records(inventory: Inventory, zone_name: str) -> dict[str, tuple[str, set[str]]]:
    """FQDN -> (A or AAAA, values) for the zone's address records, in inventory order."""
    found: dict[str, tuple[str, set[str]]] = {}
    for record in inventory.records(zone_name):
        if record.type in ("A", "AAAA") and not record.owner.startswith("*."):
            rdtype, values = found.setdefault(record.owner, (record.type, set()))
            if rdtype == record.type:
                values.add(record.value)
    return found


def sample_name(inventory: Inventory, zone_name: str | None = None) -> tuple[str, str, set[str]] | None:
    """(FQDN, type, values) of the first address record, in zone_name or in any zone."""
    for name in [zone_name] if zone_name else list(inventory.zones):
        for fqdn, (rdtype, values) in address_records(inventory, name).items():
            return fqdn, rdtype, values
    return None


NM_READ = r"""
connection=$1
if [ -z "$connection" ]; then
  connection=$(nmcli -g NAME,DEVICE connection show --active |
    awk -F: '$2 != "lo" && $2 != "" {print $1; exit}')
fi
[ -n "$connection" ] || { echo "no active NetworkManager connection" >&2; exit 3; }
echo "@@connection"; printf '%s\n' "$connection"
echo "@@settings"; nmcli -g ipv4.dns,ipv4.ignore-auto-dns,ipv4.dns-options connection show "$connection"
"""


def configure_client(
    session: Session,
    clients: Sequence[str] = (),
    dns_servers: Sequence[str] = (),
    dns_options: str | None = None,
) -> None:
    inventory = session.inventory
    names = list(dict.fromkeys(clients)) or list(inventory.clients)
    if not names:
        raise UsageError("no clients in the inventory")
    for name in names:
        inventory.client(name)
    servers = _client_dns(session, dns_servers)
    probe = _served_sample(inventory, servers)
    session.connect(names)

    def one(name: str) -> None:
        _configure_one(session, name, servers, dns_options, probe)

    session.fleet.each(names, one)


def _configure_one(
    session: Session,
    name: str,
    servers: list[str],
    dns_options: str | None,
    probe: tuple[str, str, set[str]] | None,
) -> None:
    report, connection = session.report, session.fleet[name]
    configured = session.inventory.clients[name].connection or ""
    with report.step(name, "read NetworkManager connection") as step:
        result = connection.run(["sh", "-c", NM_READ, "dnsctl-nm", configured], check=False)
        if not result.ok:
            raise PreconditionError(f"{name}: {result.reason()}")
        parts = facts.sections(result.stdout)
        conn_name = parts["connection"][0]
        settings = [*parts.get("settings", []), "", "", ""][:3]
        step.detail = f"{conn_name}: dns {' '.join(nm_list(settings[0])) or '(none)'}"
    changes = nm_changes(settings, servers, dns_options)
    plan = [f"{key}: {old or '(none)'} -> {new}" for key, (old, new) in changes.items()]
    report.data.setdefault("plan", {})[name] = {"connection": conn_name, "changes": plan}
    report.add(name, "plan", "plan", detail="; ".join(plan) if plan else "no changes")
    if session.options.dry_run:
        report.text("dry run: nothing was changed")
        return
    if changes:
        session.options.confirm(f"Change the DNS settings of {name}?")
        with report.step(name, f"nmcli: set DNS of {conn_name} and bring it up"):
            args = [item for key, (_, new) in changes.items() for item in (key, new)]
            connection.run(["nmcli", "connection", "modify", conn_name, *args])
            connection.run(["nmcli", "connection", "up", conn_name], timeout=60)
    with report.step(name, "verify /etc/resolv.conf") as step:
        listed = _resolv_servers(connection.get("/etc/resolv.conf") or "")
        if listed[: len(servers)] != servers[: len(listed)] or not listed:
            raise VerifyError(
                f"{name}: /etc/resolv.conf lists {' '.join(listed) or 'no servers'}, "
                f"expected {' '.join(servers)}"
            )
        step.detail = "nameservers " + " ".join(listed)
    if probe is None:
        report.add(name, "getent", "skip", detail="no zone with an address record is served yet")
        return
    fqdn, rdtype, values = probe
    with report.step(name, f"getent resolves {fqdn}") as step:
        addresses = _getent(connection, fqdn, rdtype)
        if not addresses & values:
            raise VerifyError(
                f"{name}: getent {fqdn} gave {', '.join(sorted(addresses)) or 'nothing'}, "
                f"expected {', '.join(sorted(values))}"
            )
        step.detail = ", ".join(sorted(addresses))


def _served_sample(inventory: Inventory, servers: list[str]) -> tuple[str, str, set[str]] | None:
    """A name to resolve on clients: the first address record of a zone the first server serves."""
    for zone_name in inventory.zones:
        found = sample_name(inventory, zone_name)
        if found and verify.soa(servers[0], zone_name, timeout=1.0).ok:
            return found
    return None


def nm_list(text: str) -> list[str]:
    """A list value from `nmcli -g` (comma separated, colons escaped) or from us (spaces)."""
    return [item for item in text.replace("\\:", ":").replace(",", " ").split() if item]


def nm_changes(
    settings: list[str], servers: list[str], dns_options: str | None
) -> dict[str, tuple[str, str]]:
    """nmcli setting -> (current, wanted) for what differs; settings are the lines of
    `nmcli -g ipv4.dns,ipv4.ignore-auto-dns,ipv4.dns-options connection show`."""
    dns, ignore_auto, options = [*settings, "", "", ""][:3]
    current = {
        "ipv4.dns": nm_list(dns),
        "ipv4.ignore-auto-dns": [ignore_auto.strip()],
        "ipv4.dns-options": nm_list(options),
    }
    wanted = {"ipv4.dns": list(servers), "ipv4.ignore-auto-dns": ["yes"]}
    if dns_options is not None:
        wanted["ipv4.dns-options"] = nm_list(dns_options)
    return {
        key: (" ".join(current[key]), " ".join(value) if key == "ipv4.dns" else ",".join(value))
        for key, value in wanted.items()
        if current[key] != value
    }


def _resolv_servers(text: str) -> list[str]:
    return [
        line.split()[1]
        for line in text.splitlines()
        if line.strip().startswith("nameserver") and len(line.split()) > 1
    ]


def _getent(connection: Connection, fqdn: str, rdtype: str) -> set[str]:
    database = "ahostsv6" if rdtype == "AAAA" else "ahostsv4"
    result = connection.run(["getent", database, fqdn], check=False, timeout=60)
    return {line.split()[0] for line in result.stdout.splitlines() if line.split()}


def status(session: Session, zones: Sequence[str] = ()) -> None:
    """Ask every server of each zone for its SOA; fail unless all serve it, in sync."""
    inventory = session.inventory
    names = [inventory.zone_name(zone) for zone in zones] or list(inventory.zones)
    problems = []
    for zone_name in names:
        zone = inventory.zones[zone_name]
        servers = [zone.primary, *zone.secondaries]
        answers = session.fleet.each(
            servers, lambda server, z=zone_name: verify.soa(inventory.servers[server].address, z, 1.0)
        )
        primary_serial = answers[0].serial if answers[0].ok else None
        for server, answer in zip(servers, answers, strict=True):
            role = "primary" if server == zone.primary else "secondary"
            good = answer.ok and answer.serial == primary_serial
            detail = _describe(answer) + ("" if good or not answer.ok else f", primary has {primary_serial}")
            session.report.add(server, f"{zone_name} ({role})", "ok" if good else "fail", detail=detail)
            session.report.data.setdefault("zones", {}).setdefault(zone_name, {})[server] = {
                "role": role,
                "serial": answer.serial,
                "authoritative": answer.authoritative,
                "error": answer.error,
            }
            if not good:
                problems.append(f"{server} {zone_name}: {detail}")
    if problems:
        raise VerifyError(f"{len(problems)} zone copies not served or out of sync: {problems[0]}")


# --- failover-test -------------------------------------------------------------------

DROP_RULE = "rule family=ipv4 service name=dns drop"


@dataclass(frozen=True)
class Resolution:
    server: str | None  # who answered, from dig's SERVER line
    values: set[str]
    status: str
    seconds: float


def _resolve_on(connection: Connection, fqdn: str, rdtype: str) -> Resolution:
    """Resolve through the client's own resolv.conf: getent for the system answer, dig for who."""
    started = time.monotonic()
    values = _getent(connection, fqdn, rdtype)
    seconds = time.monotonic() - started
    dig = connection.run(["dig", "+time=2", "+tries=1", "+nocomments", fqdn, rdtype], check=False, timeout=60)
    if dig.status == 127:
        raise PreconditionError(
            f"{connection.name}: dig is not installed (bind9-dnsutils or bind-utils); "
            "failover-test needs it to see which server answered"
        )
    server = None
    status = "NOERROR" if values else "no answer"
    for line in dig.stdout.splitlines():
        if line.startswith(";; SERVER:"):
            server = line.split()[2].split("#")[0]
    return Resolution(server, values, status, seconds)


def failover_test(
    session: Session,
    zone_name: str,
    name: str | None = None,
    client: str | None = None,
    mode: str = "stop",
) -> None:
    inventory = session.inventory
    zone_name = inventory.zone_name(zone_name)
    zone = inventory.zones[zone_name]
    if not zone.secondaries:
        raise UsageError(f"zone {zone_name} has no secondaries: there is nothing to fail over to")
    client = client or next(iter(inventory.clients), None)
    if client is None:
        raise UsageError("no clients in the inventory: give --client")
    inventory.client(client)
    if name:
        try:
            fqdn = dns_name_text(name)
        except ValueError as exc:
            raise UsageError(f"--name: {exc}") from None
        if not name.endswith(".") and not in_zone(fqdn, zone_name):
            fqdn = f"{fqdn}.{zone_name}"
        rdtype, expected = address_records(inventory, zone_name).get(fqdn, ("A", set()))
    else:
        found = sample_name(inventory, zone_name)
        if found is None:
            raise UsageError(f"zone {zone_name} has no A or AAAA record to resolve: give --name")
        fqdn, rdtype, expected = found
    primary = inventory.servers[zone.primary]
    secondaries = {inventory.servers[s].address: s for s in zone.secondaries}
    session.connect([client, zone.primary])
    report = session.report
    report.data.update(zone=zone_name, name=fqdn, mode=mode, client=client)

    answer = verify.soa(primary.address, zone_name)
    if not answer.ok:
        raise PreconditionError(
            f"{zone.primary}: does not answer {zone_name} before the test ({_describe(answer)}); "
            "run init-primary first"
        )
    before = _resolve_on(session.fleet[client], fqdn, rdtype)
    _phase(report, client, "before: resolve", fqdn, before)
    if not expected:
        expected = before.values
    if before.values != expected or before.server != primary.address:
        raise PreconditionError(
            f"{client}: before the test {fqdn} resolved to {', '.join(sorted(before.values)) or 'nothing'} "
            f"from {before.server}; expected {', '.join(sorted(expected))} from the primary "
            f"{primary.address} (run configure-client?)"
        )

    primary_conn = session.fleet[zone.primary]
    session.options.confirm(f"This makes {zone.primary} unavailable for a few seconds. Continue?")
    problems: list[str] = []
    try:
        with report.step(zone.primary, f"make primary unavailable ({mode})"):
            _break_primary(primary_conn, mode)
        gone = verify.soa(primary.address, zone_name, timeout=1.0)
        report.add(
            zone.primary,
            "primary stopped answering",
            "ok" if gone.serial is None else "fail",
            detail=_describe(gone),
        )
        if gone.serial is not None:
            problems.append("the primary still answers")
        during = _resolve_on(session.fleet[client], fqdn, rdtype)
        good = during.values == expected and during.server in secondaries
        _phase(report, client, "during: resolve", fqdn, during, good)
        if not good:
            problems.append(
                f"with the primary down, {fqdn} resolved to {', '.join(sorted(during.values)) or 'nothing'} "
                f"from {during.server or 'no server'}"
            )
        for address, server in secondaries.items():
            direct = verify.soa(address, zone_name)
            ok = direct.ok
            report.add(
                server,
                f"{zone_name} SOA at {address}",
                "ok" if ok else "fail",
                detail=_describe(direct),
            )
            if not ok:
                problems.append(f"secondary {server} does not serve {zone_name} ({_describe(direct)})")
    finally:
        with report.step(zone.primary, "bring the primary back"):
            _restore_primary(primary_conn, mode)
            back = verify.wait_for_serial(primary.address, zone_name, answer.serial, session.options.timeout)
            if not back.ok:
                raise VerifyError(f"{zone.primary}: does not answer again after the test ({_describe(back)})")
    report.data["failover"] = not problems
    if problems:
        raise VerifyError("failover failed: " + "; ".join(dict.fromkeys(problems)))


def _phase(report: Report, client: str, label: str, fqdn: str, result: Resolution, good: bool = True) -> None:
    report.add(
        client,
        f"{label} {fqdn}",
        "ok" if good and result.values else "fail",
        seconds=result.seconds,
        detail=f"{', '.join(sorted(result.values)) or result.status} from {result.server or 'no server'}",
        answered_by=result.server,
        values=sorted(result.values),
    )


# A dead man's switch: if dnsctl dies with the primary down (kill -9, lost SSH), the
# host itself brings the primary back after this long.
SAFETY_SECONDS = 300
SAFETY_UNIT = "dnsctl-failover-restore"


def _break_primary(connection: Connection, mode: str) -> None:
    if mode == "stop":
        connection.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False)  # a stale one
        connection.run(
            [
                "systemd-run",
                f"--unit={SAFETY_UNIT}",
                f"--on-active={SAFETY_SECONDS}",
                "systemctl",
                "start",
                "named",
            ]
        )
        connection.run(["systemctl", "stop", "named"])
    else:
        connection.run(["firewall-cmd", f"--add-rich-rule={DROP_RULE}", f"--timeout={SAFETY_SECONDS}"])


def _restore_primary(connection: Connection, mode: str) -> None:
    if mode == "stop":
        connection.run(["systemctl", "start", "named"])
        connection.run(["systemctl", "stop", f"{SAFETY_UNIT}.timer"], check=False)
    else:
        result = connection.run(["firewall-cmd", f"--remove-rich-rule={DROP_RULE}"], check=False)
        if not result.ok and "NOT_ENABLED" not in result.stderr + result.stdout:
            raise RemoteError(f"{connection.name}: could not remove the drop rule: {result.reason()}")
