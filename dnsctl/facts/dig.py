"""What dig, run on one host, says about another: an answer (rcode, AA, records) or a zone
transfer (records received, refused, TSIG error, no answer)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dnsctl.facts.scripts import TRANSFER_SCRIPT, sections

_DIG_ERROR = re.compile(
    r"^;; (?:communications error to \S+: |Connection to \S+ for \S+ failed: |)"
    r"(connection refused|host unreachable|network unreachable|connection timed out|timed out|"
    r"connection reset|end of file)",
    re.IGNORECASE,
)
_TSIG_ERROR = re.compile(r"\b(BADSIG|BADKEY|BADTIME|BADTRUNC|BADMODE|BADNAME|BADALG)\b")


def _dig_error(text: str) -> str | None:
    for line in text.splitlines():
        match = _DIG_ERROR.match(line)
        if match:
            reason = match.group(1).lower()
            return "timed out" if "timed out" in reason else reason
    return None


@dataclass(frozen=True)
class DigAnswer:
    """A query by dig, as its default output shows it."""

    status: str | None  # the rcode; None when no answer came
    authoritative: bool
    records: tuple[tuple[str, str, str, str], ...]  # (section, owner, type, data)
    error: str | None  # "connection refused", "host unreachable", "timed out"...

    @property
    def soa(self) -> list[str]:
        """The answer's SOA data as fields (mname rname serial refresh ...); empty without one."""
        soa = [data for section, _, rdtype, data in self.records if section == "ANSWER" and rdtype == "SOA"]
        return soa[0].split() if soa else []

    @property
    def serial(self) -> int | None:
        return int(self.soa[2]) if self.soa else None

    def addresses(self, owner: str) -> set[str]:
        """The A and AAAA data for owner (absolute, with its final dot) in any section."""
        return {data for _, name, rdtype, data in self.records if name == owner and rdtype in ("A", "AAAA")}


def parse_dig(text: str) -> DigAnswer:
    status = None
    authoritative = False
    section = ""
    records = []
    for line in text.splitlines():
        if line.startswith(";; ->>HEADER<<-"):
            status = line.split("status:", 1)[1].split(",", 1)[0].strip()
        elif line.startswith(";; flags:"):
            authoritative = "aa" in line.split(";", 3)[2].split(":", 1)[1].split()
        elif line.startswith(";; ") and line.endswith(" SECTION:"):
            section = line[3:].split()[0]
        elif line.strip() and not line.startswith(";"):
            fields = line.split(None, 4)
            if len(fields) == 5:
                owner, _ttl, _class, rdtype, data = fields
                records.append((section, owner, rdtype, data.strip()))
    return DigAnswer(status, authoritative, tuple(records), None if status else _dig_error(text))


@dataclass(frozen=True)
class Transfer:
    """One AXFR attempt as dig reports it."""

    records: int  # records received (the SOA counted twice, as dig shows it)
    failed: bool  # the server answered with an error: dig says "Transfer failed."
    tsig_error: str | None  # BADSIG, BADKEY, BADTIME...: the server did not accept our signature
    error: str | None  # no answer at all: "connection refused", "timed out"...

    @property
    def ok(self) -> bool:
        return self.records > 0 and not (self.failed or self.tsig_error or self.error)

    def describe(self) -> str:
        if self.error:
            return self.error
        if self.tsig_error:
            return f"TSIG error {self.tsig_error}"
        if self.failed or not self.records:
            return "refused (Transfer failed)"
        return f"transferred {self.records} records"


def transfer_command(
    zone: str,
    addresses: Sequence[str],
    *,
    source: str = "",
    key: str | None = None,
    named_conf: str = "",
    mode: str = "count",
) -> list[str]:
    """TRANSFER_SCRIPT's command line: ask each address for an AXFR of zone."""
    return [
        "sh",
        "-c",
        TRANSFER_SCRIPT,
        "dnsctl-transfer",
        zone,
        source,
        key or "",
        named_conf,
        mode,
        *addresses,
    ]


def parse_transfers(text: str) -> dict[str, Transfer]:
    """TRANSFER_SCRIPT's output, by address asked."""
    if dig_missing(text):
        return {}
    return {address: parse_transfer("\n".join(lines)) for address, lines in sections(text).items()}


def parse_transfer(text: str) -> Transfer:
    counted = re.search(r"^;; dnsctl records: (\d+)$", text, re.MULTILINE)
    records = (
        int(counted.group(1))
        if counted
        else sum(1 for line in text.splitlines() if line.strip() and not line.startswith(";"))
    )
    tsig = _TSIG_ERROR.search(text)
    failed = "; Transfer failed." in text
    error = _dig_error(text)
    if not (records or failed or tsig or error):
        # dig itself failed (a source address the host does not have, no such option...)
        said = [line.strip() for line in text.splitlines() if line.strip() and "dnsctl records" not in line]
        error = f"dig failed: {said[-1].lstrip(';').strip()}" if said else "dig printed nothing"
    return Transfer(records, failed, tsig.group(1) if tsig else None, error)


def dig_missing(text: str) -> bool:
    return text.startswith("@@no-dig")
