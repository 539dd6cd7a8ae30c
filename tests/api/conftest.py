"""Fixtures of the API tests: a live drafts API on fakeredis and, when reachable, on a real Redis.

`backend` is one server per test module and Redis kind, reset after every test (starting and
stopping uvicorn costs ~0.3 s, which would dominate the run); `make_backend` starts a private one
with other settings. Either way every test gets a fresh generator state and a clean stream count.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from drafts_api.runner import TaskRunner
from drafts_api.settings import Settings
from harness.scripting import ScriptedGenerationError

from .api_backend import FAST_SETTINGS, ApiBackend, BackendFactory, start_backend
from .redis_under_test import (
    DEFAULT_REAL_REDIS_URL,
    FakeRedisUnderTest,
    RealRedisUnderTest,
    RedisUnderTest,
    check_reachable,
)

# How long a test's streams may take to be released on the server after the test closed them.
RELEASE_WITHIN_S = 2.0


@pytest.fixture(scope="session")
def real_redis_url(pytestconfig: pytest.Config) -> str:
    """The real Redis of the `redis` runs: --redis-url, else $SSE_GATE_REDIS_URL, else the local default.

    Session-scoped: pytest remembers the skip, so an absent server costs one 0.5 s ping per worker.
    """
    url = (
        pytestconfig.getoption("redis_url", default=None)
        or os.environ.get("SSE_GATE_REDIS_URL")
        or DEFAULT_REAL_REDIS_URL
    )
    problem = check_reachable(str(url))
    if problem is not None:
        pytest.skip(problem)
    return str(url)


@pytest.fixture(scope="module", params=["fakeredis", pytest.param("redis", marks=pytest.mark.real_redis)])
def redis_under_test(request: pytest.FixtureRequest) -> RedisUnderTest:
    if request.param == "fakeredis":
        return FakeRedisUnderTest()
    return RealRedisUnderTest(request.getfixturevalue("real_redis_url"))


def _settings(key_prefix: str, overrides: dict[str, Any]) -> Settings:
    return Settings(**(FAST_SETTINGS | overrides | {"key_prefix": key_prefix}))


def _new_prefix() -> str:
    return f"api-test:{uuid.uuid4().hex}:"


@pytest.fixture(scope="module")
def shared_backend(redis_under_test: RedisUnderTest) -> Iterator[ApiBackend]:
    key_prefix = _new_prefix()
    backend = start_backend(redis_under_test, _settings(key_prefix, {}))
    try:
        yield backend
    finally:
        backend.close()
        redis_under_test.delete_prefix(key_prefix)


def _end_test(backend: ApiBackend) -> None:
    """Leave the backend as a new test expects it: Redis up, no held generation, no open stream."""
    backend.redis.heal()
    for run in backend.generator.runs:
        if not run.finished:
            # It may end by itself meanwhile; either way it no longer holds anything afterwards.
            with contextlib.suppress(ScriptedGenerationError):
                run.crash("the test ended", timeout=RELEASE_WITHIN_S)
    backend.generator.reset()
    backend.wait_for_live_streams(0, within=RELEASE_WITHIN_S)


@pytest.fixture
def backend(shared_backend: ApiBackend) -> Iterator[ApiBackend]:
    """The module's drafts API with `FAST_SETTINGS`; a stream left open by the test fails its teardown."""
    try:
        yield shared_backend
    finally:
        _end_test(shared_backend)


@pytest.fixture
def make_backend(redis_under_test: RedisUnderTest) -> Iterator[BackendFactory]:
    """Starts private drafts APIs: `make_backend(poll_interval=0.2, runner=..., app_parts={"handlers": ...})`."""
    key_prefix = _new_prefix()
    backends: list[ApiBackend] = []

    def make(
        *,
        runner: TaskRunner | None = None,
        draft_write_delay: float = 0.0,
        app_parts: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> ApiBackend:
        settings = _settings(key_prefix, overrides)
        backend = start_backend(
            redis_under_test, settings, runner=runner, draft_write_delay=draft_write_delay, **(app_parts or {})
        )
        backends.append(backend)
        return backend

    try:
        yield make
    finally:
        redis_under_test.heal()
        for backend in backends:
            backend.close()
        redis_under_test.delete_prefix(key_prefix)
