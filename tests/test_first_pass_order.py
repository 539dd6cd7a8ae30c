"""`make test`'s first pass starts its long tests first (the root conftest, by tests/.test_durations).

pytest-xdist hands tests out in collection order, so a 30 s test collected late kept one worker busy
alone at the end of the pass. The order is checked as pytest collects it, in a subprocess.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from tests.test_shards import collected

REPO = Path(__file__).resolve().parent.parent
DURATIONS = REPO / "tests" / ".test_durations"  # pyproject.toml's first_pass_durations
STARTS_FIRST_S = 2.0  # the root conftest's STARTS_FIRST_S


def first_pass_selection() -> list[str]:
    """The Makefile's FIRST_PASS_SELECTION, as arguments."""
    for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith("FIRST_PASS_SELECTION = "):
            return shlex.split(line.split("=", 1)[1])
    raise AssertionError("the Makefile has no FIRST_PASS_SELECTION")


def test_the_long_tests_come_first_longest_first_and_the_others_keep_their_order() -> None:
    """Fails if: the long tests are not at the front in falling duration (the hook does nothing, or
    reads another file), or the others are reordered too (a module's tests scattered, so its
    module-scoped backend would start once per scattered run)."""
    durations: dict[str, float] = json.loads(DURATIONS.read_text(encoding="utf-8"))
    order = collected(*first_pass_selection(), "--browser", "chromium")
    as_collected = collected(*first_pass_selection(), "--browser", "chromium", "-o", "first_pass_durations=")
    long = [test for test in as_collected if durations.get(test, 0.0) >= STARTS_FIRST_S]

    assert len(long) >= 5, f"only {len(long)} tests of {DURATIONS.name} take {STARTS_FIRST_S} s: {long}"
    assert order[: len(long)] == sorted(long, key=lambda test: -durations[test]), order[: len(long) + 3]
    assert order[len(long) :] == [test for test in as_collected if test not in long], "the others were reordered"


def test_the_durations_file_times_the_current_first_pass() -> None:
    """Fails if: tests/.test_durations went stale (`make durations` re-times it, the weekly workflow too)."""
    durations: dict[str, float] = json.loads(DURATIONS.read_text(encoding="utf-8"))
    order = collected(*first_pass_selection(), "--browser", "chromium")
    timed = [test for test in order if test in durations]
    assert len(timed) >= 0.8 * len(order), f"{len(timed)} of {len(order)} tests timed: run `make durations`"


def test_the_first_pass_leaves_exactly_the_quick_scenarios_to_the_mutant_checks_control() -> None:
    """Fails if: pass 1 runs a quick e2e scenario again (e2e/conftest.py's `scenario` mark missing) or
    leaves out an e2e test that the control (`e2e -m 'not slow'`, e2e/mutants/__main__.py) does not run."""
    first_pass = set(collected(*first_pass_selection(), "--browser", "chromium"))
    control = set(collected("e2e", "-m", "not slow", "--browser", "chromium"))
    every_e2e_test = set(collected("e2e", "--browser", "chromium"))

    assert control and not first_pass & control, sorted(first_pass & control)[:5]
    assert every_e2e_test <= first_pass | control, sorted(every_e2e_test - first_pass - control)
