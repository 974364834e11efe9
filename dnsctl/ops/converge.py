"""The engine behind every server change: gather -> plan -> show -> stage -> activate -> verify,
and roll back everything activated when any step fails.

Callers say what each server should carry (Wants) and in which stages servers are
activated (a primary before its secondaries); they get dry runs, validation on
every host before any is touched, backups and rollback for free.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from dnsctl import apply, catalog, dnssec, interrupt, namedconf, plan, render, tsig, verify
from dnsctl.errors import (
    DnsctlError,
    PreconditionError,
    RemoteError,
    RolledBack,
    ValidationError,
    VerifyError,
)
from dnsctl.facts.files import FileState, parse_files, parse_missing_dirs, parse_resolved
from dnsctl.facts.host import Existing, parse_existing, parse_host_facts, preflight_arguments, split_preflight
from dnsctl.facts.scripts import EXISTING_SCRIPT, PREFLIGHT_SCRIPT, READ_FILES_SCRIPT
from dnsctl.models import Inventory
from dnsctl.namedconf import Statement
from dnsctl.ops import keys, rollback
from dnsctl.ops.dnssec import verify_signing
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan
from dnsctl.platform import LAYOUTS, Layout
from dnsctl.remote import Connection
from dnsctl.report import Report

# What each server should carry: server -> zone -> "primary" | "secondary".
Wants = dict[str, dict[str, str]]


def gather(
    session: Session,
    server: str,
    wants: dict[str, str],
    keyring: tsig.Keyring | None = None,
    prune: Callable[[str], bool] | None = None,
) -> HostPlan:
    """Pre-flight one server: read its facts and files, refuse what must not be built on,
    and plan with the run's TSIG keys. Writes nothing. prune: which stale zones to remove
    (see plan.plan_server)."""
    inventory = session.inventory
    connection = session.fleet[server]
    address = inventory.servers[server].address
    configured = inventory.servers[server].layout
    keyring = keyring or tsig.Keyring()
    primaries = [zone for zone, role in wants.items() if role == "primary"]
    # The catalog zone is a zone file of the primary like the others.
    zone_files = [zone for zone, role in wants.items() if role in ("primary", "catalog")]
    # One round trip, before the OS is known: what each layout the host may have would read.
    reads = {
        each.name: (_directories(inventory, each, wants), _read_arguments(each, zone_files))
        for each in ([LAYOUTS[configured]] if configured else LAYOUTS.values())
    }
    output = connection.run(
        ["sh", "-c", PREFLIGHT_SCRIPT, "dnsctl-preflight", *preflight_arguments(address, reads)]
    ).stdout
    facts_text, read = split_preflight(output)
    host_facts = parse_host_facts(facts_text, configured)
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
        return HostPlan(server, address, layout, host_facts, install=True, keyring=keyring)
    dirs_text, files_text = read[layout.name]
    # Every file dnsctl may change, read without following links; and named's main file.
    ours = _ours(layout, zone_files)
    try:
        files = parse_files(files_text)
        resolved = parse_resolved(files_text)
        _refuse_shared(files, ours)
    except PreconditionError as exc:
        raise PreconditionError(f"{server}: {exc}; nothing was changed") from None
    current = {path: files[path].text for path in ours}
    named_conf = resolved.get(layout.named_conf)
    if not named_conf:
        raise PreconditionError(f"{server}: {layout.named_conf} does not exist; is BIND installed as usual?")
    current.setdefault(layout.named_conf, files[named_conf[0]].text)
    stanzas = render.parse_managed(current.get(layout.managed_conf))
    if not session.options.allow_unsigning:
        for zone in primaries:
            dnssec.refuse_unsigning(server, zone, stanzas.get(zone), inventory)

    host_plan = HostPlan(server, address, layout, host_facts, current=current, files=files, keyring=keyring)
    host_plan.restart = session.options.restart
    host_plan.open_firewall = (
        host_facts.firewall.state == "running"
        and not host_facts.firewall.dns_open
        and not session.options.no_firewall
    )
    # What named serves may be ahead of the file (edited by hand, not reloaded): ask,
    # unless the firewall is known to block us until this run opens it.
    served = {
        zone: _served_serial(address, zone) if host_facts.firewall.dns_open else None for zone in zone_files
    }
    plan.plan_server(inventory, host_plan, wants, served, session.options.today(), prune)
    host_plan.expected_zones = _expected_zones(inventory, host_plan, wants)
    host_plan.expected_keys = namedconf.expected_keys(host_plan.planned(tsig.key_file(layout)))
    try:
        if host_plan.changes:
            host_plan.chain = _chain(connection, host_plan, ours, resolved)
        missing = parse_missing_dirs(dirs_text)
        host_plan.directories = [path for path in host_plan.directories if path in missing]
    except PreconditionError as exc:
        raise PreconditionError(f"{server}: {exc}; nothing was changed") from None
    if host_plan.writes:
        # Only what will be built on must pass named-checkconf and have no journal: a run
        # with nothing to write spares every host a full parse of its configuration.
        # A signed zone's journal is inline signing's record of its file's versions, not dynamic updates.
        unsigned = [
            layout.primary_file(zone) for zone in zone_files if not dnssec.stanza_policy(stanzas.get(zone))
        ]
        existing = parse_existing(
            connection.run(["sh", "-c", EXISTING_SCRIPT, "dnsctl-check", *unsigned]).stdout
        )
        _refuse_existing(server, existing)
    return host_plan


def _directories(inventory: Inventory, layout: Layout, wants: dict[str, str]) -> list[str]:
    """The directories a run may create on a server of this layout: a secondary's, a catalog
    consumer's, and the key directory of signed zones."""
    directories = []
    if {"secondary", "consumer"} & set(wants.values()):
        directories.append(layout.secondary_dir)
    if "consumer" in wants.values():
        directories.append(catalog.directory(layout))
    if any(role == "primary" and inventory.signing_policy(zone) for zone, role in wants.items()):
        directories.append(dnssec.key_directory(layout))
    return directories


