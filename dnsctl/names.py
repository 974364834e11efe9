"""DNS names as dnsctl accepts them, and BIND's check-names rules on them.

A DNS name here is letters, digits, '-' and '_' in labels of 1..63 that neither
start nor end with '-': nothing that needs escaping in a zone file or a path.
A host name is what BIND 9.18's check-names wants (``dns_name_ishostname`` in
lib/dns/name.c): letters, digits and '-' only, each label starting and ending
with a letter or digit. named refuses a master zone that breaks check-names, so
the inventory checks the same rules at load (lib/dns/rdata/*/checkowner_* and
checknames_*).

An internationalised name (any label not in ASCII, "bücher") is taken in its
A-label form ("xn--bcher-kva"): IDNA 2008 with the UTS 46 mapping browsers use
(upper case folded, no transitional ß -> ss), as dnspython's IDNA_2008_Practical
codec does it with the idna package.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_WILDCARD_DNS_NAME = re.compile(rf"(?:\*|{_LABEL})(?:\.{_LABEL})*")
_HOST_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_NAME = re.compile(rf"{_HOST_LABEL}(?:\.{_HOST_LABEL})*")
_WILDCARD_HOST_NAME = re.compile(rf"(?:\*\.)?{_HOST_LABEL}(?:\.{_HOST_LABEL})*")

HOST_NAME_RULE = "only letters, digits and inner '-' in each label"

# Types whose owner BIND checks, and its exceptions for Active Directory and SPF.
_HOST_OWNER_TYPES = frozenset(("A", "AAAA", "MX"))
_SPF_LABELS = frozenset(("_spf", "_spf_verify", "_spf_rate"))
_REVERSE_TREES = ("in-addr.arpa", "ip6.arpa", "ip6.int")
_DNS_SD_PREFIXES = tuple(f"{label}._dns-sd._udp." for label in ("b", "db", "r", "dr", "lb"))


def dns_name_text(value: str, *, allow_wildcard: bool = False) -> str:
    """Check a DNS name in presentation form; return it lower-cased without the final dot."""
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty DNS name")
    text = value[:-1] if value.endswith(".") and value != "." else value
    pattern = _WILDCARD_DNS_NAME if allow_wildcard else _DNS_NAME
    if len(text) <= 253 and pattern.fullmatch(text):
        return text.lower()
    if len(text) > 253:
        raise ValueError(f"{value!r} is longer than 253 characters")
    if any(len(label) > 63 for label in text.split(".")):
        raise ValueError(f"{value!r} has a label longer than 63 characters")
    raise ValueError(f"{value!r} is not a valid DNS name")


def a_label_name(text: str) -> str:
    """The name with each internationalised label in its A-label (xn--) form; ASCII text as given.

    A final dot is kept; whatever the result is, the caller still checks it as a DNS name.
    """
    if text.isascii():
        return text
    if "\\" in text:  # dnspython would read escapes; dnsctl's names have none
        raise ValueError(f"{text!r} is not a valid DNS name")
    # Imported here: dns.name costs every run ~20 ms at start, and most inventories are ASCII.
    import dns.exception
    import dns.name

    try:
        name = dns.name.from_unicode(text, origin=None, idna_codec=dns.name.IDNA_2008_Practical)
    except dns.name.NoIDNA2008:
        raise ValueError(
            f"{text!r} is an internationalised name and the idna package (IDNA 2008) is not "
            "installed: install it, or write the name in its A-label (xn--...) form"
        ) from None
    except dns.name.LabelTooLong:
        raise ValueError(f"{text!r} has a label longer than 63 characters in its A-label form") from None
    except dns.name.IDNAException as exc:
        raise ValueError(
            f"{text!r} is not a valid internationalised name (IDNA 2008): {exc.kwargs['idna_exception']}"
        ) from None
    except dns.exception.DNSException:
        raise ValueError(f"{text!r} is not a valid DNS name") from None
    return name.to_text()


def is_host_name(name: str, *, wildcard: bool = False) -> bool:
    """BIND's dns_name_ishostname on a lower-case name without the final dot ("" is the root)."""
    if name in ("", "."):
        return True
    return bool((_WILDCARD_HOST_NAME if wildcard else _HOST_NAME).fullmatch(name))


def owner_passes_check_names(owner: str, rtype: str) -> bool:
    """Whether BIND accepts owner (lower case) as the owner of an rtype record in a master zone."""
    if rtype not in _HOST_OWNER_TYPES or _WILDCARD_HOST_NAME.fullmatch(owner):
        return True
    labels = owner.split(".")
    if rtype in ("A", "AAAA") and labels[:2] == ["gc", "_msdcs"] and is_host_name(".".join(labels[2:])):
        return True
    return rtype == "A" and any(label in _SPF_LABELS for label in labels[:-1])


def target_needs_host_name(rtype: str, owner: str) -> bool:
    """Whether BIND wants the name in an rtype record's value to be a host name."""
    if rtype in ("NS", "MX", "SRV"):
        return True
    if rtype == "PTR":
        in_reverse_tree = any(in_zone(owner, tree) for tree in _REVERSE_TREES)
        return in_reverse_tree and not owner.startswith(_DNS_SD_PREFIXES)
    return False


def looks_like_address(text: str) -> bool:
    """BIND warns about NS and MX values that are addresses written where a name belongs."""
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
            return True
        except OSError:
            pass
    return False


def in_zone(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def ancestors(name: str, zone: str = "") -> Iterator[str]:
    """The names strictly between name and zone (default: the root), nearest first."""
    while name != zone and "." in name:
        name = name.split(".", 1)[1]
        if name == zone:
            return
        yield name
