"""Registers the gate's pytest plugin for this repository, also when it is not pip-installed.

Installed (`pip install -e .`), the `pytest11` entry point named `harness.plugin` registers it first
and this line is a no-op: pytest skips a plugin name that is already registered.
"""

import json
import os

import pytest

pytest_plugins = ["harness.plugin", "pytester"]

# A test this long (or longer) starts before the rest. Under it, collection order is kept, so that
# module-scoped fixtures (a backend per module) are set up once.
STARTS_FIRST_S = 2.0


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "first_pass_durations",
        "per-test seconds (pytest-split's format) by which the long tests start first; empty: collection order",
        default="",
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long tests first, longest first: a few tests take 10-40 s each (the wheel, Schemathesis,
    pytester runs of a second app), and pytest-xdist hands tests out in collection order, so one
    collected late kept a worker busy alone for its whole length at the end (a first pass of 108 s at
    -n 4, where the work spread evenly fits in ~85 s). Our addopts' `--maxschedchunk=1` makes xdist
    hand them out one at a time (its default gives the first worker a quarter of its share at once:
    every long test). pytest-xdist has no slowest-first option (pytest-dev/pytest-xdist#657)."""
    setting = str(config.getini("first_pass_durations"))
    if not setting:
        return
    try:
        durations: dict[str, float] = json.loads((config.rootpath / setting).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return  # no file or a broken one: only the order is lost
    long = [item for item in items if durations.get(item.nodeid, 0.0) >= STARTS_FIRST_S]
    if long:
        first = set(long)
        long.sort(key=lambda item: -durations[item.nodeid])
        items[:] = long + [item for item in items if item not in first]


def plugins_turned_off(config: pytest.Config) -> str:
    """The `-p no:NAME` pairs of our addopts (pyproject.toml), as one PYTEST_ADDOPTS value."""
    words: list[str] = config.getini("addopts")
    pairs = zip(words, words[1:], strict=False)  # each word with the next one
    return " ".join(f"-p {name}" for flag, name in pairs if flag == "-p" and name.startswith("no:"))


@pytest.fixture
def child_sessions_skip_our_plugins(pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """pytest sessions this test starts turn off the plugins our addopts turns off (hypothesis's and
    schemathesis's: 1.4 CPU-s each, used by no test): a session with a rootdir of its own (a
    throwaway project, pytester's folder) does not read our addopts, but inherits PYTEST_ADDOPTS."""
    monkeypatch.setenv("PYTEST_ADDOPTS", plugins_turned_off(pytestconfig))


@pytest.fixture
def pytester(
    pytester: pytest.Pytester, pytestconfig: pytest.Config, monkeypatch: pytest.MonkeyPatch
) -> pytest.Pytester:
    """pytester, whose sessions skip our addopts' plugins too: pytester clears PYTEST_ADDOPTS when it
    starts, so it is set again after (see `child_sessions_skip_our_plugins`).

    Its sessions get no SSE_GATE_* variable of ours either: `make test` exports SSE_GATE_REDIS_URL for
    tests/api's real-Redis runs, and a child session would read it as its own `--redis-url` (the
    wheel test's user environment drops them for the same reason). A test that wants one sets it."""
    monkeypatch.setenv("PYTEST_ADDOPTS", plugins_turned_off(pytestconfig))
    for name in [name for name in os.environ if name.startswith("SSE_GATE_")]:
        monkeypatch.delenv(name)
    return pytester