def _ours(layout: Layout, primaries: list[str]) -> list[str]:
    """Every file dnsctl may change on a server of this layout carrying these primary zones."""
    primary_files = [layout.primary_file(zone) for zone in primaries]
    files = (layout.options_file, layout.include_parent, layout.managed_conf, tsig.key_file(layout))
    return list(dict.fromkeys((*files, *primary_files)))


def _read_arguments(layout: Layout, primaries: list[str]) -> list[str]:
    """READ_FILES_SCRIPT's arguments: the files dnsctl may change, then named's main file."""
    return [*_ours(layout, primaries), "--", layout.named_conf]


def _expected_zones(inventory: Inventory, host_plan: HostPlan, wants: dict[str, str]) -> dict[str, Statement]:
    """The zones this run writes, as named must parse them (a zone it removes is not one)."""
    expected = {}
    for zone, role in wants.items():
        if role in ("primary", "secondary"):
            expected[zone] = namedconf.expected_zone(
                inventory, zone, role, host_plan.layout, host_plan.keyring, host_plan.facts.named_version
            )
        elif role in ("catalog", "consumer"):
            members = plan.catalog_listing(inventory, host_plan, wants)[0]
            expected[zone] = namedconf.expected_catalog(
                inventory, role, host_plan.layout, members, host_plan.keyring
            )
    return expected


# Deeper include chains than this are refused rather than followed.
MAX_INCLUDE_DEPTH = 8


def _refuse_shared(files: dict[str, FileState], ours: list[str]) -> None:
    """A file with other hard links would be split from them when dnsctl renames over it,
    and one of those names may be a file dnsctl must never show or change."""
    for path in ours:
        state = files[path]
        if state.text is not None and state.links != 1:
            raise PreconditionError(
                f"{path} has {state.links} hard links; dnsctl replaces files by renaming over them: "
                "give it a single name"
            )


