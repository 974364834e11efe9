"""Editing the inventory's TOML keeps what the administrator wrote, and writes atomically."""

from __future__ import annotations

import os
import tomllib

import pytest

from dnsctl.errors import InventoryError
from dnsctl.inventory_edit import add_record, remove_records, write_atomically

TEXT = """\
# my servers
[servers.ns1]
address = "198.51.100.10"   # the primary

[zones."Example.COM."]
primary = "ns1"

# records below
[[zones."Example.COM.".records]]
name = "pc1"  # the office PC
type = "A"
value = "198.51.100.50"

[zones."inline.test"]
primary = "ns1"
records = [{name = "a", type = "A", value = "192.0.2.1"}]

[zones."empty.test"]
primary = "ns1"
"""


def records(text: str, zone: str) -> list[dict]:
    return tomllib.loads(text)["zones"][zone].get("records", [])


def test_add_keeps_comments_and_finds_the_zone_by_its_canonical_name():
    text = add_record(TEXT, "example.com", {"name": "www", "type": "A", "value": "198.51.100.9", "ttl": None})
    assert text.startswith(TEXT.split('[zones."inline.test"]')[0].rstrip("\n"))
    assert "# the office PC" in text and "# records below" in text and "# the primary" in text
    assert records(text, "Example.COM.")[-1] == {"name": "www", "type": "A", "value": "198.51.100.9"}
    assert '\n\n[zones."inline.test"]' in text  # the next table still stands apart


def test_add_to_inline_and_to_missing_records():
    text = add_record(TEXT, "inline.test", {"name": "b", "type": "A", "value": "192.0.2.2", "ttl": 60})
    assert records(text, "inline.test")[-1] == {"name": "b", "type": "A", "value": "192.0.2.2", "ttl": 60}
    text = add_record(text, "empty.test", {"name": "c", "type": "TXT", "value": 'say "hi"'})
    assert records(text, "empty.test") == [{"name": "c", "type": "TXT", "value": 'say "hi"'}]


def test_remove_by_position_and_drop_an_emptied_list():
    text = add_record(TEXT, "example.com", {"name": "www", "type": "A", "value": "198.51.100.9"})
    text = remove_records(text, "example.com", {0})
    assert [r["name"] for r in records(text, "Example.COM.")] == ["www"]
    assert "# records below" in text
    text = remove_records(text, "inline.test", {0})
    assert "records" not in tomllib.loads(text)["zones"]["inline.test"]


def test_unknown_zone():
    with pytest.raises(InventoryError, match="unknown zone"):
        add_record(TEXT, "nowhere.test", {"name": "a", "type": "A", "value": "192.0.2.1"})


def test_write_atomically_keeps_the_mode_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "inventory.toml"
    path.write_text("old\n")
    os.chmod(path, 0o640)
    write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["inventory.toml"]
