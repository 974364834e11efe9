"""The engine behind every server change: gather -> plan -> show -> stage -> activate -> verify,
and roll back everything activated when any step fails.

Callers say what each server should carry (Wants) and in which stages servers are
activated (a primary before its secondaries); they get dry runs, validation on
every host before any is touched, backups and rollback for free.
"""

from __future__ import annotations

import os
import time

from dnsctl import apply, facts, plan, render, verify
from dnsctl.errors import (
    DnsctlError,
    PreconditionError,
    RemoteError,
    RollbackFailed,
    RolledBack,
    ValidationError,
    VerifyError,
)
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan
from dnsctl.report import Report

# What each server should carry: server -> zone -> "primary" | "secondary".
Wants = dict[str, dict[str, str]]


def gather(session: Session, server: str, wants: dict[str, str]) -> HostPlan:
    """Pre-flight one server: read its facts and files, refuse what must not be built on,
    and plan. Writes nothing."""
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
    if not host_facts.bind_installed:
        # Nothing to diff against yet: converge() installs, then plans again.
        return HostPlan(server, address, layout, host_facts, install=True)
    primary_files = [layout.primary_file(zone) for zone, role in wants.items() if role == "primary"]
    current = facts.parse_files(
        connection.run(
            ["sh", "-c", facts.READ_FILES_SCRIPT, "dnsctl-read", *layout.config_files(), *primary_files]
        ).stdout
    )
    existing = facts.parse_existing(
        connection.run(["sh", "-c", facts.EXISTING_SCRIPT, "dnsctl-check", *primary_files]).stdout
    )
    _refuse_existing(server, existing)

    host_plan = HostPlan(server, address, layout, host_facts, current=current)
    host_plan.restart = session.options.restart
    host_plan.open_firewall = (
        host_facts.firewall.state == "running"
        and not host_facts.firewall.dns_open
        and not session.options.no_firewall
    )
    # What named serves may be ahead of the file (edited by hand, not reloaded): ask,
    # unless the firewall is known to block us until this run opens it.
    served = {
        zone: _served_serial(address, zone) if host_facts.firewall.dns_open else None
        for zone, role in wants.items()
        if role == "primary"
    }
    plan.plan_server(inventory, host_plan, wants, served, session.options.today())
    if host_plan.directories:
        missing = facts.parse_missing_dirs(
            connection.run(["sh", "-c", facts.MISSING_DIRS_SCRIPT, "dnsctl", *host_plan.directories]).stdout
        )
        host_plan.directories = [path for path in host_plan.directories if path in missing]
    return host_plan


def _served_serial(address: str, zone: str) -> int | None:
    answer = verify.soa(address, zone, timeout=1.0)
    return answer.serial if answer.ok else None


def _refuse_existing(server: str, existing: facts.Existing) -> None:
    """Refuse to build on a configuration named already rejects, or over a journal."""
    if existing.checkconf_error:
        raise ValidationError(
            f"{server}: the existing configuration already fails named-checkconf "
            f"({existing.checkconf_error}); fix it first, nothing was changed"
        )
    if existing.journals:
        raise ValidationError(
            f"{server}: {existing.journals[0]}.jnl exists: the zone takes dynamic updates and dnsctl "
            "would overwrite them; run `rndc sync -clean` and remove dynamic updates first"
        )


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
            session.fleet.each(servers, lambda s: gather(session, s, wants[s])),
            strict=True,
        )
    )
    report.add(",".join(servers), "pre-flight and plan", seconds=time.monotonic() - started)
    show_plans(report, plans)
    if session.options.dry_run:
        report.text("dry run: nothing was changed")
        return plans
    if all(host_plan.empty for host_plan in plans.values()):
        return plans
    session.options.confirm("Apply these changes?")
    for server, host_plan in plans.items():
        if host_plan.install:
            # The configuration files only exist once BIND is there: plan again on them.
            with report.step(server, f"install {' '.join(host_plan.layout.packages)}"):
                apply.install(session.fleet[server], host_plan)
            plans[server] = gather(session, server, wants[server])
            show_plans(report, {server: plans[server]})
    _apply(session, plans, stages)
    return plans


