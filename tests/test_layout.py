"""The harness's shape: one subpackage per concern, each saying what it is, layered without cycles,
in modules small enough to read.

Read from the source with `ast` (nothing is imported). Each allowlist below names a known offender
being fixed on another branch; an entry that is no longer needed fails too, so that it is removed
with the fix rather than left to hide the next offender.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

HARNESS = Path(__file__).resolve().parents[1] / "harness"
MAX_LINES = 400

TOO_LONG_ALLOWED = {
    "harness/diagnosis/_rules.py",  # removed by branch diagnosis
}
CYCLES_ALLOWED = {
    ("diagnosis", "evidence"),  # removed by branch diagnosis
}


def harness_modules() -> Iterator[Path]:
    yield from sorted(path for path in HARNESS.rglob("*.py") if "__pycache__" not in path.parts)


def relative(path: Path) -> str:
    return path.relative_to(HARNESS.parent).as_posix()


def unit_of(path: Path) -> str | None:
    """The subpackage or top-level module a file belongs to (`servers`, `pages`); None for harness/__init__."""
    parts = path.relative_to(HARNESS).parts
    if parts == ("__init__.py",):
        return None
    return parts[0].removesuffix(".py")


def imported_units(path: Path) -> set[str]:
    """The other harness units this file imports, at any level of the file (functions included)."""
    units: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        modules: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [f"harness.{alias.name}" for alias in node.names] if node.module == "harness" else [node.module]
        elif isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        units.update(module.split(".")[1] for module in modules if module.startswith("harness."))
    return units


def dependency_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in harness_modules():
        unit = unit_of(path)
        if unit is not None:
            graph.setdefault(unit, set()).update(imported_units(path) - {unit})
    return graph


def cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Every elementary cycle's set of members, as a sorted tuple (small graph: plain DFS)."""
    found: set[tuple[str, ...]] = set()

    def walk(start: str, node: str, path: list[str]) -> None:
        for successor in graph.get(node, set()):
            if successor == start:
                found.add(tuple(sorted(path)))
            elif successor not in path and successor > start:  # each cycle once, from its least member
                walk(start, successor, [*path, successor])

    for start in graph:
        walk(start, start, [start])
    return found


def test_every_subpackage_says_what_it_is() -> None:
    packages = sorted(path for path in HARNESS.rglob("__init__.py") if "__pycache__" not in path.parts)
    assert len(packages) > 5, packages
    undocumented = [relative(p) for p in packages if not ast.get_docstring(ast.parse(p.read_text(encoding="utf-8")))]
    assert undocumented == []


def test_no_module_is_longer_than_the_limit() -> None:
    lengths = {relative(path): len(path.read_text(encoding="utf-8").splitlines()) for path in harness_modules()}
    too_long = {name: count for name, count in lengths.items() if count > MAX_LINES}
    assert set(too_long) - TOO_LONG_ALLOWED == set(), f"modules over {MAX_LINES} lines: {too_long}"
    no_longer_needed = TOO_LONG_ALLOWED - set(too_long)
    assert no_longer_needed == set(), f"remove from TOO_LONG_ALLOWED, now short enough: {sorted(no_longer_needed)}"


def test_the_subpackages_import_each_other_without_cycles() -> None:
    graph = dependency_graph()
    assert {"plugin", "servers", "state", "recording"} <= set(graph), sorted(graph)
    found = cycles(graph)
    assert found - CYCLES_ALLOWED == set(), f"import cycles between harness subpackages: {sorted(found)}"
    assert CYCLES_ALLOWED - found == set(), f"remove from CYCLES_ALLOWED, the cycle is gone: {CYCLES_ALLOWED - found}"


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, set()),
        ({"a": {"b"}, "b": {"a"}}, {("a", "b")}),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, {("a", "b", "c")}),
    ],
)
def test_the_cycle_finder_finds_cycles(graph: dict[str, set[str]], expected: set[tuple[str, ...]]) -> None:
    assert cycles(graph) == expected
