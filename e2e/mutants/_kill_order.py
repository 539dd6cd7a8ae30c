"""The test that killed each mutant last time runs first in that mutant's group.

A mutant is fail-fast: its first failing test ends its group. `plugin.KILLERS` orders the tests by
how many mutants they kill in general, but a mutant that only a late scenario kills (an origin the
API must refuse, a stream that never ends) first passes through thirty scenarios: measured on
2 cores, the reference catalogue spent 386 of its 971 test-seconds in tests that passed before the
kill. Like Stryker's incremental mode or pytest's `--failed-first`, the last known killer of each
mutant, committed in `kill_order.json` per app, goes first. It only orders: a stale entry (a renamed
test, a mutant the killer no longer kills) costs time, never a verdict, since the rest of the
group still runs until a test fails.

Refresh it with `make mutants MUTANTS_ARGS=--write-kill-order` (and the same with `--app ...`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

KILL_ORDER_FILE = Path(__file__).with_name("kill_order.json")


def function_of(test: str) -> str:
    """`test_x` from `test_x[chromium-wire_drop]` (a kill is remembered per scenario, not per parameter)."""
    return test.partition("[")[0]


def load(path: Path, app: str) -> Mapping[str, str]:
    """mutant -> the scenario that killed it, for `app`; empty when the file or the app is absent."""
    if not path.is_file():
        return MappingProxyType({})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ValueError(f"{path}: not JSON ({error}); rewrite it with --write-kill-order") from error
    section = data.get(app, {}) if isinstance(data, dict) else None
    if not isinstance(section, dict) or not all(isinstance(v, str) for v in section.values()):
        raise ValueError(f"{path}: {app!r} must map mutant names to test names, got {section!r}")
    return MappingProxyType(section)


def write(path: Path, app: str, results: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Replace `app`'s section with this run's kills (`results.json` rows); other apps are kept."""
    kills = {
        str(r["name"]): function_of(str(r["failed"][0]))
        for r in results
        if r.get("side") not in ("control", "equivalent") and r.get("failed")
    }
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[app] = dict(sorted(kills.items()))
    path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n", encoding="utf-8")
    return kills
