"""TSIG keys on the hosts: what a primary holds, a new generation made there, and a forced
transfer that proves a secondary's key works.

A secret only ever travels as file content or command output over SSH, never in a
command line: it is made on the primary (tsig-keygen prints it), read back, and
written to the other servers through standard input.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from dnsctl import interrupt, tsig, verify
from dnsctl.errors import VerifyError
from dnsctl.facts.files import FileState, parse_files
from dnsctl.facts.named_config import ZoneStatus, parse_zone_status
from dnsctl.facts.scripts import READ_FILES_SCRIPT
from dnsctl.ops.session import Session
from dnsctl.plan import HostPlan
from dnsctl.platform import LAYOUTS, Layout

# $1 the key's name. Without BIND (init-primary installs it later in the run), the same
# 256 random bits tsig-keygen takes, in its format.
KEYGEN_SCRIPT = r"""
if command -v tsig-keygen >/dev/null 2>&1; then exec tsig-keygen -a hmac-sha256 "$1"; fi
secret=$(head -c 32 /dev/urandom | base64 -w0) || exit 1
printf 'key "%s" {\n\talgorithm hmac-sha256;\n\tsecret "%s";\n};\n' "$1" "$secret"
"""


def read_layout_file(session: Session, server: str, path_of: Callable[[Layout], str]) -> list[FileState]:
    """One of dnsctl's files on a server, read without following a link.

    Without a layout in the inventory, both layouts' files are read: a host has at
    most the one of its own.
    """
    layout = session.inventory.servers[server].layout
    paths = [path_of(LAYOUTS[name]) for name in ([layout] if layout else LAYOUTS)]
    output = session.fleet[server].run(["sh", "-c", READ_FILES_SCRIPT, "dnsctl-read", *paths]).stdout
    return list(parse_files(output).values())


def held_keys(session: Session, server: str) -> dict[str, tsig.Key]:
    """The keys in a server's key file, by name."""
    keys: dict[str, tsig.Key] = {}
    for state in read_layout_file(session, server, tsig.key_file):
        keys.update(tsig.parse_keys(state.text))
    return keys


def make_key(session: Session, server: str, name: str) -> tsig.Key:
    """A new key made on server (tsig-keygen), read back from its output; nothing is written there."""
    result = session.fleet[server].run(["sh", "-c", KEYGEN_SCRIPT, "dnsctl-keygen", name])
    return tsig.made_key(result.stdout, name)


def make_first_generation(session: Session, primary: str, key: str) -> tsig.Key:
    """The first generation of a key its primary does not hold yet, made there; the plan says so."""
    made = make_key(session, primary, tsig.next_generation(key, (), now()))
    session.report.add(primary, f"new TSIG key {made.name}", "plan", detail=f"made on {primary}")
    return made


def now() -> dt.datetime:
    """The time a new generation is named after (tests set it)."""
    return dt.datetime.now(dt.UTC)


def current_keyring(session: Session, wants: dict[str, dict[str, str]]) -> tsig.Keyring:
    """The keys of the zones in wants, as their primaries hold them: every generation a
    primary has stays accepted (removing one is `tsig rotate`'s last step), secondaries
    ask with the newest. A key its primary does not hold yet is made there."""
    inventory = session.inventory
    primaries: dict[str, str] = {}  # key -> the primary of its zones
    for zones in wants.values():
        for zone, role in zones.items():
            if role == "absent":
                continue  # a zone dnsctl removes
            key = inventory.tsig_key(zone)
            if key is not None:
                primaries[key] = inventory.primary_of(zone)
    if not primaries:
        return tsig.Keyring()
    servers = sorted(set(primaries.values()))
    session.connect(servers)
    held = dict(zip(servers, session.fleet.each(servers, lambda s: held_keys(session, s)), strict=True))
    accepted, used = {}, {}
    for key, primary in primaries.items():
        found = tsig.generations(held[primary].values(), key)
        if not found:
            found = [make_first_generation(session, primary, key)]
        accepted[key] = tuple(found)
        used[key] = found[-1]
    return tsig.Keyring(accepted, used)


def _modified(session: Session, server: str, path: str) -> str | None:
    result = session.fleet[server].run(["stat", "-c", "%y", "--", path], check=False)
    return result.stdout.strip() if result.ok else None


def _zone_status(session: Session, server: str, zone: str) -> ZoneStatus:
    result = session.fleet[server].run(["rndc", "zonestatus", zone], check=False)
    return parse_zone_status(result.stdout, 0 if result.ok else 1)


def prove_transfer(session: Session, plan: HostPlan, zone: str, serial: int) -> None:
    """Force a secondary to transfer the zone again (`rndc retransfer`) and wait until it has.

    A transfer is proven by named writing the zone file again, which it does only
    after a transfer succeeded, and by the secondary then serving the primary's
    serial. One that fails (the primary refuses the key) leaves the file alone.
    A catalog member's file is where named put it (`rndc zonestatus` says), and a
    consumer's copy of the catalog answers only there, so its serial is asked of rndc.
    """
    report, timeout = session.report, session.options.timeout
    inventory = session.inventory
    connection = session.fleet[plan.server]
    key = plan.keyring.primary_key(inventory.tsig_key(zone))
    signed = f" with key {key}" if key else ""
    member = plan.consumes is not None and zone in inventory.catalog_members()
    with report.step(plan.server, f"force a transfer of {zone}{signed}") as step:
        path = plan.layout.secondary_file(zone)
        if member:
            path = _zone_status(session, plan.server, zone).files or path
        before = _modified(session, plan.server, path)
        connection.run(["rndc", "retransfer", zone])
        deadline = time.monotonic() + timeout
        while _modified(session, plan.server, path) == before:
            if time.monotonic() >= deadline:
                raise VerifyError(
                    f"{plan.server}: the forced transfer of {zone}{signed} did not complete within "
                    f"{timeout:.0f} s; named's log on {plan.server} says why"
                )
            interrupt.checkpoint()
            time.sleep(0.1)
        if zone == inventory.catalog and zone not in inventory.zones:
            held = _zone_status(session, plan.server, zone).serial
            served = f"serial {held} (rndc zonestatus)"
        else:
            answer = verify.soa(plan.address, zone)
            held = answer.serial if answer.ok else None
            served = verify.describe(answer)
        if held != serial:
            raise VerifyError(
                f"{plan.server}: after the forced transfer {zone} is not served at serial {serial} ({served})"
            )
        step.detail = f"transferred again, serial {serial}"
