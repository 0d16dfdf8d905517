"""The consumer and the reports meet only in modules below both (``log_hours``, ``hdfs_layout``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "plugins" / "logstream"


def imported_modules(room: str) -> dict[str, set[str]]:
    found = {}
    for path in sorted((CORE / room).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[path.name] = names
    return found


@pytest.mark.parametrize(("room", "other"), [("hadoop_consumer", "hive"), ("hive", "hadoop_consumer"),
                                             ("log_hours", "hive"), ("log_hours", "hadoop_consumer")])
def test_a_room_does_not_import_the_other(room, other):
    crossing = {
        module: sorted(name for name in names if name.startswith(f"logstream.{other}"))
        for module, names in imported_modules(room).items()
    }
    assert {module: names for module, names in crossing.items() if names} == {}
