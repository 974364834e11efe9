"""CAA, SSHFP, TLSA and DS values: checked strictly, then read by dnspython.

Each value must have the exact shape its RFC gives it (8659, 4255, 6698, 4034)
before dnspython's own parser (dns.rdata.from_text) reads it, so nothing but
numbers, hex digits and, in CAA only, one quoted string reaches a zone file.
The value kept is the text dnspython prints for the record (hex in lower case,
long hex split as it splits it, a CAA string escaped as it escapes it): the
same text it prints for named's answer, so verification compares strings, and
text named-checkzone loads as it is.

The digest lengths BIND enforces (SSHFP and DS) and those TLSA's matching type
fixes are checked too, so a truncated paste is refused here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPES = ("CAA", "SSHFP", "TLSA", "DS")


@dataclass(frozen=True)
class _HexShape:
    """A value of numbers followed by hex data, the numbers' limits, and its known digests."""

    limits: tuple[int, ...]
    digest_field: int  # which number says how the data was hashed
    digest_kind: str  # what that number is called
    digests: dict[int, tuple[str, int]]  # its value -> (hash, octets)
    expected: str


_HEX_SHAPES = {
    "SSHFP": _HexShape(
        (255, 255),
        1,
        "fingerprint type",
        {1: ("SHA-1", 20), 2: ("SHA-256", 32)},
        "an algorithm and a fingerprint type (0-255 each) and the fingerprint in hex, "
        "e.g. '4 2 <64 hex digits>'",
    ),
    "TLSA": _HexShape(
        (255, 255, 255),
        2,
        "matching type",
        {1: ("SHA-256", 32), 2: ("SHA-512", 64)},
        "usage, selector and matching type (0-255 each) and the certificate data in hex, "
        "e.g. '3 1 1 <64 hex digits>'",
    ),
    "DS": _HexShape(
        (65535, 255, 255),
        2,
        "digest type",
        {1: ("SHA-1", 20), 2: ("SHA-256", 32), 3: ("GOST", 32), 4: ("SHA-384", 48)},
        "a key tag (0-65535), an algorithm and a digest type (0-255 each) and the digest in hex, "
        "e.g. '12345 13 2 <64 hex digits>'",
    ),
}

_HEX_VALUE_CHARACTERS = re.compile(r"[0-9A-Fa-f ]+")
_NUMBER = re.compile(r"[0-9]{1,5}")
_HEX = re.compile(r"[0-9A-Fa-f]+")

CAA_EXPECTED = "flags (0-255), a tag and a quoted value, e.g. '0 issue \"ca.example\"'"
# The quoted value: any character but a quote, a backslash or a control character, or
# one of the escapes BIND reads in a quoted string: \" \\ and a decimal \DDD.
_CAA = re.compile(r'([0-9]{1,3}) +([A-Za-z0-9]{1,255}) +"((?:[^"\\\x00-\x1f\x7f]|\\["\\]|\\[0-9]{3})*)"')
_VALID_ESCAPE = re.compile(r'\\(?:["\\]|([0-9]{3}))')


def security_value(rtype: str, text: str) -> tuple[str, int]:
    """A CAA, SSHFP, TLSA or DS value's canonical text and its size on the wire; ValueError if bad."""
    if rtype == "CAA":
        _check_caa(text)
    else:
        _check_hex_value(rtype, text)
    # Imported here: dns.rdata costs every run ~20 ms at start, and most zones have none of these.
    import dns.exception
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rtype), text)
    # What the checks above let through and this dnspython still refuses (its rules vary by version).
    except (dns.exception.DNSException, ValueError) as exc:
        expected = CAA_EXPECTED if rtype == "CAA" else _HEX_SHAPES[rtype].expected
        raise ValueError(f"{text!r} is not a valid {rtype} value ({exc}): expected {expected}") from None
    return rdata.to_text(), len(rdata.to_wire())


def _check_caa(text: str) -> None:
    match = _CAA.fullmatch(text)
    if match is None or int(match.group(1)) > 255:
        raise ValueError(f"{text!r} is not a valid CAA value{_caa_problem(text)}: expected {CAA_EXPECTED}")
    for escape in _VALID_ESCAPE.finditer(match.group(3)):
        if escape.group(1) is None:
            continue
        octet = int(escape.group(1))
        if octet > 255:
            raise ValueError(
                f"{text!r} is not a valid CAA value: \\{escape.group(1)} is not an octet (0-255)"
            )
        if octet < 0x20 or octet == 0x7F:
            raise ValueError(
                f"{text!r} is not a valid CAA value: \\{escape.group(1)} is a control character, "
                "which is not allowed"
            )


def _caa_problem(text: str) -> str:
    """What is wrong with a CAA value, when one part is: " (why)", else ""."""
    if re.search(r"[\x00-\x1f\x7f]", text):
        return " (control characters are not allowed)"
    parts = text.split(maxsplit=2)
    if not parts or not (_NUMBER.fullmatch(parts[0]) and int(parts[0]) <= 255):
        return " (the flags are a number, 0-255)"
    if len(parts) < 3:
        return ""
    if not re.fullmatch(r"[A-Za-z0-9]{1,255}", parts[1]):
        return " (the tag is letters and digits only)"
    if not parts[2].startswith('"'):
        return " (the value goes in double quotes)"
    if "\\" in _VALID_ESCAPE.sub("", parts[2]):
        return ' (in the quoted value a backslash escapes only ", \\ or a decimal \\DDD)'
    return ' (the value is one quoted string, with \\" for a quote and \\\\ for a backslash in it)'


def _check_hex_value(rtype: str, text: str) -> None:
    shape = _HEX_SHAPES[rtype]
    parts = text.split() if _HEX_VALUE_CHARACTERS.fullmatch(text) else []
    numbers, data = parts[: len(shape.limits)], parts[len(shape.limits) :]
    in_range = all(
        _NUMBER.fullmatch(part) and int(part) <= top for part, top in zip(numbers, shape.limits, strict=False)
    )
    if not data or not in_range or not all(_HEX.fullmatch(chunk) for chunk in data):
        raise ValueError(f"{text!r} is not a valid {rtype} value: expected {shape.expected}")
    digits = sum(len(chunk) for chunk in data)
    if digits % 2:
        raise ValueError(
            f"{text!r} is not a valid {rtype} value: its hex has an odd number of digits ({digits})"
        )
    kind = int(numbers[shape.digest_field])
    if rtype == "DS" and kind == 0:  # RFC 3658 2.4; dnspython could not read it back from named
        raise ValueError(f"{text!r} is not a valid DS value: digest type 0 is reserved")
    if kind in shape.digests:
        digest, octets = shape.digests[kind]
        if digits != 2 * octets:
            raise ValueError(
                f"{text!r} is not a valid {rtype} value: a {digest} digest ({shape.digest_kind} {kind}) "
                f"is {2 * octets} hex digits, not {digits}"
            )
