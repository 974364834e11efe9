"""The inventory's typed values: each field's check, keeping only the value's canonical text.

A check raises ValueError with what the administrator reads after the field's path.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from dnsctl.names import HOST_NAME_RULE, dns_name_text, is_host_name
from dnsctl.reverse import reverse_network

ACL_KEYWORDS = ("any", "none", "localhost", "localnets")


def _no_scope(text: str) -> None:
    if "%" in text:
        raise ValueError(f"{text!r}: scoped IPv6 addresses (with '%') are not accepted")


def _host_address(text: str) -> str:
    _no_scope(text)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None
    if address.is_unspecified or address.is_multicast or text == "255.255.255.255":
        raise ValueError(f"{text!r} is not the unicast address of a host")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        raise ValueError(f"{text!r} is an IPv4-mapped address: write {address.ipv4_mapped}")
    return address.compressed


def _acl_entry(text: str) -> str:
    if text in ACL_KEYWORDS:
        return text
    _no_scope(text)
    try:
        if "/" in text:
            return ipaddress.ip_network(text, strict=False).compressed
        return ipaddress.ip_address(text).compressed
    except ValueError:
        raise ValueError(
            f"{text!r} is not an address, a network or one of {', '.join(ACL_KEYWORDS)}"
        ) from None


_LOGIN = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")


def _login_name(text: str) -> str:
    if not _LOGIN.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a login name (lower-case letters, digits, '_', '.', '-', "
            "starting with a letter or '_', at most 32)"
        )
    return text


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _local_path(text: str) -> str:
    if not text or len(text) > 4096 or _CONTROL.search(text):
        raise ValueError("must be a file path of 1 to 4096 characters without control characters")
    return text


def _ssh_host(text: str) -> str:
    """Where SSH connects: an IP address (canonical) or a host name (as written)."""
    _no_scope(text)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        pass
    else:
        return _host_address(text)
    try:
        dns_name_text(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither an IP address nor a host name") from None
    return text.rstrip(".")


# nmcli reads these words in front of a connection name as selectors.
_NMCLI_WORDS = frozenset(("id", "uuid", "path", "apath", "help"))


def _connection_name(text: str) -> str:
    if not text or len(text) > 255 or _CONTROL.search(text):
        raise ValueError(
            "must be a NetworkManager connection name of 1 to 255 characters, no control characters"
        )
    if text.startswith("-") or text in _NMCLI_WORDS:
        raise ValueError(
            f"{text!r} would be read by nmcli as an option or a keyword, not as a connection name"
        )
    return text


def _mailbox(text: str) -> str:
    """An SOA contact, as an e-mail address or a DNS name, as BIND's mailbox check wants it."""
    if "@" in text:
        local, _, domain = text.partition("@")
        if "." in local:
            raise ValueError("the part before @ cannot contain a dot in an SOA contact")
        text = f"{local}.{domain}"
    name = dns_name_text(text)
    domain = name.partition(".")[2]
    if not domain or not is_host_name(domain):
        raise ValueError(
            f"{text!r}: the mail domain of an SOA contact must be a host name ({HOST_NAME_RULE})"
        )
    return name


def _name_server_name(text: str) -> str:
    name = dns_name_text(text)
    if not is_host_name(name):
        raise ValueError(f"{text!r} is not a host name ({HOST_NAME_RULE}), which BIND requires in NS records")
    return name


# A key generation's name is the key's name plus "." and a 14-digit time stamp.
_GENERATION_SUFFIX = 15


def _tsig_key_name(value: Any) -> bool | str:
    """`tsig`: true (a key named after the zone), false, or the name of a key zones may share."""
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise ValueError(f"must be true, false or the name of a key, not {shown(value)}")
    name = dns_name_text(value)
    if len(name) > 253 - _GENERATION_SUFFIX:
        raise ValueError(
            f"{value!r} is longer than {253 - _GENERATION_SUFFIX} characters, "
            "which leaves no room for the generation dnsctl appends"
        )
    return name


# An ISO 8601 duration as dnssec-policy takes it: P90D, P1Y, PT12H.
_DURATION = re.compile(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


def _key_lifetime(text: str) -> str:
    if text == "unlimited":
        return text
    if not _DURATION.fullmatch(text.upper()):
        raise ValueError(f"{text!r} is not a duration like P90D, P1Y, PT12H, or unlimited")
    return text.upper()


HostAddress = Annotated[str, AfterValidator(_host_address)]
AclEntry = Annotated[str, AfterValidator(_acl_entry)]
ReverseNetwork = Annotated[str, AfterValidator(reverse_network)]
LoginName = Annotated[str, AfterValidator(_login_name)]
LocalPath = Annotated[str, AfterValidator(_local_path)]
TTL = Annotated[int, Field(ge=0, le=2_147_483_647)]
Port = Annotated[int, Field(ge=1, le=65535)]
KeyLifetime = Annotated[str, AfterValidator(_key_lifetime)]
SSHHost = Annotated[str, AfterValidator(_ssh_host)]
NameServerName = Annotated[str, AfterValidator(_name_server_name)]
ConnectionName = Annotated[str, AfterValidator(_connection_name)]
Mailbox = Annotated[str, AfterValidator(_mailbox)]
TsigSetting = Annotated[Any, AfterValidator(_tsig_key_name)]

# A server's, client's or dnssec policy's table name: it ends up in config and commands.
HOST_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")

_TOML_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "a boolean"),
    (str, "a string"),
    (int, "an integer"),
    (float, "a float"),
    (list, "an array"),
    (dict, "a table"),
)


def shown(value: Any) -> str:
    kind = next((name for python, name in _TOML_TYPES if isinstance(value, python)), "a date or time")
    if isinstance(value, (dict, list)):
        return kind
    return f"{kind} {value!r}" if isinstance(value, str) else f"{kind} ({value!r})"