def show_plans(report: Report, plans: dict[str, HostPlan]) -> None:
    report.data.setdefault("plan", {}).update(
        {name: {"actions": p.actions(), "diff": p.diff()} for name, p in plans.items()}
    )
    for name, host_plan in plans.items():
        if host_plan.empty:
            report.add(name, "plan", "plan", detail="no changes")
            continue
        report.add(name, "plan", "plan", detail="; ".join(host_plan.actions()))
        if host_plan.changes and not report.json_mode:
            report.text(host_plan.diff())


def _apply(session: Session, plans: dict[str, HostPlan], stages: list[list[str]]) -> None:
    fleet, report = session.fleet, session.report
    busy = [name for name, host_plan in plans.items() if not host_plan.empty]

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
                host_plan = plans[name]
                activation = apply.Activation(host_plan, f"{apply.BACKUP_ROOT}/{stamp}")
                activations.append(activation)
                verb = "restart" if host_plan.restart else "reload"
                with report.step(name, f"back up, activate, {verb}"):
                    apply.activate(fleet[name], activation)
                    host_plan.activated_at = time.monotonic()
                if host_plan.open_firewall:
                    with report.step(name, f"firewalld: allow dns in zone {host_plan.facts.firewall.zone}"):
                        apply.open_firewall(fleet[name], host_plan)
                _confirm_serials(session, host_plan)

            fleet.each([name for name in group if name in busy], activate)
    except BaseException as exc:
        for name in busy:  # what is still staged, also on a host whose activation stopped half-way
            apply.discard(fleet[name], plans[name])
        roll_back(session, activations, exc)


def _confirm_serials(session: Session, host_plan: HostPlan) -> None:
    for zone, serial in host_plan.expect_serials.items():
        with session.report.waiting(host_plan.server, f"wait for {zone} serial {serial}"):
            answer = verify.wait_for_serial(host_plan.address, zone, serial, session.options.timeout)
        if not (answer.ok and answer.serial == serial):
            raise VerifyError(
                f"{host_plan.server}: named does not serve {zone} serial {serial} after the change "
                f"({verify.describe(answer)})"
            )


def roll_back(session: Session, activations: list[apply.Activation], cause: BaseException) -> None:
    """Undo every activation, newest first, and prove named serves the old data again.

    Always raises: RolledBack when every host is back, RollbackFailed otherwise.
    """
    report = session.report
    reason = "interrupted" if isinstance(cause, KeyboardInterrupt) else str(cause)
    failed = []
    for activation in reversed(activations):
        name = activation.plan.server
        try:
            with report.step(name, "roll back"):
                apply.rollback(session.fleet[name], activation)
                _confirm_restored(session, activation)
        except (DnsctlError, OSError) as exc:
            failed.append(f"{name}: {exc}")
    hosts = ", ".join(a.plan.server for a in activations)
    if failed:
        raise RollbackFailed(
            f"{reason}; ROLLBACK FAILED on {'; '.join(failed)}; backups are in "
            f"{activations[0].backup_dir} on {hosts}"
        ) from None
    raise RolledBack(f"{reason}; rolled back {hosts} to the previous configuration") from None


def _confirm_restored(session: Session, activation: apply.Activation) -> None:
    host_plan = activation.plan
    if not host_plan.facts.named_active:
        return  # named served nothing before and is stopped again: there is no old serial to see
    for zone in host_plan.expect_serials:
        old = render.zone_serial(host_plan.current.get(host_plan.layout.primary_file(zone)))
        expected = activation.restored_serials.get(zone, old)
        if expected is None:
            continue
        answer = verify.wait_for_serial(host_plan.address, zone, expected, session.options.timeout)
        if answer.serial != expected:
            raise VerifyError(
                f"{zone} is not back to its old content at serial {expected} ({verify.describe(answer)})"
            )