def _chain(
    connection: Connection, host_plan: HostPlan, ours: list[str], resolved: dict[str, list[str]]
) -> namedconf.Chain:
    """The include chain named will read once the plan is applied, read from the host as
    far as it goes, so validation copies exactly the files named will read."""
    layout, files = host_plan.layout, host_plan.files
    canonical = {path: state.canonical for path, state in files.items()}
    texts = {state.canonical: state.text for state in files.values() if state.text is not None}
    texts.update({canonical[c.path]: c.new for c in host_plan.changes if c.kind == "config"})
    resolved = {**resolved, **{path: [canonical[path]] for path in ours}}
    root = resolved[layout.named_conf][0]
    for _depth in range(MAX_INCLUDE_DEPTH):
        chain = namedconf.walk(root, texts, resolved)
        if not chain.missing:
            break
        output = connection.run(
            ["sh", "-c", READ_FILES_SCRIPT, "dnsctl-read", "--", *sorted(chain.missing)]
        ).stdout
        for state in parse_files(output).values():
            files.setdefault(state.path, state)
            if state.text is not None:
                texts.setdefault(state.canonical, state.text)
        resolved.update(parse_resolved(output))
    else:
        raise PreconditionError(f"{root}: includes nest deeper than {MAX_INCLUDE_DEPTH} files")
    chain.changed = {canonical[c.path] for c in host_plan.changes if c.kind == "config"}
    if any(change.kind == "zone" for change in host_plan.changes):
        chain.changed.add(canonical[layout.managed_conf])
    namedconf.check_patterns(chain)
    return chain


def _served_serial(address: str, zone: str) -> int | None:
    answer = verify.soa(address, zone, timeout=1.0)
    return answer.serial if answer.ok else None


def _refuse_existing(server: str, existing: Existing) -> None:
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


def converge(
    session: Session,
    wants: Wants,
    stages: list[list[str]],
    *,
    follow_secondaries: bool = False,
    keyring: tsig.Keyring | None = None,
    prove: dict[str, list[str]] | None = None,
    moving_transfers: bool = False,
) -> dict[str, HostPlan]:
    """Bring servers to what the inventory wants; stages are activated in order.

    keyring: the TSIG keys to configure; by default the ones the primaries hold (a
    key none holds yet is made on its primary). prove: server -> zones it must transfer
    again (`rndc retransfer`) once its stage is active, also when it changed nothing; a
    transfer that does not come rolls the run back. moving_transfers: this run is a step
    of moving a catalog's transfers to another key (ops/tsig.py), which may take away
    what the consumers ask with today.

    A secondary whose configuration this run changes must transfer the primary's
    serial as part of its activation: one that cannot is rolled back with the
    rest, never left answering SERVFAIL. With follow_secondaries, every other
    secondary in wants must also reach the primary's serial (also when nothing
    changed), so nothing runs outside the rollback after the first activation.
    """
    servers = [server for stage in stages for server in stage]
    plans = plan_servers(session, wants, servers, keyring=keyring, moving_transfers=moving_transfers)
    for server, zones in (prove or {}).items():
        plans[server].retransfer += [zone for zone in zones if zone not in plans[server].retransfer]
    show_plans(session.report, plans)
    if session.options.dry_run:
        session.report.text("dry run: nothing was changed")
        return plans
    if all(host_plan.empty for host_plan in plans.values()):
        if follow_secondaries:
            # Nothing changed, so nothing to roll back: one out of sync is a plain failure.
            session.fleet.each(servers, lambda s: _confirm_transfers(session, plans, wants, s))
        return plans
    carry_out(session, plans, wants, stages, follow_secondaries=follow_secondaries)
    return plans


