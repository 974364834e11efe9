"""Root's file work on a shared server, attacked as the named user and raced by an
administrator: links planted at the names dnsctl used to write, a zone file that is
a link, modes, an edit made while dnsctl waits at its prompt, a key in the
administrator's file, a configuration named would parse differently than the
inventory says, and include chains written the unusual ways.

Every result is checked inside the lab host (file contents, modes, owners) and by
DNS queries to the server's address.
"""

from __future__ import annotations

import dataclasses
import os
import pty
import re
import select
import subprocess
import sys
import time

import dns.rcode
import pytest

from dnsctl import apply, ops
from dnsctl.errors import ValidationError
from dnsctl.ops import converge
from dnsctl.report import Report

from .conftest import NS1, dnsctl, dnsctl_json, dnsctl_ok, record_toml
from .served import ask, authoritative_answer

pytestmark = pytest.mark.lab

ZONE = """
[zones."safety.test"]
primary = "ns1"
allow_query = ["198.51.100.0/24"]

[[zones."safety.test".records]]
name = "www"
type = "A"
value = "198.51.100.70"
"""

ZONE_FILE = "/var/lib/bind/safety.test.db"
CANARY = "/root/canary"
SECRET = "ZG5zY3RsLWxhYi10ZXN0LXNlY3JldC0wMTIzNDU2Nzg5YWJjZGVm"
KEY_BLOCK = f'\nkey "safety-test-key" {{\n\talgorithm hmac-sha256;\n\tsecret "{SECRET}";\n}};\n'
BLOCK = re.compile(r"// BEGIN dnsctl.*?// END dnsctl\n", re.DOTALL)


def as_bind(the_lab, host: str, script: str) -> None:
    """Run a shell script as the user named runs as: the less trusted account."""
    the_lab.exec(host, "setpriv", "--reuid=bind", "--regid=bind", "--init-groups", "sh", "-c", script)


def stat(the_lab, host: str, path: str) -> str:
    return the_lab.exec(host, "stat", "-c", "%a %U:%G %F", path).stdout.strip()


def leftovers(the_lab, host: str) -> str:
    """Staged files, validation copies or their directories dnsctl would have left behind."""
    return the_lab.exec(
        host,
        "sh",
        "-c",
        "find /etc/bind /var/lib/bind /var/cache/bind -name '*.dnsctl-*' ! -type l; "
        "find /run/dnsctl -maxdepth 1 -name 'check-*' 2>/dev/null; true",
    ).stdout.strip()


STATE_SCRIPT = r"""
for f in /etc/bind/* /var/lib/bind/*; do
  [ -f "$f" ] || [ -L "$f" ] || continue
  printf '%s %s ' "$f" "$(stat -c '%a %U:%G %F' "$f")"
  if [ -L "$f" ]; then readlink "$f"; else md5sum < "$f"; fi
done
"""


def state(the_lab, host: str) -> str:
    """Every file dnsctl may touch on host: content, mode, owner, kind."""
    return the_lab.exec(host, "sh", "-c", STATE_SCRIPT).stdout


def inventory_with(the_lab, tmp_path, *records: tuple[str, str], allow_query: str = "198.51.100.0/24"):
    """The lab's inventory plus safety.test with these extra A records."""
    text = ZONE.replace("198.51.100.0/24", allow_query)
    for name, value in records:
        text += record_toml("safety.test", name, value)
    return the_lab.write_inventory(tmp_path / "safety.toml", extra=text)


@pytest.fixture(scope="module")
def safety(the_lab, tmp_path_factory):
    """safety.test on ns1, and a canary only root may read or change."""
    inventory = inventory_with(the_lab, tmp_path_factory.mktemp("safety"))
    dnsctl_ok("init-primary", "safety.test", "--yes", inventory=inventory)
    the_lab.exec("ns1", "sh", "-c", f"umask 077; printf 'canary\\n' > {CANARY}")
    return inventory


def assert_canary_untouched(the_lab) -> None:
    assert the_lab.read("ns1", CANARY) == "canary\n"
    assert stat(the_lab, "ns1", CANARY) == "600 root:root regular file"


