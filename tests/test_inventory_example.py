"""inventory.example.toml: it loads, and so does every commented example in it, uncommented."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dnsctl.models import Inventory, load_inventory

EXAMPLE = Path(__file__).parent.parent / "inventory.example.toml"
LINES = EXAMPLE.read_text(encoding="utf-8").splitlines(keepends=True)
# A commented example is "# key = value"; prose comments never start with "word =".
COMMENTED = re.compile(r"^# ?(?=[A-Za-z_][A-Za-z0-9_]* *=)")
EXAMPLES = [number for number, line in enumerate(LINES) if COMMENTED.match(line)]


def uncommented(numbers: list[int]) -> str:
    return "".join(COMMENTED.sub("", line) if n in numbers else line for n, line in enumerate(LINES))


def loaded(text: str, tmp_path: Path) -> Inventory:
    path = tmp_path / "inventory.toml"
    path.write_text(text, encoding="utf-8")
    return load_inventory(path)


def test_the_example_loads_as_it_is(tmp_path):
    inventory = loaded("".join(LINES), tmp_path)
    assert inventory.zones["example.com"].secondaries == ["ns2"]


def test_there_are_commented_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("number", EXAMPLES, ids=lambda n: f"line {n + 1}: {LINES[n].split('#')[1].strip()}")
def test_each_commented_example_works_uncommented(tmp_path, number):
    text = uncommented([number])
    path, key = added_key(tomllib.loads("".join(LINES)), tomllib.loads(text))
    node: Any = loaded(text, tmp_path)
    for part in path:
        node = node[part] if isinstance(node, (dict, list)) else getattr(node, part)
    assert key in node.model_fields_set, f"line {number + 1} sets {key}, which the inventory did not take"


def test_all_commented_examples_work_together(tmp_path):
    loaded(uncommented(EXAMPLES), tmp_path)


def added_key(before: Any, after: Any, path: tuple = ()) -> tuple[tuple, str]:
    """Where uncommenting a line added a key: the path of its table, and the key."""
    if isinstance(after, list):
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            if old != new:
                return added_key(old, new, (*path, index))
    for key, value in after.items():
        if key not in before:
            return path, key
        if value != before[key]:
            return added_key(before[key], value, (*path, key))
    raise AssertionError("uncommenting the line changed nothing")