def plan_servers(
    session: Session,
    wants: Wants,
    servers: list[str],
    *,
    keyring: tsig.Keyring | None = None,
    prune: Callable[[str], bool] | None = None,
    moving_transfers: bool = False,
) -> dict[str, HostPlan]:
    """Connect to and lock every server, then read and plan each, all in parallel. Writes
    nothing but a TSIG key none of the zones' primaries holds yet (see converge)."""
    session.connect(servers)
    session.lock(servers)
    started = time.monotonic()
    if keyring is None:
        keyring = keys.current_keyring(session, wants)
    plans = dict(
        zip(
            servers,
            session.fleet.each(servers, lambda s: gather(session, s, wants[s], keyring, prune)),
            strict=True,
        )
    )
    session.report.add(",".join(servers), "pre-flight and plan", seconds=time.monotonic() - started)
    if not moving_transfers:
        for host_plan in plans.values():
            _refuse_catalog_transfers_taken(session.inventory, host_plan)
    return plans


def _refuse_catalog_transfers_taken(inventory: Inventory, host_plan: HostPlan) -> None:
    """A change of the key the catalog's transfers are signed with takes away what every consumer
    asks with: only `catalog sync` makes it, in steps that leave no moment without a transfer."""
    if inventory.catalog is None:
        return
    managed = host_plan.layout.managed_conf
    before, after = (
        catalog.accepted(render.parse_managed(text).get(inventory.catalog))
        for text in (host_plan.current.get(managed), host_plan.planned(managed))
    )
    if before is None or after is None:
        return
    taken = ["transfers from the consumers' addresses"] if before.by_address and not after.by_address else []
    taken += [f"transfers signed with key {name}" for name in before.keys if name not in after.keys]
    if taken:
        raise PreconditionError(
            f"{host_plan.server}: the catalog {inventory.catalog} would stop accepting "
            f"{' and '.join(taken)}, which its consumers ask with now: run `dnsctl catalog sync`, "
            "which moves them in steps that leave no moment without a transfer"
        )


def carry_out(
    session: Session,
    plans: dict[str, HostPlan],
    wants: Wants,
    stages: list[list[str]],
    *,
    question: str = "Apply these changes?",
    prune: Callable[[str], bool] | None = None,
    follow_secondaries: bool = False,
) -> None:
    """Ask, install BIND where it is missing (and plan those hosts again), then stage and
    validate every host, activate stage by stage, and roll back if anything fails."""
    report = session.report
    session.options.confirm(question)
    bare = [server for server, host_plan in plans.items() if host_plan.install]

    def install(server: str) -> HostPlan:
        # The configuration files only exist once BIND is there: plan again on them.
        with report.step(server, f"install {' '.join(plans[server].layout.packages)}"):
            apply.install(session.fleet[server], plans[server])
        return gather(session, server, wants[server], plans[server].keyring, prune)

    for server, host_plan in zip(bare, session.fleet.each(bare, install), strict=True):
        plans[server] = host_plan
        show_plans(report, {server: host_plan})
    _apply(session, plans, wants, stages, follow_secondaries)


def show_plans(report: Report, plans: dict[str, HostPlan]) -> None:
    diffs = {name: p.diff() for name, p in plans.items()}  # once: a large zone's takes a while
    report.data.setdefault("plan", {}).update(
        {name: {"actions": p.actions(), "diff": diffs[name]} for name, p in plans.items()}
    )
    for name, host_plan in plans.items():
        if host_plan.empty:
            report.add(name, "plan", "plan", detail="no changes")
            continue
        report.add(name, "plan", "plan", detail="; ".join(host_plan.actions()))
        if host_plan.changes and not report.json_mode:
            report.text(diffs[name])