def test_links_planted_at_the_old_names_are_never_followed(the_lab, safety, tmp_path):
    # Every name dnsctl once wrote predictably in a directory the named user can write.
    planted = [f"{ZONE_FILE}.dnsctl-new", f"{ZONE_FILE}.dnsctl-check"]
    as_bind(the_lab, "ns1", " && ".join(f"ln -s {CANARY} {name}" for name in planted))
    try:
        inventory = inventory_with(the_lab, tmp_path, ("planted", "198.51.100.71"))
        dnsctl_ok("init-primary", "safety.test", "--yes", inventory=inventory)
        assert_canary_untouched(the_lab)
        for name in planted:  # not followed, not removed: someone else's names
            assert the_lab.exec("ns1", "readlink", name).stdout.strip() == CANARY
        assert stat(the_lab, "ns1", ZONE_FILE) == "644 root:bind regular file"
        assert authoritative_answer(NS1, "planted.safety.test", "A") == ("NOERROR", {"198.51.100.71"})
        assert leftovers(the_lab, "ns1") == ""
    finally:
        the_lab.exec("ns1", "rm", "-f", *planted)


def test_a_zone_file_that_is_a_link_is_refused(the_lab, safety, tmp_path):
    # The named user may rename files in /var/lib/bind: it swaps the zone file for a link.
    as_bind(
        the_lab,
        "ns1",
        f"cd /var/lib/bind && mv safety.test.db safety.test.db.orig && ln -s {CANARY} safety.test.db",
    )
    try:
        before = state(the_lab, "ns1")
        inventory = inventory_with(the_lab, tmp_path, ("linked", "198.51.100.72"))
        for args in (["--yes"], ["--dry-run"]):
            result = dnsctl("init-primary", "safety.test", *args, inventory=inventory)
            assert result.returncode == 7, result.stdout + result.stderr
            assert f"{ZONE_FILE} is a symbolic link" in result.stderr
            assert result.stderr.count("\n") == 1
            assert "canary" not in result.stdout + result.stderr
        code, document = dnsctl_json("init-primary", "safety.test", "--dry-run", inventory=inventory)
        assert code == 7 and "canary" not in str(document)
        assert state(the_lab, "ns1") == before
        assert_canary_untouched(the_lab)
        assert leftovers(the_lab, "ns1") == ""
    finally:
        the_lab.exec(
            "ns1",
            "sh",
            "-c",
            "cd /var/lib/bind && rm -f safety.test.db && mv safety.test.db.orig safety.test.db",
        )


def test_a_zone_file_with_another_hard_link_is_refused(the_lab, safety, tmp_path):
    the_lab.exec("ns1", "ln", ZONE_FILE, f"{ZONE_FILE}.second-name")
    try:
        before = state(the_lab, "ns1")
        inventory = inventory_with(the_lab, tmp_path, ("hard", "198.51.100.73"))
        result = dnsctl("init-primary", "safety.test", "--yes", inventory=inventory)
        assert result.returncode == 7, result.stdout + result.stderr
        assert f"{ZONE_FILE} has 2 hard links" in result.stderr and result.stderr.count("\n") == 1
        assert state(the_lab, "ns1") == before
    finally:
        the_lab.exec("ns1", "rm", "-f", f"{ZONE_FILE}.second-name")


def test_modes_and_owners_are_kept_and_backups_are_private(the_lab, safety, tmp_path):
    managed = "/etc/bind/named.conf.dnsctl"
    the_lab.exec("ns1", "chmod", "0640", ZONE_FILE, managed)
    try:
        # A new record rewrites the zone file, a new allow_query rewrites the stanza.
        inventory = inventory_with(
            the_lab, tmp_path, ("modes", "198.51.100.74"), allow_query="198.51.100.0/25"
        )
        dnsctl_ok("init-primary", "safety.test", "--yes", inventory=inventory)
        for path in (ZONE_FILE, managed):
            assert stat(the_lab, "ns1", path) == "640 root:bind regular file", path
        assert stat(the_lab, "ns1", "/var/backups/dnsctl") == "700 root:root directory"
        newest = the_lab.exec("ns1", "sh", "-c", "ls -td /var/backups/dnsctl/*/ | head -1").stdout.strip()
        assert stat(the_lab, "ns1", newest) == "700 root:root directory"
        for path in (ZONE_FILE, managed):
            assert stat(the_lab, "ns1", f"{newest.rstrip('/')}{path}") == "640 root:bind regular file"
        assert authoritative_answer(NS1, "modes.safety.test", "A") == ("NOERROR", {"198.51.100.74"})
    finally:
        the_lab.exec("ns1", "chmod", "0644", ZONE_FILE, managed)


