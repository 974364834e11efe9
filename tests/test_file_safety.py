"""What keeps root's file work safe on a shared server, without a lab: the shell scripts
run here on real files (links, hard links, modes), the include chain, the parser and
the guard on captured `named-checkconf -p` output, and the masking of secrets."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

from dnsctl import apply, namedconf, secrets
from dnsctl.errors import PreconditionError, RolledBack, ValidationError
from dnsctl.facts.files import FileState, parse_files, parse_resolved
from dnsctl.facts.host import parse_host_facts
from dnsctl.facts.scripts import READ_FILES_SCRIPT
from dnsctl.models import parse_inventory
from dnsctl.ops import add_slave, init_primary
from dnsctl.plan import FileChange, HostPlan
from dnsctl.platform import DEBIAN

from .conftest import DATA
from .fakes import script
from .simulated import Scene
from .test_facts import DEBIAN_HOST

OWNER = f"{os.getuid()}:{os.getgid()}"

# The lab's inventory, with the reverse zone the captures were taken with.
LAB = {
    "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
    "zones": {
        "example.com": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "allow_query": ["198.51.100.0/24"],
            "records": [{"name": "pc1", "type": "A", "value": "198.51.100.50"}],
        },
        "100.51.198.in-addr.arpa": {
            "primary": "ns1",
            "secondaries": ["ns2"],
            "records": [{"name": "50", "type": "PTR", "value": "pc1.example.com."}],
        },
    },
}


def sh(script: str, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", script, "test", *args], input=input, capture_output=True, text=True)


# --- secrets -------------------------------------------------------------------------


def test_mask_hides_secret_clauses_also_split_by_a_diff():
    text = 'key "k" {\n\talgorithm hmac-sha256;\n\tsecret "c2VjcmV0LXRleHQ=";\n};\n'
    assert "c2VjcmV0LXRleHQ=" not in secrets.mask(text)
    assert 'secret "<hidden>";' in secrets.mask(text)
    assert "c2VjcmV0" not in secrets.mask('+\tsecret\n+\t"c2VjcmV0LXNwbGl0";\n')
    assert secrets.mask("secret c2VjcmV0Cg;") == 'secret "<hidden>";'  # as a parsed statement prints


def test_mask_hides_a_remembered_secret_wherever_it_turns_up():
    secrets.remember('key "x" { algorithm hmac-sha256; secret "bm90LWEtcmVhbC1rZXktdGVzdA=="; };')
    message = "named.conf.local:3: unknown option near 'bm90LWEtcmVhbC1rZXktdGVzdA=='"
    assert "bm90LWEtcmVhbC1rZXktdGVzdA==" not in secrets.mask(message)
    assert secrets.mask_data({"diff": ["bm90LWEtcmVhbC1rZXktdGVzdA=="], "n": 1}) == {
        "diff": ["<hidden>"],
        "n": 1,
    }


def test_errors_never_carry_a_secret():
    assert "c2VjcmV0" not in str(ValidationError('ns1: rejected `secret "c2VjcmV0LWVycm9y"`'))


# --- named-checkconf -p: the parser and the guard -------------------------------------


@pytest.fixture
def lab_inventory():
    return parse_inventory(LAB)


def captured(host: str) -> tuple[namedconf.Statement, ...]:
    return namedconf.parse((DATA / f"named-checkconf-p-{host}.txt").read_text())


def test_parse_captured_output():
    statements = captured("ns1")
    zones = {s.words[1]: s for s in statements if s.words[0] == "zone"}
    assert set(zones) >= {"example.com", "100.51.198.in-addr.arpa", "localhost", "."}
    example = namedconf.normal(zones["example.com"])
    assert "allow-query { localhost; 198.51.100.0/24; 198.51.100.10; 198.51.100.11; }" in [
        clause.text() for clause in example.block
    ]
    options = next(s for s in statements if s.words == ("options",))
    assert ("directory", "/var/cache/bind") in [clause.words for clause in options.block]


@pytest.mark.parametrize(("host", "role"), [("ns1", "primary"), ("ns2", "secondary")])
def test_what_named_parsed_is_what_the_inventory_says(lab_inventory, host, role):
    statements = captured(host)
    expected = {
        zone: namedconf.expected_zone(lab_inventory, zone, role, DEBIAN)
        for zone in ("example.com", "100.51.198.in-addr.arpa")
    }
    assert namedconf.compare(statements, statements, expected, "198.51.100.10", {}) == []


def tampered(host: str, old: str, new: str) -> tuple[namedconf.Statement, ...]:
    return namedconf.parse((DATA / f"named-checkconf-p-{host}.txt").read_text().replace(old, new, 1))


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        # An extra clause in one of dnsctl's zones (e.g. smuggled in by an inventory value).
        ("\tnotify explicit;", '\tnotify explicit;\n\tallow-update {\n\t\t"any";\n\t};', "allow-update"),
        (
            "\t\t198.51.100.11/32;\n\t};\n\talso",
            "\t\t198.51.100.11/32;\n\t\t10.0.0.1/32;\n\t};\n\talso",
            "10.0.0.1",
        ),
        ('zone "." {', 'zone "evil.test" {\n\ttype master;\n\tfile "/x";\n};\nzone "." {', "evil.test"),
        ("\trecursion no;", "\trecursion yes;", "recursion yes"),
        ('\t\t"localhost";', '\t\t"any";', "allow-query"),
    ],
)
def test_the_guard_refuses_anything_the_inventory_does_not_say(lab_inventory, old, new, needle):
    before = captured("ns1")
    after = tampered("ns1", old, new)
    expected = {
        zone: namedconf.expected_zone(lab_inventory, zone, "primary", DEBIAN)
        for zone in ("example.com", "100.51.198.in-addr.arpa")
    }
    problems = namedconf.compare(before, after, expected, "198.51.100.10", {})
    assert problems and needle in problems[0], problems


def test_dnsctls_unchanged_zones_may_come_back_with_the_include_block(lab_inventory):
    # The administrator removed dnsctl's include block; the run puts it back, and with it
    # the zones dnsctl's file kept unchanged. Nothing else may come along.
    after = captured("ns1")
    before = tuple(s for s in after if s.words[:2] != ("zone", "100.51.198.in-addr.arpa"))
    before = tuple(s for s in before if s.words[:2] != ("zone", "example.com"))
    expected = {"example.com": namedconf.expected_zone(lab_inventory, "example.com", "primary", DEBIAN)}
    carried = frozenset({"100.51.198.in-addr.arpa"})
    assert namedconf.compare(before, after, expected, "198.51.100.10", {}, carried) == []
    assert namedconf.compare(before, after, expected, "198.51.100.10", {})


def test_a_zone_removed_by_prune_must_be_gone_and_nothing_else(lab_inventory):
    before = captured("ns1")
    after = tuple(s for s in before if s.words[:2] != ("zone", "100.51.198.in-addr.arpa"))
    expected = {"example.com": namedconf.expected_zone(lab_inventory, "example.com", "primary", DEBIAN)}
    removed = frozenset({"100.51.198.in-addr.arpa"})
    assert namedconf.compare(before, after, expected, "198.51.100.10", {}, removed=removed) == []
    assert "no longer load" in namedconf.compare(before, after, expected, "198.51.100.10", {})[0]
    still = namedconf.compare(before, before, expected, "198.51.100.10", {}, removed=removed)
    assert still == ['zone "100.51.198.in-addr.arpa": named would still load it after its removal']
    # Any other zone that goes is still refused, the administrator's own included.
    gone = tuple(s for s in after if s.words[:2] != ("zone", "localhost"))
    assert "localhost" in namedconf.compare(before, gone, expected, "198.51.100.10", {}, removed=removed)[0]


def test_listen_on_may_gain_only_the_servers_address():
    before = namedconf.parse("options {\n\tlisten-on {\n\t\t127.0.0.1/32;\n\t};\n};\n")
    good = namedconf.parse("options {\n\tlisten-on {\n\t\t127.0.0.1/32;\n\t\t198.51.100.10/32;\n\t};\n};\n")
    bad = namedconf.parse('options {\n\tlisten-on {\n\t\t127.0.0.1/32;\n\t\t"any";\n\t};\n};\n')
    assert namedconf.compare(before, good, {}, "198.51.100.10", {}) == []
    assert namedconf.compare(before, bad, {}, "198.51.100.10", {})


def test_staged_zone_files_are_compared_by_their_target(lab_inventory):
    before = captured("ns1")
    after = tampered(
        "ns1", '"/var/lib/bind/example.com.db"', '"/run/dnsctl/check-1/var/lib/bind/example.com.db"'
    )
    expected = {"example.com": namedconf.expected_zone(lab_inventory, "example.com", "primary", DEBIAN)}
    files = {"/run/dnsctl/check-1/var/lib/bind/example.com.db": "/var/lib/bind/example.com.db"}
    assert namedconf.compare(before, after, expected, "198.51.100.10", files) == []


# --- the include chain ----------------------------------------------------------------


def test_relative_include_follows_the_directory_parsed_before_it():
    texts = {
        "/etc/bind/named.conf": (
            '// include "/not/this";\ninclude "/etc/bind/named.conf.options";\n'
            'include "../../../etc/bind/named.conf.local";\n'
        ),
        "/etc/bind/named.conf.options": 'options {\n\tdirectory "/var/cache/bind";\n};\n',
        "/etc/bind/named.conf.local": "",
    }
    first = namedconf.walk(
        "/etc/bind/named.conf", texts, {"/etc/bind/named.conf.options": ["/etc/bind/named.conf.options"]}
    )
    assert first.missing == {"/var/cache/bind/../../../etc/bind/named.conf.local"}
    resolved = {
        "/etc/bind/named.conf.options": ["/etc/bind/named.conf.options"],
        "/var/cache/bind/../../../etc/bind/named.conf.local": ["/etc/bind/named.conf.local"],
    }
    chain = namedconf.walk("/etc/bind/named.conf", texts, resolved)
    assert not chain.missing
    assert chain.order == [
        "/etc/bind/named.conf",
        "/etc/bind/named.conf.options",
        "/etc/bind/named.conf.local",
    ]


def test_relative_include_before_any_directory_is_refused():
    texts = {
        "/etc/bind/named.conf": 'include "named.conf.local";\noptions { directory "/var/cache/bind"; };\n'
    }
    with pytest.raises(PreconditionError, match="relative path"):
        namedconf.walk("/etc/bind/named.conf", texts, {})


def test_relative_include_waits_for_a_file_still_to_read():
    # The directory may be set in the file not read yet: no verdict before it is.
    texts = {"/etc/bind/named.conf": 'include "/etc/bind/opts";\ninclude "local";\n'}
    chain = namedconf.walk("/etc/bind/named.conf", texts, {})
    assert chain.missing == {"/etc/bind/opts"}


def test_a_pattern_that_takes_in_a_changed_file_is_refused():
    texts = {
        "/etc/named.conf": 'include "/etc/named/*.conf";\n',
        "/etc/named/a.conf": "",
        "/etc/named/b.conf": "",
    }
    chain = namedconf.walk(
        "/etc/named.conf", texts, {"/etc/named/*.conf": ["/etc/named/a.conf", "/etc/named/b.conf"]}
    )
    chain.changed = {"/etc/named/other.conf"}
    namedconf.check_patterns(chain)  # the pattern does not reach what changes
    chain.changed = {"/etc/named/b.conf"}
    with pytest.raises(PreconditionError, match="pattern"):
        namedconf.check_patterns(chain)


def test_an_include_loop_ends():
    texts = {"/a": 'include "/b";\n', "/b": 'include "/a";\n'}
    chain = namedconf.walk("/a", texts, {"/a": ["/a"], "/b": ["/b"]})
    chain.changed = {"/b"}
    assert chain.order == ["/a", "/b"] and chain.reaching() == {"/a", "/b"}


# --- the scripts, run here on real files ----------------------------------------------


@pytest.fixture
def canary(tmp_path) -> Path:
    """A file someone would like root to overwrite or re-mode through a link."""
    path = tmp_path / "canary"
    path.write_text("canary\n")
    path.chmod(0o600)
    return path


def test_write_never_follows_a_link_and_sets_the_mode_at_creation(tmp_path, canary):
    planted = tmp_path / "zone.db.dnsctl-new"
    planted.symlink_to(canary)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    for name in (planted, dangling):
        assert sh(apply.WRITE_SCRIPT, str(name), OWNER, "0137", input="evil\n").returncode != 0
    assert canary.read_text() == "canary\n" and stat.S_IMODE(canary.stat().st_mode) == 0o600
    assert not (tmp_path / "nowhere").exists()
    fresh = tmp_path / "fresh"
    assert sh(apply.WRITE_SCRIPT, str(fresh), OWNER, "0137", input="new\n").returncode == 0
    assert fresh.read_text() == "new\n" and stat.S_IMODE(fresh.stat().st_mode) == 0o640


def test_fresh_names_are_unguessable():
    names = {apply.fresh_name("/var/lib/bind/x.db") for _ in range(100)}
    assert len(names) == 100 and all(name.startswith("/var/lib/bind/x.db.dnsctl-") for name in names)


def test_read_refuses_links_and_fifos_and_counts_hard_links(tmp_path, canary):
    (tmp_path / "link").symlink_to(canary)
    os.mkfifo(tmp_path / "fifo")
    for name in ("link", "fifo"):
        output = sh(READ_FILES_SCRIPT, str(tmp_path / name)).stdout
        with pytest.raises(PreconditionError):
            parse_files(output)
    (tmp_path / "second-name").hardlink_to(canary)
    files = parse_files(sh(READ_FILES_SCRIPT, str(canary)).stdout)
    assert files[str(canary)].links == 2 and files[str(canary)].mode == 0o600


def test_read_resolves_include_targets_as_named_opens_them(tmp_path):
    (tmp_path / "conf.d").mkdir()
    for name in ("b.conf", "a.conf"):
        (tmp_path / "conf.d" / name).write_text(f"// {name}\n")
    (tmp_path / "alias.conf").symlink_to(tmp_path / "conf.d" / "a.conf")
    targets = [f"{tmp_path}/conf.d/*.conf", f"{tmp_path}/./alias.conf", f"{tmp_path}/none*"]
    output = sh(READ_FILES_SCRIPT, "--", *targets).stdout
    resolved = parse_resolved(output)
    a, b = str(tmp_path / "conf.d" / "a.conf"), str(tmp_path / "conf.d" / "b.conf")
    assert resolved == {targets[0]: [a, b], targets[1]: [a], targets[2]: []}
    assert parse_files(output)[a].text == "// a.conf\n"


def test_prepare_never_follows_a_planted_directory_link(tmp_path, canary):
    planted = tmp_path / "slaves"
    planted.symlink_to(tmp_path)
    assert sh(apply.PREPARE_DIR_SCRIPT, str(planted), str(os.getgid())).returncode != 0
    fresh = tmp_path / "fresh"
    assert sh(apply.PREPARE_DIR_SCRIPT, str(fresh), str(os.getgid())).returncode == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o775


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def activation_args(tmp_path: Path, *files: tuple[Path, str, str | None]) -> list[str]:
    """Backup directory, then per file: target, staged copy (written here), planned hash, owner, umask."""
    arguments = [str(tmp_path / "backups" / "dnsctl" / "stamp")]
    for target, new, old in files:
        staged = Path(apply.fresh_name(str(target)))
        staged.write_text(new)
        arguments += [str(target), str(staged), "absent" if old is None else sha(old), OWNER, "0137"]
    return arguments


def test_activate_backs_up_privately_and_renames_over_links(tmp_path, canary):
    zone = tmp_path / "zone.db"
    zone.write_text("old zone\n")
    zone.chmod(0o640)
    config = tmp_path / "named.conf.local"
    config.symlink_to(canary)  # replaced as a name, never written through
    new_file = tmp_path / "named.conf.dnsctl"
    arguments = activation_args(tmp_path, (zone, "new zone\n", "old zone\n"), (new_file, "new conf\n", None))
    result = sh(apply.ACTIVATE_SCRIPT, *arguments)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [f"MOVED {zone}", f"MOVED {new_file}"]
    assert zone.read_text() == "new zone\n" and new_file.read_text() == "new conf\n"
    backups = tmp_path / "backups" / "dnsctl"
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    assert stat.S_IMODE((backups / "stamp").stat().st_mode) == 0o700
    kept = Path(f"{backups}/stamp{zone}")
    assert kept.read_text() == "old zone\n" and stat.S_IMODE(kept.stat().st_mode) == 0o640
    assert canary.read_text() == "canary\n"
    assert not list(tmp_path.glob("*.dnsctl-*"))


@pytest.mark.parametrize("edit", ["content", "link", "appeared"])
def test_activate_replaces_nothing_when_a_target_changed_since_the_plan(tmp_path, canary, edit):
    zone = tmp_path / "zone.db"
    zone.write_text("old zone\n")
    config = tmp_path / "named.conf.local"
    config.write_text("old local\n")
    created = tmp_path / "named.conf.dnsctl"
    arguments = activation_args(
        tmp_path,
        (zone, "new zone\n", "old zone\n"),
        (config, "new local\n", "old local\n"),
        (created, "new conf\n", None),
    )
    if edit == "content":
        config.write_text("old local\n// the administrator's edit\n")
    elif edit == "link":
        config.unlink()
        config.symlink_to(canary)
    else:
        created.write_text("// someone's file\n")
    result = sh(apply.ACTIVATE_SCRIPT, *arguments)
    assert result.returncode == 3
    changed = created if edit == "appeared" else config
    assert f"CHANGED {changed}" in result.stdout and "MOVED" not in result.stdout
    assert zone.read_text() == "old zone\n"
    assert not (tmp_path / "backups" / "dnsctl" / "stamp").exists()
    unchanged = sh(
        apply.UNCHANGED_SCRIPT, *[word for i in range(3) for word in arguments[1 + 5 * i : 4 + 5 * i : 2]]
    )
    assert unchanged.returncode == 3 and f"CHANGED {changed}" in unchanged.stdout


def test_activate_refuses_a_backup_root_that_is_a_link(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "dnsctl").symlink_to(tmp_path / "elsewhere")
    zone = tmp_path / "zone.db"
    zone.write_text("old\n")
    result = sh(apply.ACTIVATE_SCRIPT, *activation_args(tmp_path, (zone, "new\n", "old\n")))
    assert result.returncode == 2 and "symbolic link" in result.stderr
    assert zone.read_text() == "old\n" and not list((tmp_path / "elsewhere").iterdir())


def test_ownership_keeps_the_originals_or_narrows_it():
    zone = "/var/lib/bind/x.db"
    plan = HostPlan("ns1", "198.51.100.10", DEBIAN, parse_host_facts(DEBIAN_HOST))
    plan.files = {zone: FileState(zone, zone, "", "0", "107", 0o2750)}
    existing = FileChange(zone, "", "new", "zone", "bind", "x")
    created = FileChange("/etc/bind/named.conf.dnsctl", None, "new", "config", "bind")
    assert apply.ownership(plan, existing) == ("0:107", 0o640)
    assert apply.ownership(plan, created) == ("root:bind", 0o644)


# --- the engine on simulated hosts (tests/simulated.py) --------------------------------

SIMULATED = parse_inventory(
    {
        "servers": {"ns1": {"address": "198.51.100.10"}, "ns2": {"address": "198.51.100.11"}},
        "zones": {
            "example.com": {
                "primary": "ns1",
                "secondaries": ["ns2"],
                "records": [{"name": "pc1", "type": "A", "value": "198.51.100.50"}],
            }
        },
    }
)
ZONE_FILE = "/var/lib/bind/example.com.db"
LOCAL = "/etc/bind/named.conf.local"


@pytest.fixture
def scene(monkeypatch):
    scene = Scene(monkeypatch, SIMULATED)
    yield scene
    scene.fleet.verify()


def test_a_zone_file_that_is_a_link_is_refused_before_anything_is_written(scene):
    ns1 = scene.server("ns1")
    ns1.links[ZONE_FILE] = "/etc/shadow"
    ns1.preflight(facts_only=True)  # the one read finds the link: nothing runs after it

    with pytest.raises(PreconditionError) as caught:
        init_primary(scene.session(), "example.com")

    assert str(caught.value) == (
        f"ns1: {ZONE_FILE} is a symbolic link; dnsctl reads and replaces regular files only, "
        "never through a link; nothing was changed"
    )
    assert caught.value.exit_code == 7
    assert not ns1.host.ran(script(apply.WRITE_SCRIPT))


def test_the_mode_of_a_replaced_file_is_kept(scene):
    ns1 = scene.server("ns1")
    ns1.modes[LOCAL] = ("0", "107", 0o640)
    ns1.preflight()
    ns1.stage(("example.com",))
    ns1.activate()
    ns1.reload()
    ns1.open_firewall()

    init_primary(scene.session(), "example.com")

    assert ns1.modes[LOCAL] == ("0", "107", 0o640)
    assert ns1.modes[ZONE_FILE] == ("root", "bind", 0o644)  # a new file: the layout's


def test_an_edit_before_staging_ends_stops_every_host(scene):
    """The secondary's file changes while dnsctl waits at its prompt: nothing is activated
    anywhere, nothing is left staged, the edit stays."""
    ns1, ns2 = scene.server("ns1"), scene.server("ns2")
    ns1.preflight()
    ns2.preflight()
    ns1.stage(("example.com",))
    ns2.host.expect(script(apply.PREPARE_DIR_SCRIPT), respond=ns2.on_make_dir)
    ns2.validate()
    ns2.host.expect(script(apply.UNCHANGED_SCRIPT), respond=ns2.on_unchanged)
    ns2.remove_staged()
    ns2.remove_check_copies()
    ns1.remove_staged()  # converge discards what every host staged

    def administrator_edits(question: str) -> None:
        ns2.host.files[LOCAL] += "// edited meanwhile\n"

    with pytest.raises(RolledBack) as caught:
        add_slave(scene.session(confirm=administrator_edits), "example.com")

    assert str(caught.value) == (
        f"ns2: {LOCAL} changed since the plan was made (edited meanwhile?); dnsctl did not overwrite it; "
        "nothing was changed"
    )
    assert ns2.host.files[LOCAL].endswith("// edited meanwhile\n")
    assert not ns1.host.ran(script(apply.ACTIVATE_SCRIPT)) and not ns2.host.ran(script(apply.ACTIVATE_SCRIPT))
    assert ns1.staged_leftovers() == ns2.staged_leftovers() == []


def test_a_file_that_appears_at_activation_is_neither_replaced_nor_rolled_back(scene):
    """The zone file dnsctl planned to create appears in the last moment (another tool, an
    administrator): nothing moves, and the rollback leaves that file alone too."""
    ns1 = scene.server("ns1")
    before = dict(ns1.host.files)
    ns1.preflight()
    ns1.stage(("example.com",))

    def appears_then_activate(call):
        ns1.host.files[ZONE_FILE] = "; someone else's zone\n"
        return ns1.on_activate(call, None)

    ns1.host.expect(script(apply.ACTIVATE_SCRIPT), respond=appears_then_activate)
    ns1.remove_staged()
    ns1.open_firewall()  # beside the activation, which it does not depend on
    ns1.roll_back()

    with pytest.raises(RolledBack, match=f"{ZONE_FILE} changed since the plan was made"):
        init_primary(scene.session(), "example.com")

    assert ns1.host.files == {**before, ZONE_FILE: "; someone else's zone\n"}
    assert ns1.staged_leftovers() == []
