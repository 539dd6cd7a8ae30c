"""Times the happy-path scenario run through the harness; loaded only by the benchmark's pytest batches.

`--bench-iterations N` parametrizes the scenario N times; `--bench-record FILE` receives a
`bench.records.BatchRecord`: each test's wall time (setup + call + teardown, pytest's own hooks
included), its phases and fixture set-up times, when the session's parts became ready, this
process's peak RSS and the browser's memory (taken in the last teardown, before the browser closes).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from bench.machine import TreeMemory, browser_memory_below, own_peak_rss_mb
from bench.records import BatchRecord, IterationTiming
from e2e.conftest import editor, editor_url, new_draft  # noqa: F401  (the same fixtures as the e2e suite's)

_PLUGIN_NAME = "bench-recorder"
# Session fixtures whose readiness defines "start-up done", by the name the record reports them under.
_READY_FIXTURES = {"gate_live_frontend": "frontend", "gate_live_backend": "backend", "browser": "browser"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--bench-iterations", type=int, default=5, help="run the scenario this many times")
    parser.addoption("--bench-record", type=Path, default=None, help="write the timings here (JSON)")
    parser.addoption(
        "--bench-fresh-context",
        action="store_true",
        help="give every test a fresh browser context (gate_fresh_context), as pytest-playwright would",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("bench_fresh_context"):
        for item in items:
            item.add_marker(pytest.mark.gate_fresh_context)


def pytest_configure(config: pytest.Config) -> None:
    record_path = config.getoption("bench_record")
    if record_path is not None:
        config.pluginmanager.register(BenchRecorder(record_path), _PLUGIN_NAME)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "iteration" in metafunc.fixturenames:
        metafunc.parametrize("iteration", range(metafunc.config.getoption("bench_iterations")))


class BenchRecorder:
    """Hook implementations that time each test; one instance per session (no module-level state)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ready_at: dict[str, float] = {"pytest_configured": time.time()}
        self.first_flow_at: float | None = None
        self.iterations: list[IterationTiming] = []
        self.browser: TreeMemory | None = None
        self._phases: dict[str, float] = {}
        self._fixtures: dict[str, float] = {}

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.ready_at["pytest_collected"] = time.time()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        self._phases, self._fixtures = {}, {}
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            wall = time.perf_counter() - start
            self.iterations.append(IterationTiming(wall_s=wall, phases=self._phases, fixtures=self._fixtures))

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
    ) -> Generator[None, Any, Any]:
        start = time.perf_counter()
        try:
            return (yield)
        finally:
            name = fixturedef.argname
            self._fixtures[name] = self._fixtures.get(name, 0.0) + time.perf_counter() - start
            if name in _READY_FIXTURES:
                self.ready_at.setdefault(_READY_FIXTURES[name], time.time())

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        if self.first_flow_at is None:
            self.first_flow_at = time.time()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, Any, Any]:
        if nextitem is None:  # the session's fixtures (the browser among them) close in this teardown
            self.browser = browser_memory_below(os.getpid())
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self._phases[report.when] = report.duration

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.first_flow_at is None or self.browser is None:
            return  # nothing ran: pytest's own exit status tells run.py what went wrong
        BatchRecord(
            kind="harness",
            ready_at=self.ready_at,
            first_flow_at=self.first_flow_at,
            iterations=self.iterations,
            peak_rss_mb=own_peak_rss_mb(),
            browser=self.browser,
        ).write(self.path)