def run_on_a_terminal(
    argv: list[str], when: str, then, answer: bytes, timeout: float = 120
) -> tuple[int, str]:
    """Run argv with a pty as its terminal; when its output shows `when`, call then() and type answer."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(argv, stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True)
    os.close(terminal)
    output, asked = b"", False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            output += chunk
            if not asked and when.encode() in output:
                asked = True
                then()
                os.write(controller, answer)
        return process.wait(timeout=max(1.0, deadline - time.monotonic())), output.decode("utf-8", "replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()


def test_an_edit_made_while_dnsctl_waits_is_never_overwritten(the_lab, safety, tmp_path):
    # A primary and a secondary, so the edit on the secondary (activated second) must stop
    # the run before anything is activated on the primary too.
    zone = ZONE.replace("safety.test", "edit.test").replace(
        'primary = "ns1"', 'primary = "ns1"\nsecondaries = ["ns2"]'
    )
    inventory = the_lab.write_inventory(tmp_path / "edit.toml", extra=zone)
    local = "/etc/bind/named.conf.local"
    original = the_lab.read("ns2", local)
    # Without dnsctl's include block the plan must rewrite the administrator's file.
    the_lab.exec("ns2", "sh", "-c", f"cat > {local}", input=BLOCK.sub("", original))
    try:
        before = {host: state(the_lab, host) for host in ("ns1", "ns2")}
        edit = "// the administrator's edit, made while dnsctl waited\n"

        def administrator_edits() -> None:
            the_lab.exec("ns2", "sh", "-c", f"cat >> {local}", input=edit)

        code, output = run_on_a_terminal(
            [sys.executable, "-m", "dnsctl", "-i", str(inventory), "add-slave", "edit.test"],
            when="Apply these changes?",
            then=administrator_edits,
            answer=b"y\n",
        )
        assert code == 5, output
        assert f"ns2: {local} changed since the plan was made" in output
        assert "nothing was changed" in output
        assert the_lab.read("ns2", local).endswith(edit)
        assert state(the_lab, "ns1") == before["ns1"]
        assert ask(NS1, "www.edit.test", "A").rcode() == dns.rcode.REFUSED  # never activated
        for host in ("ns1", "ns2"):
            assert leftovers(the_lab, host) == ""
    finally:
        the_lab.exec("ns2", "sh", "-c", f"cat > {local}", input=original)


def test_a_key_in_the_administrators_file_is_never_shown(the_lab, safety, tmp_path):
    local = "/etc/bind/named.conf.local"
    original = the_lab.read("ns1", local)
    try:
        # The key right before dnsctl's block: every diff of that block shows it as context.
        the_lab.exec("ns1", "sh", "-c", f"cat > {local}", input=BLOCK.sub("", original) + KEY_BLOCK)
        inventory = inventory_with(the_lab, tmp_path, ("keyed", "198.51.100.75"))
        outputs = []
        dry = dnsctl_ok("-v", "init-primary", "safety.test", "--dry-run", inventory=inventory)
        assert 'secret "<hidden>";' in dry.stdout  # the key was in the diff, masked
        outputs.append(dry.stdout + dry.stderr)
        as_json = dnsctl("--json", "init-primary", "safety.test", "--dry-run", inventory=inventory)
        assert as_json.returncode == 0 and "<hidden>" in as_json.stdout
        outputs.append(as_json.stdout + as_json.stderr)
        applied = dnsctl_ok("-v", "init-primary", "safety.test", "--yes", inventory=inventory)
        outputs.append(applied.stdout + applied.stderr)
        the_lab.exec("ns1", "sh", "-c", f"cat > {local}", input=BLOCK.sub("", the_lab.read("ns1", local)))
        applied_json = dnsctl_ok("--json", "init-primary", "safety.test", "--yes", inventory=inventory)
        outputs.append(applied_json.stdout + applied_json.stderr)
        for output in outputs:
            assert SECRET not in output
        after = the_lab.read("ns1", local)
        assert KEY_BLOCK in after and "// BEGIN dnsctl" in after  # the key block intact
        assert authoritative_answer(NS1, "keyed.safety.test", "A") == ("NOERROR", {"198.51.100.75"})
    finally:
        the_lab.exec("ns1", "sh", "-c", f"cat > {local}", input=original)
        the_lab.exec("ns1", "rndc", "reload")


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("\tnotify no;\n", "\tnotify no;\n\tallow-update { any; };\n", "allow-update { any; }"),
        ("\tallow-transfer { none; };\n", "\tallow-transfer { 198.51.100.99; };\n", "198.51.100.99"),
    ],
)
def test_the_guard_refuses_what_the_inventory_does_not_say(the_lab, safety, tmp_path, old, new, needle):
    """A renderer bug, simulated by altering the plan's text after planning: named-checkconf
    accepts it, the guard (named-checkconf -p against the inventory) does not."""
    inventory = inventory_with(the_lab, tmp_path, allow_query="198.51.100.0/26")  # a stanza to change
    before = state(the_lab, "ns1")
    with ops.open_session(inventory, Report("test", json_mode=True)) as session:
        session.connect(["ns1"])
        plan = converge.gather(session, "ns1", {"safety.test": "primary"})
        managed = plan.layout.managed_conf
        index = next(i for i, change in enumerate(plan.changes) if change.path == managed)
        stanza = re.search(r'zone "safety.test" \{\n.*?\n\};\n', plan.changes[index].new, re.DOTALL).group(0)
        assert old in stanza
        tampered = plan.changes[index].new.replace(stanza, stanza.replace(old, new))
        plan.changes[index] = dataclasses.replace(plan.changes[index], new=tampered)
        plan.chain.texts[plan.files[managed].canonical] = tampered
        with pytest.raises(ValidationError) as raised:
            apply.stage(session.fleet["ns1"], plan)
    message = str(raised.value)
    assert "not what the inventory says" in message and needle in message
    assert state(the_lab, "ns1") == before
    assert leftovers(the_lab, "ns1") == ""
    assert authoritative_answer(NS1, "www.safety.test", "A") == ("NOERROR", {"198.51.100.70"})


DUPLICATE = """
[zones."255.in-addr.arpa"]
primary = "ns1"
"""


@pytest.mark.parametrize(
    "include",
    ['include "/etc/bind/./named.conf.local";', 'include "../../../etc/bind/named.conf.local";'],
)
def test_validation_reads_the_include_chain_named_reads(the_lab, safety, tmp_path, include):
    """named.conf includes named.conf.local another way than dnsctl writes it; a zone that
    named already has elsewhere must still be caught by validation, not by a failed reload."""
    named_conf = "/etc/bind/named.conf"
    original = the_lab.read("ns1", named_conf)
    changed = original.replace('include "/etc/bind/named.conf.local";', include)
    assert changed != original
    the_lab.exec("ns1", "sh", "-c", f"cat > {named_conf}", input=changed)
    try:
        assert the_lab.exec("ns1", "named-checkconf", check=False).returncode == 0
        before = state(the_lab, "ns1")
        inventory = the_lab.write_inventory(tmp_path / "dup.toml", extra=ZONE + DUPLICATE)
        result = dnsctl("init-primary", "255.in-addr.arpa", "--yes", inventory=inventory)
        assert result.returncode == 4, result.stdout + result.stderr
        assert "255.in-addr.arpa" in result.stderr and "already exists" in result.stderr
        assert state(the_lab, "ns1") == before
        assert leftovers(the_lab, "ns1") == ""
    finally:
        the_lab.exec("ns1", "sh", "-c", f"cat > {named_conf}", input=original)


def test_a_relative_include_named_may_resolve_elsewhere_is_refused(the_lab, safety, tmp_path):
    named_conf = "/etc/bind/named.conf"
    original = the_lab.read("ns1", named_conf)
    # Before any `directory`: named resolves it against the directory it was started in.
    the_lab.exec("ns1", "sh", "-c", "printf '// site settings\\n' > /root/site.conf")
    the_lab.exec("ns1", "sh", "-c", f"cat > {named_conf}", input='include "site.conf";\n' + original)
    try:
        before = state(the_lab, "ns1")
        inventory = inventory_with(the_lab, tmp_path, ("relative", "198.51.100.76"))
        result = dnsctl("init-primary", "safety.test", "--yes", inventory=inventory)
        assert result.returncode == 7, result.stdout + result.stderr
        assert 'include "site.conf" is a relative path' in result.stderr
        assert result.stderr.count("\n") == 1
        assert state(the_lab, "ns1") == before
    finally:
        the_lab.exec("ns1", "sh", "-c", f"cat > {named_conf}", input=original)
        the_lab.exec("ns1", "rm", "-f", "/root/site.conf")