def _apply(
    session: Session,
    plans: dict[str, HostPlan],
    wants: Wants,
    stages: list[list[str]],
    follow_secondaries: bool = False,
) -> None:
    fleet, report = session.fleet, session.report
    busy = [name for name, host_plan in plans.items() if not host_plan.empty]

    def stage(name: str) -> None:
        with report.step(name, "stage and validate"):
            apply.prepare(fleet[name], plans[name])
            apply.stage(fleet[name], plans[name])

    try:
        fleet.each(busy, stage)  # every host validated before any is activated
        interrupt.checkpoint()  # a Ctrl-C during the last check stops here, before any activation
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
                if name in busy:
                    interrupt.checkpoint()  # before the activation exists: stopping here changes nothing
                    activation = apply.Activation(host_plan, f"{apply.BACKUP_ROOT}/{stamp}")
                    activations.append(activation)
                    verb = "restart" if host_plan.restart else "reload"

                    def files_and_named() -> None:
                        with report.step(name, f"back up, activate, {verb}"):
                            apply.activate(fleet[name], activation)
                            host_plan.activated_at = time.monotonic()

                    def firewall() -> None:
                        zone = host_plan.facts.firewall.zone
                        with report.step(name, f"firewalld: allow dns in zone {zone}"):
                            apply.open_firewall(fleet[name], host_plan)

                    # Independent of each other, so side by side (two channels of the host's
                    # connection); both are done before named's answers are checked.
                    steps = [files_and_named, firewall] if host_plan.open_firewall else [files_and_named]
                    fleet.each(steps, lambda step: step())
                    _confirm_serials(session, host_plan)

            def follow(name: str, stage: list[str] = group) -> None:
                host_plan = plans[name]
                if name in busy:
                    late = _asked_too_early(session, plans, wants, name, stage, busy)
                    if late:
                        with report.step(name, f"refresh {', '.join(late)} now that the primary serves it"):
                            apply.refresh(fleet[name], late)
                for zone in host_plan.retransfer:
                    keys.prove_transfer(session, host_plan, zone, primary_serial(session, plans, zone)[0])
                if name in busy or follow_secondaries:
                    _confirm_transfers(session, plans, wants, name)

            fleet.each(group, activate)
            fleet.each(group, follow)  # only now does every primary of this stage serve
    except BaseException as exc:
        with interrupt.shield("finishing the rollback"):
            for name in busy:  # what is still staged, also on a host whose activation stopped half-way
                apply.discard(fleet[name], plans[name])
            if not activations:
                raise  # stopped before the first activation: nothing was changed
            rollback.roll_back(session, plans, wants, activations, exc)


def _asked_too_early(
    session: Session,
    plans: dict[str, HostPlan],
    wants: Wants,
    server: str,
    stage: list[str],
    busy: list[str],
) -> list[str]:
    """Secondary zones this run configured on server whose primary took its change in the
    same stage (servers that are each other's primary share one).

    The secondary asked for such a zone when it was activated, maybe before its primary
    served it or opened DNS in its firewall, and the primary's NOTIFY may have met the
    secondary's closed firewall; BIND would then wait out its retry interval.
    """
    changed = plans[server].changed_zones()
    return [
        zone
        for zone, role in wants[server].items()
        if role == "secondary"
        and zone in changed
        and session.inventory.zones[zone].primary in stage
        and session.inventory.zones[zone].primary in busy
    ]


def _confirm_serials(session: Session, host_plan: HostPlan) -> None:
    for zone, serial in host_plan.expect_serials.items():
        signed = zone in host_plan.inline_signed
        wanted = verify.wanted_serial(serial, at_least=signed)
        with session.report.waiting(host_plan.server, f"wait for {zone} serial {wanted}"):
            answer = verify.wait_for_serial(
                host_plan.address, zone, serial, session.options.timeout, at_least=signed
            )
        if not verify.serial_reached(answer, serial, at_least=signed):
            raise VerifyError(
                f"{host_plan.server}: named does not serve {zone} serial {wanted} after the change "
                f"({verify.describe(answer)})"
            )


def _confirm_transfers(session: Session, plans: dict[str, HostPlan], wants: Wants, server: str) -> None:
    """Each secondary zone of server is transferred: the primary's serial served, the file written,
    and a signed zone's signatures valid there."""
    for zone, role in wants[server].items():
        if role == "secondary":
            primary = plans.get(session.inventory.zones[zone].primary)
            zone_changed = primary is not None and any(c.zone == zone for c in primary.changes)
            # The time since the change that moves this zone, if this run made one; else "already in sync".
            since = primary.activated_at if zone_changed and primary else plans[server].activated_at
            serial, later = primary_serial(session, plans, zone)
            wait_for_transfer(session, plans[server], zone, serial, since, at_least=later)
            if session.inventory.signing_policy(zone):
                verify_signing(session, server, zone)


