"""Files as READ_FILES_SCRIPT reads them (never through a link), include targets as named
resolves them, and the directories still to create."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from dnsctl import secrets
from dnsctl.errors import PreconditionError


@dataclass(frozen=True)
class FileState:
    """A file as read from a host: its text, who owns it and how, and its real path."""

    path: str
    canonical: str  # the path with every link resolved, as named would open it
    text: str | None  # None: the file does not exist
    uid: str = "0"
    gid: str = "0"
    mode: int = 0o644
    links: int = 1


def parse_files(text: str) -> dict[str, FileState]:
    """The files in READ_FILES_SCRIPT output, by the path they were read as.

    Raises PreconditionError for a link, a file that is not a regular file, or one
    that changed while it was read: dnsctl never reads through or writes over those.
    """
    files: dict[str, FileState] = {}
    lines = iter(text.splitlines())
    for line in lines:
        kind, path = line[:1], line[1:]
        if kind == "!":
            reason = next(lines, "cannot be read")
            raise PreconditionError(
                f"{path} {reason}; dnsctl reads and replaces regular files only, never through a link"
            )
        if kind == "-":
            files[path] = FileState(path, next(lines, path), None)
        elif kind == "+":
            canonical, before, content, after = (next(lines, "") for _ in range(4))
            status, _, after_meta = after.partition(" ")
            if status != "0" or after_meta != before:
                raise PreconditionError(f"{path} changed while dnsctl read it; try again")
            _kind, links, uid, gid, mode = before.split("/")[:5]
            try:
                decoded = base64.b64decode(content).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise PreconditionError(f"{path}: cannot read as UTF-8 text: {exc}") from None
            secrets.remember(decoded)
            files[path] = FileState(path, canonical, decoded, uid, gid, int(mode, 8), int(links))
    return files


def parse_resolved(text: str) -> dict[str, list[str]]:
    """Include targets in READ_FILES_SCRIPT output: target -> the canonical files it loads."""
    resolved: dict[str, list[str]] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("?"):
            resolved.setdefault(line[1:], [])
        elif line.startswith("="):
            resolved.setdefault(line[1:], []).append(next(lines, ""))
    return resolved


def parse_missing_dirs(text: str) -> set[str]:
    """The directories to create; a link where one should be is refused, never followed."""
    missing = set()
    for line in text.splitlines():
        if line.startswith("!"):
            raise PreconditionError(
                f"{line[1:]} is a symbolic link; dnsctl never creates or changes a directory through a link"
            )
        if line:
            missing.add(line)
    return missing
