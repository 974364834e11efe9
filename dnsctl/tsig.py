"""TSIG keys for zone transfers: their names, the key file, and what the zone stanzas say.

A zone with `tsig` set transfers only to holders of its key: the primary's
`allow-transfer` lists the key, and each secondary asks its primary with it
(`masters { ADDR key NAME; }`). Each generation of a key has a name of its own,
`<key>.<UTC YYYYMMDDHHMMSS>`, so a primary can accept two generations at once
while its secondaries move from the old one to the new one. What a primary holds
is the truth: the generations in its key file are the key's current ones.

Keys live in one file per server that only root and named can read, included
from dnsctl's configuration file; it defines exactly the keys dnsctl's stanzas
name. Nothing here talks to a host: ops/keys.py reads, makes and proves keys there.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from dnsctl import secrets
from dnsctl.errors import PreconditionError
from dnsctl.platform import Layout

ALGORITHM = "hmac-sha256"
SECRET_BYTES = 32  # what tsig-keygen makes for hmac-sha256
KEY_FILE_MODE = 0o640  # root reads and writes, named's group reads, nobody else
KEY_FILE_HEADER = (
    "// Managed by dnsctl: the TSIG keys of zone transfers, readable by root and named only.\n"
    "// Edits here are overwritten; `dnsctl tsig rotate` replaces a key.\n"
)
_KEY_FILES = {"debian": "/etc/bind/named.conf.dnsctl-keys", "rhel": "/etc/named.dnsctl-keys.conf"}
_STAMP = "%Y%m%d%H%M%S"

# A key statement as tsig-keygen prints it and as named-checkconf -p does (quoted algorithm).
_STATEMENT = re.compile(
    r'key\s+"([^"]+)"\s*\{\s*algorithm\s+"?([A-Za-z0-9-]+)"?\s*;\s*secret\s+"([^"]*)"\s*;\s*\}\s*;'
)
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_REFERENCE = re.compile(r'\bkey "([^"]+)";')


@dataclass(frozen=True)
class Key:
    name: str
    secret: str = field(repr=False)
    algorithm: str = ALGORITHM

    def statement(self) -> str:
        return f'key "{self.name}" {{\n\talgorithm {self.algorithm};\n\tsecret "{self.secret}";\n}};\n'


def key_file(layout: Layout) -> str:
    """Where a server keeps dnsctl's keys: beside dnsctl's configuration file."""
    return _KEY_FILES[layout.name]


def parse_keys(text: str | None) -> dict[str, Key]:
    """The key statements of a key file (or of tsig-keygen's output), by name.

    A secret that is not base64 is refused rather than carried into named.conf.
    """
    keys = {}
    for name, algorithm, secret in _STATEMENT.findall(text or ""):
        if not _BASE64.fullmatch(secret):
            raise PreconditionError(f"TSIG key {name}: its value is not base64")
        keys[name] = Key(name, secret, algorithm.lower())
    secrets.remember(text or "")
    return keys


def made_key(text: str, name: str) -> Key:
    """The key tsig-keygen printed: exactly the one asked for, with a full-length secret."""
    key = parse_keys(text).get(name)
    try:
        length = len(base64.b64decode(key.secret, validate=True)) if key else 0
    except binascii.Error:
        length = 0
    if key is None or key.algorithm != ALGORITHM or length != SECRET_BYTES:
        raise PreconditionError(f"making TSIG key {name} gave no {ALGORITHM} key of {SECRET_BYTES} bytes")
    return key


def render_key_file(keys: Iterable[Key]) -> str:
    return KEY_FILE_HEADER + "".join("\n" + key.statement() for key in sorted(keys, key=lambda k: k.name))


def include_line(layout: Layout) -> str:
    """What dnsctl's configuration file says to load the key file."""
    return f'include "{key_file(layout)}";\n'


# --- generations ------------------------------------------------------------------------


def generation(name: str, key: str) -> int | None:
    """The time stamp of a generation of key, or None when name is not one."""
    prefix, _, stamp = name.rpartition(".")
    return int(stamp) if prefix == key and len(stamp) == 14 and stamp.isdigit() else None


def generations(keys: Iterable[Key], key: str) -> list[Key]:
    """The generations of key among keys, oldest first."""
    found = [(stamp, each) for each in keys if (stamp := generation(each.name, key)) is not None]
    return [each for _, each in sorted(found, key=lambda pair: pair[0])]


def next_generation(key: str, existing: Iterable[Key], now: dt.datetime) -> str:
    """The name of key's next generation: now, or just after the newest when the clock is behind it."""
    stamp = int(now.astimezone(dt.UTC).strftime(_STAMP))
    newest = max((generation(each.name, key) or 0 for each in existing), default=0)
    return f"{key}.{max(stamp, newest + 1)}"


@dataclass(frozen=True)
class Keyring:
    """The keys of one run, by key name: the generations its primary accepts (oldest first),
    and the one its secondaries ask with.

    While a catalog's transfers move from addresses to a key or back (see ops/tsig.py),
    the primary accepts both ways: by_address names the keys whose zones' primary also
    accepts its secondaries' addresses, and retiring holds the keys it still accepts for
    the zones of the run that have none.
    """

    accepted: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    used: dict[str, Key] = field(default_factory=dict)
    by_address: frozenset[str] = frozenset()
    retiring: tuple[Key, ...] = ()

    def transfer_keys(self, key: str | None) -> list[str]:
        """What a primary's allow-transfer names for a zone signed with key (None: unsigned)."""
        if key is None:
            return [each.name for each in self.retiring]
        return [each.name for each in self._accepted(key)]

    def by_addresses(self, key: str | None) -> bool:
        """Whether a primary's allow-transfer lists the secondaries' addresses for such a zone."""
        return key is None or key in self.by_address

    def primary_key(self, key: str | None) -> str | None:
        """The generation a secondary asks its primary with (None: unsigned)."""
        if key is None:
            return None
        self._accepted(key)
        return self.used[key].name

    def known(self) -> dict[str, Key]:
        return {each.name: each for keys in (*self.accepted.values(), self.retiring) for each in keys}

    def _accepted(self, key: str) -> tuple[Key, ...]:
        if key not in self.accepted:
            raise PreconditionError(f"TSIG key {key} was not read from its primary in this run")
        return self.accepted[key]


def referenced(stanzas: Iterable[str]) -> list[str]:
    """The key names dnsctl's zone stanzas use, in order, once each."""
    return list(dict.fromkeys(name for stanza in stanzas for name in _REFERENCE.findall(stanza)))


def key_file_text(
    server: str, current: str | None, stanzas: dict[str, str], keyring: Keyring, held: Iterable[str] = ()
) -> str | None:
    """The key file a server needs: every key its dnsctl stanzas name, and the keys in held
    (a catalog consumer's members may ask with any key the primary accepts), and nothing
    else; or None when it needs none and has none.

    Secrets come from this run's keyring, else from the file as it is (zones this run
    does not touch keep their keys). A key named with no secret anywhere stops the run:
    named would load the zone with a key it does not have and fail every transfer.
    """
    names = list(dict.fromkeys([*referenced(stanzas.values()), *held]))
    if not names and current is None:
        return None
    known = {**parse_keys(current), **keyring.known()}
    missing = [name for name in names if name not in known]
    if missing:
        raise PreconditionError(
            f"{server}: dnsctl's configuration names TSIG key {missing[0]}, which neither this server's "
            "key file nor the zone's primary holds; run add-slave (or init-primary) for its zones"
        )
    return render_key_file(known[name] for name in names)


def masters_line(stanza: str | None) -> str | None:
    """A secondary stanza's `masters` statement, as dnsctl writes it."""
    match = re.search(r"^\tmasters \{[^}]*\};$", stanza or "", re.MULTILINE)
    return match.group(0) if match else None