def primary_serial(session: Session, plans: dict[str, HostPlan], zone: str) -> tuple[int, bool]:
    """The serial the zone's secondaries must reach, and whether a later one will do.

    A signed zone's is the one named serves, ahead of its file's and moving on as
    named re-signs; it is asked for once the primary has taken the change.
    """
    primary = session.inventory.primary_of(zone)
    plan = plans.get(primary)
    signed = plan is not None and zone in plan.inline_signed
    if plan is not None and zone in plan.expect_serials and not signed:
        return plan.expect_serials[zone], False
    answer = verify.soa(session.inventory.servers[primary].address, zone)
    if not answer.ok:
        raise VerifyError(
            f"{primary}: the primary does not serve {zone} ({verify.describe(answer)}); "
            "run init-primary first"
        )
    assert answer.serial is not None
    inventory = session.inventory
    return answer.serial, signed or (zone in inventory.zones and inventory.signing_policy(zone) is not None)


def wait_for_transfer(
    session: Session,
    plan: HostPlan,
    zone_name: str,
    serial: int,
    since: float | None = None,
    *,
    at_least: bool = False,
    check_file: bool = True,
) -> None:
    """The secondary answers the primary's serial, and named has written the zone to disk.

    since: when the change this waits for was made (time.monotonic()), or None when
    this run changed nothing the zone's transfer depends on. at_least: a later serial
    will do (a signed zone's). check_file=False for a catalog member, whose file named
    names and places itself.
    """
    report, timeout = session.report, session.options.timeout
    wanted = verify.wanted_serial(serial, at_least=at_least)
    with report.step(plan.server, f"wait for {zone_name} serial {wanted} at {plan.address}") as step:
        asked = time.monotonic()
        answer = verify.wait_for_serial(plan.address, zone_name, serial, timeout, at_least=at_least)
        if not verify.serial_reached(answer, serial, at_least=at_least):
            raise VerifyError(
                f"{plan.server}: {zone_name} not transferred within {timeout:.0f} s "
                f"({verify.describe(answer)})"
            )
        waited = time.monotonic() - asked
        if since is None and waited < verify.POLL_INTERVAL:
            step.detail = "already in sync"
        elif since is None:
            step.detail = f"in sync after {waited:.3f}s"
        else:
            took = time.monotonic() - since
            step.detail = f"zone transferred, in sync {took:.3f}s after named took the change"
            step.data["transfer_seconds"] = round(took, 3)
        step.data["serial"] = answer.serial
    if not check_file:
        return
    path = plan.layout.secondary_file(zone_name)
    with report.step(plan.server, f"transferred file {path}"):
        # named writes a transferred zone to disk some time after it serves it (seconds
        # for a large zone): the host polls, each command for at most a second, so a
        # Ctrl-C still takes effect between commands.
        connection = session.fleet[plan.server]
        deadline = time.monotonic() + timeout
        polls = str(round(1 / verify.POLL_INTERVAL))
        wait = ["sh", "-c", WAIT_FOR_FILE_SCRIPT, "dnsctl-wait-file", path, polls, str(verify.POLL_INTERVAL)]
        while not connection.run(wait, check=False, reconnect=True).ok:
            if time.monotonic() >= deadline:
                raise VerifyError(f"{plan.server}: named did not write {path} within {timeout:.0f} s")
            interrupt.checkpoint()


WAIT_FOR_FILE_SCRIPT = r"""
# $1: a file named writes; poll at most $2 times, $3 seconds apart, until it is there and not empty.
polls=$2
while [ ! -s "$1" ]; do
  [ "$polls" -gt 0 ] || exit 1
  polls=$((polls - 1))
  sleep "$3"
done
"""
