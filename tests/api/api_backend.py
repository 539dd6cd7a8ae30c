"""The drafts API served by a real uvicorn on loopback, with the handles a test needs to drive it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis as AsyncRedis

from drafts_api.app import create_app
from drafts_api.protocol import GenerateAccepted, generate_path
from drafts_api.runner import TaskRunner
from drafts_api.settings import Settings
from drafts_api.tasks import TaskStore
from harness.scripting import ScriptedGenerator, ScriptedRun
from harness.servers import LiveServer

from .event_stream import EventStream
from .instrumented_redis import InstrumentedRedis, PollCounter, task_key
from .redis_under_test import RedisUnderTest

DEFAULT_CAMPAIGN: Final = "spring-launch"
PAGE_ORIGIN: Final = "http://127.0.0.1:3000"
PREVIEW_ORIGIN_REGEX: Final = r"^http://preview-\d+\.drafts\.test$"
EVENT_STREAM: Final = "text/event-stream"

# Every field the tests depend on is given explicitly: DRAFTS_* variables in the environment (a CI
# job's, a developer's shell) must not change what the API tests see.
FAST_SETTINGS: Final[dict[str, Any]] = {
    "poll_interval": 0.02,
    "heartbeat_polls": 10,
    "retry_ms": 3000,
    "task_ttl": 600,
    "cors_origins": [PAGE_ORIGIN],
    "cors_origin_regex": PREVIEW_ORIGIN_REGEX,
}

# Connect/read bounds: a backend that stops sending must fail the test, never hang it. Heartbeats
# in the tests come far more often than the read timeout.
CLIENT_TIMEOUT: Final = httpx.Timeout(3.0, connect=2.0)


def generate_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "topic": "Spring launch of the mobile app",
        "audience": "Existing customers",
        "tone": "friendly",
        "length": "short",
        "key_points": ["offline mode", "dark theme"],
    }
    return body | overrides


@dataclass
class ApiBackend:
    app: FastAPI
    server: LiveServer
    client: httpx.Client
    settings: Settings
    generator: ScriptedGenerator
    polls: PollCounter
    redis: RedisUnderTest
    loops: list[asyncio.AbstractEventLoop]

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The server's event loop (of its latest start), e.g. to run a probe coroutine on it."""
        return self.loops[-1]

    @property
    def store(self) -> TaskStore:
        """The app's own store (exists while the server runs), e.g. for a `HeldRunner`."""
        store: TaskStore = self.app.state.store
        return store

    def task_key(self, task_id: str) -> str:
        return task_key(self.settings.key_prefix, task_id)

    def generate(self, campaign_id: str = DEFAULT_CAMPAIGN, **body_overrides: Any) -> GenerateAccepted:
        response = self.client.post(generate_path(campaign_id), json=generate_body(**body_overrides))
        assert response.status_code == 202, f"POST generate: {response.status_code} {response.text}"
        return GenerateAccepted.model_validate(response.json())

    def start_generation(
        self, campaign_id: str = DEFAULT_CAMPAIGN, **body_overrides: Any
    ) -> tuple[GenerateAccepted, ScriptedRun]:
        """POST a generation and take hold of its run; returns once the task is STARTED in Redis.

        Open the stream only after this: a stream opened between the POST and the runner's first
        write would legitimately begin with `pending`, and which one comes first would be a race.
        """
        accepted = self.generate(campaign_id, **body_overrides)
        return accepted, self.generator.next_run()

    @contextlib.contextmanager
    def stream(self, path: str, *, headers: dict[str, str] | None = None) -> Iterator[EventStream]:
        """An open event stream; leaving the block closes the connection (the client disconnects)."""
        with self.client.stream("GET", path, headers=headers) as response:
            content_type = response.headers.get("content-type", "")
            if response.status_code != 200 or not content_type.startswith(EVENT_STREAM):
                raise AssertionError(
                    f"GET {path}: {response.status_code} {content_type!r}, not an event stream: {_peek(response)}"
                )
            yield EventStream(response)

    def get_refusal(self, path: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
        """GET a URL that must refuse with a JSON error instead of streaming; fails clearly if it streams."""
        with self.client.stream("GET", path, headers=headers) as response:
            content_type = response.headers.get("content-type", "")
            assert content_type == "application/json", (
                f"GET {path}: {response.status_code} {content_type!r} instead of a JSON refusal: {_peek(response)}"
            )
            response.read()
        return response

    def live_streams(self) -> int:
        response = self.client.get("/health")
        assert response.status_code == 200, f"/health: {response.status_code} {response.text}"
        return int(response.json()["live_streams"])

    def wait_for_live_streams(self, expected: int, within: float) -> None:
        """A bounded condition loop on /health (each check is one quick request)."""
        deadline = time.monotonic() + within
        while (current := self.live_streams()) != expected:
            assert time.monotonic() < deadline, f"/health live_streams is {current}, not {expected}, after {within} s"
            time.sleep(0.005)  # a pause between checks, not a wait for the condition

    def close(self) -> None:
        self.client.close()
        self.server.stop()


BackendFactory = Callable[..., ApiBackend]
"""`make_backend(**settings_overrides, runner=..., draft_write_delay=..., app_parts={...})`, the fixture's factory."""


def _peek(response: httpx.Response) -> str:
    """The first chunk of a body, for a failure message: reading all of it might never end (a stream)."""
    try:
        first = next(response.iter_bytes(), b"")
    except httpx.HTTPError as exc:
        return f"<unreadable: {exc!r}>"
    return first[:500].decode(errors="replace")


def start_backend(
    redis_under_test: RedisUnderTest,
    settings: Settings,
    *,
    runner: TaskRunner | None = None,
    draft_write_delay: float = 0.0,
    **app_parts: Any,
) -> ApiBackend:
    """`app_parts` go to `create_app` as they are (`handlers=`, `event_source=`, `store_factory=`)."""
    generator = ScriptedGenerator()
    polls = PollCounter()
    loops: list[asyncio.AbstractEventLoop] = []

    def redis_factory() -> AsyncRedis:
        loops.append(asyncio.get_running_loop())  # called by the lifespan, on the server's loop
        inner = redis_under_test.async_client()
        wrapped = InstrumentedRedis(
            inner, key_prefix=settings.key_prefix, polls=polls, draft_write_delay=draft_write_delay
        )
        return cast(AsyncRedis, wrapped)

    app = create_app(settings, generator=generator, redis_factory=redis_factory, runner=runner, **app_parts)
    server = LiveServer(app, timeout_graceful_shutdown=1.0).start()
    client = httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT)
    return ApiBackend(app, server, client, settings, generator, polls, redis_under_test, loops)
