"""named's own view of the configuration: the include chain it reads, and what it parses.

Two independent checks that what named loads is exactly what the inventory says:

- `walk` follows the include chain the way named does (absolute paths as the
  kernel resolves them, relative ones against the `directory` option parsed
  before them, patterns as glob(3) expands them), so validation reads copies of
  exactly the files named will read, and refuses a chain it cannot follow.
- `compare` reads `named-checkconf -p` of the current and of the staged
  configuration: dnsctl's zones must be exactly what the inventory says (type,
  file, ACLs, primaries, notify list, nothing more), and nothing outside them may
  change but the server's own address in `listen-on`.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from dataclasses import dataclass, field

from dnsctl import catalog, dnssec, render, tsig
from dnsctl.errors import PreconditionError
from dnsctl.models import Inventory
from dnsctl.platform import Layout

# --- named.conf syntax -------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One statement: its words, and its block when it has one (`allow-query { ... }`)."""

    words: tuple[str, ...]
    block: tuple[Statement, ...] | None = None

    def key(self) -> str:
        """Exact structure, for comparing: `file "a b"` and `file a b` stay different."""
        return repr((self.words, None if self.block is None else [child.key() for child in self.block]))

    def text(self) -> str:
        """For people: quotes and nesting simplified."""
        head = " ".join(self.words)
        if self.block is None:
            return head
        inner = " ".join(f"{child.text()};" for child in self.block)
        return f"{head} {{ {inner} }}".strip() if inner else f"{head} {{ }}".strip()


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{};]|[^\s{};"]+')


def parse(text: str) -> tuple[Statement, ...]:
    """Statements of comment-free named.conf text, as `named-checkconf -p` prints it."""
    statements, _end = _parse_block(_TOKEN.findall(text), 0)
    return statements


def _parse_block(tokens: list[str], position: int) -> tuple[tuple[Statement, ...], int]:
    statements: list[Statement] = []
    words: list[str] = []
    block: tuple[Statement, ...] | None = None
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if token == "{":
            block, position = _parse_block(tokens, position)
        elif token == "}":
            break
        elif token == ";":
            if words or block is not None:
                statements.append(Statement(tuple(words), block))
            words, block = [], None
        else:
            words.append(token[1:-1] if token.startswith('"') else token)
    return tuple(statements), position


# Old and new names of the same thing, as different BIND versions print them.
_SYNONYMS = {"master": "primary", "slave": "secondary", "masters": "primaries"}
_ORDERED_LISTS = {"allow-query", "allow-transfer", "allow-update", "also-notify", "primaries", "listen-on"}
_NAMED = {"zone", "file", "key", "acl", "view", "include", "directory"}  # their second word is a name


def _address(word: str) -> str:
    """An address or prefix in one form both sides agree on: `198.51.100.10/32` is `198.51.100.10`."""
    negated = word.startswith("!")
    bare = word[1:] if negated else word
    try:
        network = ipaddress.ip_network(bare, strict=False)
    except ValueError:
        return word
    full = network.prefixlen == network.max_prefixlen
    bare = str(network.network_address) if full else str(network)
    return f"!{bare}" if negated else bare


def normal(statement: Statement, files: dict[str, str] | None = None) -> Statement:
    """The statement with old keywords renamed and addresses canonical; files maps staged
    zone file names back to their targets."""
    words = statement.words
    if words and words[0] in _NAMED:
        words = words[:2] + tuple(_address(word) for word in words[2:])
        if files and words[0] == "file" and len(words) == 2:
            words = ("file", files.get(words[1], words[1]))
    elif words[:1] == ("type",) and len(words) == 2:
        words = ("type", _SYNONYMS.get(words[1], words[1]))
    else:
        words = tuple(_address(word) for word in words)
        if words:
            words = (_SYNONYMS.get(words[0], words[0]), *words[1:])
    if statement.block is None:
        return Statement(words)
    children = tuple(normal(child, files) for child in statement.block)
    if words[:1] and words[0] not in _ORDERED_LISTS:
        # named prints a block's clauses in grammar order, not as written: compare them as a set.
        children = tuple(sorted(children, key=Statement.key))
    return Statement(words, children)


# --- what the inventory says dnsctl's zones are ------------------------------------


def _list(words: tuple[str, ...] | list[str], name: str) -> Statement:
    return Statement((name,), tuple(Statement((word,)) for word in (words or ["none"])))


def expected_zone(
    inventory: Inventory,
    zone_name: str,
    role: str,
    layout: Layout,
    keyring: tsig.Keyring | None = None,
    version: tuple[int, int] | None = None,
) -> Statement:
    """The zone as named must parse it, from the inventory's typed values and the run's TSIG keys.

    version: the BIND version on the host (`named -v`), which decides how a signed zone says so.
    """
    zone = inventory.zones[zone_name]
    query = _list(render.query_acl(inventory, zone), "allow-query")
    keyring = keyring or tsig.Keyring()
    key = inventory.tsig_key(zone_name)
    if role == "primary":
        secondaries = [inventory.servers[name].address for name in zone.secondaries]
        clauses = [
            Statement(("type", "primary")),
            Statement(("file", layout.primary_file(zone_name))),
            *_signing(inventory, zone_name, layout, version),
            query,
            _transfer(secondaries, keyring, key),
        ]
        if secondaries:
            clauses += [
                Statement(("notify", "explicit")),
                Statement(("notify-delay", "0")),
                _list(secondaries, "also-notify"),
            ]
        else:
            clauses.append(Statement(("notify", "no")))
    else:
        clauses = [
            Statement(("type", "secondary")),
            Statement(("file", layout.secondary_file(zone_name))),
            _primaries(inventory.servers[zone.primary].address, keyring.primary_key(key)),
            query,
            _list([], "allow-transfer"),
            Statement(("notify", "no")),
        ]
    return normal(Statement(("zone", zone_name), tuple(clauses)))


def _transfer(addresses: list[str], keyring: tsig.Keyring, key: str | None) -> Statement:
    """allow-transfer as render.transfer_acl writes it, as named prints it."""
    keys = keyring.transfer_keys(key)
    by_address = addresses if keyring.by_addresses(key) or not keys else []
    entries = [Statement((address,)) for address in by_address] + [Statement(("key", name)) for name in keys]
    return Statement(("allow-transfer",), tuple(entries) or (Statement(("none",)),))


def _primaries(address: str, key: str | None) -> Statement:
    return Statement(("primaries",), (Statement((address, *(("key", key) if key else ()))),))


def expected_keys(key_file: str | None) -> dict[str, Statement]:
    """The key statements named must load from dnsctl's key file, by name."""
    statements = {}
    for name, key in tsig.parse_keys(key_file).items():
        clauses = (Statement(("algorithm", key.algorithm)), Statement(("secret", key.secret)))
        statements[name] = normal(Statement(("key", name), clauses))
    return statements


def expected_catalog(
    inventory: Inventory, role: str, layout: Layout, members: list[str], keyring: tsig.Keyring | None = None
) -> Statement:
    """The catalog zone as named must parse it: on its primary ("catalog"), listing members,
    or on a consumer ("consumer"), with the run's TSIG keys."""
    name, primary = inventory.catalog, inventory.catalog_primary()
    assert name is not None and primary is not None
    keyring = keyring or tsig.Keyring()
    key = inventory.tsig_key(name)
    consumers = [inventory.servers[server].address for server in inventory.catalog_consumers()]
    if role == "catalog":
        clauses = [
            Statement(("type", "primary")),
            Statement(("file", layout.primary_file(name))),
            _list(catalog.query_acl(inventory, members), "allow-query"),
            _transfer(consumers, keyring, key),
            Statement(("notify", "explicit")),
            Statement(("notify-delay", "0")),
            _list(consumers, "also-notify"),
        ]
    else:
        clauses = [
            Statement(("type", "secondary")),
            Statement(("file", layout.secondary_file(name))),
            _primaries(inventory.servers[primary].address, keyring.primary_key(key)),
            _list(["localhost"], "allow-query"),
            _list([], "allow-transfer"),
            Statement(("notify", "no")),
        ]
    return normal(Statement(("zone", name), tuple(clauses)))


def _signing(
    inventory: Inventory, zone_name: str, layout: Layout, version: tuple[int, int] | None
) -> list[Statement]:
    return list(parse("\n".join(dnssec.zone_options(inventory, zone_name, layout, version))))


def compare(
    before: tuple[Statement, ...],
    after: tuple[Statement, ...],
    expected: dict[str, Statement],
    address: str,
    files: dict[str, str],
    carried: frozenset[str] = frozenset(),
    keys: dict[str, Statement] | None = None,
    dropped_keys: frozenset[str] = frozenset(),
    removed: frozenset[str] = frozenset(),
    policies: frozenset[str] = frozenset(),
    consumes: tuple[str, str, str | None] | None = None,
) -> list[str]:
    """Every way the staged configuration (after) differs from what the inventory allows.

    before is the configuration named reads today; expected holds the zones this run
    writes; address is the server's own, the one listen-on may gain; files maps staged
    zone file names to their targets; carried names the other zones of dnsctl's file,
    kept byte for byte, which named loads again when the include block comes back.
    keys are the TSIG keys dnsctl's key file defines after the change, each loaded
    exactly as planned; dropped_keys, the ones it defined before, which may go;
    removed, the zones of dnsctl's file this run takes away (apply --prune, a catalog's
    dropped members, a consumer's stanzas of catalog members); policies names the
    dnssec-policy statements dnsctl's file holds (named checks their grammar, and nothing
    but keys and signing parameters can be said in one); consumes, (catalog, primary
    address, TSIG key or None), allows options the catalog-zones statement of that catalog,
    from that primary with that key, and nothing else.
    """
    problems: list[str] = []
    keys = keys or {}
    keys_after = [normal(s) for s in after if s.words[:1] == ("key",) and len(s.words) == 2]
    for name, want in keys.items():
        found = [key for key in keys_after if key.words[1] == name]
        if [key.key() for key in found] != [want.key()]:
            problems.append(f'key "{name}": named would not load it once, as dnsctl planned')
    zones_after = [normal(s, files) for s in after if s.words[:1] == ("zone",) and len(s.words) >= 2]
    for name, want in expected.items():
        found = [zone for zone in zones_after if zone.words[1] == name]
        if len(found) != 1:
            problems.append(f'zone "{name}": named would load it {len(found)} times, not once')
            continue
        problems += _zone_differences(name, want, found[0])
    for name in sorted(removed):
        if any(zone.words[1] == name for zone in zones_after):
            problems.append(f'zone "{name}": named would still load it after its removal')
    ours = {("zone", name) for name in (*expected, *carried, *removed)}
    ours |= {("key", name) for name in (*keys, *dropped_keys)}
    ours |= {("dnssec-policy", name) for name in policies}
    problems += _other_differences(before, after, ours, address, consumes)
    return problems


def _zone_differences(name: str, want: Statement, got: Statement) -> list[str]:
    if got.words[2:] not in ((), ("in",), ("IN",)):
        return [f'zone "{name}": declared as `{" ".join(got.words)}`']
    want_clauses = {clause.key(): clause for clause in want.block or ()}
    got_clauses = {clause.key(): clause for clause in got.block or ()}
    problems = [
        f'zone "{name}": named would load `{clause.text()}`, which the inventory does not say'
        for key, clause in got_clauses.items()
        if key not in want_clauses
    ]
    problems += [
        f'zone "{name}": named would not load `{clause.text()}`, which the inventory says'
        for key, clause in want_clauses.items()
        if key not in got_clauses
    ]
    return problems


def _other_differences(
    before: tuple[Statement, ...],
    after: tuple[Statement, ...],
    ours: set[tuple[str, ...]],
    address: str,
    consumes: tuple[str, str, str | None] | None = None,
) -> list[str]:
    """Outside dnsctl's zones, only listen-on may change, and only by the server's address;
    and, on a catalog consumer, catalog-zones as dnsctl writes it."""

    def others(statements: tuple[Statement, ...]) -> tuple[list[Statement], Statement | None]:
        rest, options = [], None
        for statement in statements:
            statement = normal(statement)
            if statement.words[:2] in ours:
                continue
            if statement.words == ("options",):
                options = statement
            else:
                rest.append(statement)
        return rest, options

    before_rest, before_options = others(before)
    after_rest, after_options = others(after)
    problems = _multiset_difference(before_rest, after_rest)
    if consumes is not None:
        problems += _catalog_zones_problems(after_options, *consumes)
        before_options, after_options = (_without_catalog_zones(o) for o in (before_options, after_options))
    problems += _options_differences(before_options, after_options, address)
    return problems


def _without_catalog_zones(options: Statement | None) -> Statement | None:
    if options is None:
        return None
    kept = tuple(clause for clause in options.block or () if clause.words[:1] != ("catalog-zones",))
    return Statement(options.words, kept)


def _catalog_zones_problems(options: Statement | None, name: str, primary: str, key: str | None) -> list[str]:
    """A consumer's catalog-zones must name just the inventory's catalog, from its primary,
    with its TSIG key."""
    clauses = [c for c in (options.block if options else None) or () if c.words[:1] == ("catalog-zones",)]
    if len(clauses) != 1 or len(clauses[0].block or ()) != 1:
        return [f"options: named would load {len(clauses)} catalog-zones statements, not one naming {name}"]
    (entry,) = clauses[0].block or ()
    primaries = {(_address(child.words[0]), *child.words[1:]) for child in entry.block or () if child.words}
    planned = (_address(primary), *(("key", key) if key else ()))
    if entry.words[:2] != ("zone", name) or primaries != {planned}:
        return [f"options: `{_short(entry.text())}` is not the catalog-zones statement dnsctl planned"]
    return []


def _multiset_difference(before: list[Statement], after: list[Statement], where: str = "") -> list[str]:
    problems = []
    remaining = {}
    for statement in before:
        remaining.setdefault(statement.key(), []).append(statement)
    for statement in after:
        if remaining.get(statement.key()):
            remaining[statement.key()].pop()
        else:
            text = _short(statement.text())
            problems.append(f"named would load `{text}`{where}, which dnsctl did not plan")
    problems += [
        f"named would no longer load `{_short(statement.text())}`{where}"
        for left in remaining.values()
        for statement in left
    ]
    return problems


def _options_differences(before: Statement | None, after: Statement | None, address: str) -> list[str]:
    listen = ("listen-on", "listen-on-v6")
    before_clauses = list((before.block if before else None) or ())
    after_clauses = list((after.block if after else None) or ())
    problems = _multiset_difference(
        [clause for clause in before_clauses if clause.words[:1] not in [(name,) for name in listen]],
        [clause for clause in after_clauses if clause.words[:1] not in [(name,) for name in listen]],
        " in options",
    )
    for name in listen:
        old = [c for c in before_clauses if c.words[:1] == (name,)]
        new = [c for c in after_clauses if c.words[:1] == (name,)]
        if len(old) != len(new):
            problems.append(f"options: named would load {len(new)} `{name}` statements, not {len(old)}")
            continue
        for old_clause, new_clause in zip(old, new, strict=True):
            old_entries = {entry.key() for entry in old_clause.block or ()}
            new_entries = {entry.key() for entry in new_clause.block or ()}
            allowed_new = {Statement((_address(address),)).key()}
            allowed_gone = {Statement(("none",)).key()}
            if (
                old_clause.words != new_clause.words
                or new_entries - old_entries - allowed_new
                or old_entries - new_entries - allowed_gone
            ):
                problems.append(f"options: `{_short(new_clause.text())}` is not what dnsctl planned")
    return problems


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the include chain -------------------------------------------------------------

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Include:
    """One include statement: where its path string is in the file, and what it loads."""

    start: int  # offsets of the quoted path, quotes included
    end: int
    written: str
    target: str  # the path or pattern named opens, `directory` applied
    files: tuple[str, ...]  # canonical paths it loads

    @property
    def pattern(self) -> bool:
        return bool(_GLOB.search(self.target))


@dataclass
class Chain:
    """The files named reads, from its main file down, by canonical path."""

    root: str
    texts: dict[str, str]
    includes: dict[str, list[Include]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # targets still to resolve on the host
    changed: set[str] = field(default_factory=set)  # the files dnsctl changes (or points at new zones)

    def reaching(self) -> set[str]:
        """The files of the chain that are, or include (at any depth), a changed file."""
        changed = self.changed
        reach: dict[str, bool] = {}

        def visit(path: str, stack: frozenset[str]) -> bool:
            if path in reach:
                return reach[path]
            if path in stack:
                return False
            result = path in changed
            for include in self.includes.get(path, []):
                for target in include.files:
                    result = visit(target, stack | {path}) or result
            reach[path] = result
            return result

        visit(self.root, frozenset())
        return {path for path, reaches in reach.items() if reaches}


def events(text: str) -> list[tuple[str, int, int, str]]:
    """The include and directory statements of a file, in order: (kind, start, end, path)."""
    masked = render.mask_comments(text)
    found = []
    for match in re.finditer(r"(?<![\w-])(include|directory)(?![\w-])", masked):
        start = match.end()
        # Comments and the string itself are blank in masked: the string starts at the first quote.
        while start < len(text) and masked[start].isspace() and text[start] != '"':
            start += 1
        end = text.find('"', start + 1)
        if text[start : start + 1] == '"' and end > 0:
            found.append((match.group(1), start, end + 1, text[start + 1 : end]))
    return found


def walk(root: str, texts: dict[str, str], resolved: dict[str, list[str]]) -> Chain:
    """Follow includes from root in the order named parses them.

    texts holds each file's text (the new text where dnsctl changes it) by
    canonical path; resolved maps each target named would open to the canonical
    files it is. A target not in resolved is listed in Chain.missing: resolve it
    on the host and walk again.
    """
    chain = Chain(root, texts)
    directory: str | None = None

    def visit(path: str) -> None:
        nonlocal directory
        chain.order.append(path)
        chain.includes[path] = []
        for kind, start, end, written in events(texts[path]):
            if kind == "directory":
                directory = written
                continue
            if "\n" in written:
                raise PreconditionError(f"{path}: an include path spans lines; dnsctl cannot follow it")
            target = _target(path, written, directory, settled=not chain.missing)
            if target is None:
                continue  # a file read later may set the directory: walk again then
            if target not in resolved:
                chain.missing.add(target)
                continue
            files = tuple(resolved[target])
            chain.includes[path].append(Include(start, end, written, target, files))
            for included in files:
                if included not in chain.includes and included in texts:
                    visit(included)

    visit(root)
    return chain


def _target(path: str, written: str, directory: str | None, settled: bool) -> str | None:
    """The path named opens for `include "written"`: relative paths start at its working
    directory, which the `directory` option parsed so far sets (named chdir()s to it).

    None when that is not known yet because an earlier include is still unresolved.
    """
    if written.startswith("/"):
        return written
    if directory is None or not directory.startswith("/"):
        if not settled:
            return None
        raise PreconditionError(
            f'{path}: include "{written}" is a relative path and no absolute `directory` option '
            "comes before it, so where named finds it depends on the directory named was started "
            "in; write it as an absolute path"
        )
    return posixpath.join(directory, written)


def check_patterns(chain: Chain) -> None:
    """Refuse an include pattern that takes in a file dnsctl changes: a copy of the chain
    cannot rewrite a pattern, so validation would not read what named will."""
    reaching = chain.reaching()
    for path in chain.order:
        for include in chain.includes[path]:
            hit = [target for target in include.files if target in reaching]
            if include.pattern and hit:
                raise PreconditionError(
                    f'{path}: include "{include.written}" is a pattern that takes in {hit[0]}, '
                    "which dnsctl changes; include that file by its own name"
                )
