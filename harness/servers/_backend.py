"""Which backend the gate runs against, and how the harness plugs its parts into it.

Three ways, by option:
- default: `drafts_api.create_app`, with the harness's scripted generator, Redis and worker;
- `--backend-app MODULE:ATTR`: another ASGI app, or an app factory. A factory gets, by keyword, those
  of the `BackendParts` fields it declares (all of them with `**parts`). An app that accepts the
  `generator` is scripted through it; an app with its own worker is scripted by its task state when
  its contract declares one and it hands `held_generation` to its generation service (a dependency
  override); apps that build their own Redis client get `redis_url`, which reaches the worker's
  fakeredis (or real Redis) however the client is built (see `harness.state.route_fake_url`);
- `--backend-url URL`: a backend that is already running (staging); nothing can be scripted then.
"""

from __future__ import annotations

import importlib
import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness.contract import AppContract
from harness.recording import WireLog
from harness.scripting import ScriptedGenerator, TaskStateScripter
from harness.servers._live_server import LiveServer
from harness.servers._worker import WorkerThread


class BackendSpecError(ValueError):
    """`--backend-app` does not name something the harness can run."""


class ResetHooks:
    """Callables run before every test (after Redis is flushed): an app's other state (an in-memory
    store, a fake database) is reset by registering one with `parts.on_reset(fn)`."""

    def __init__(self) -> None:
        self._hooks: list[Callable[[], object]] = []
        self._lock = threading.Lock()

    def __call__(self, hook: Callable[[], object]) -> Callable[[], object]:
        with self._lock:
            self._hooks.append(hook)
        return hook

    def run(self) -> None:
        with self._lock:
            hooks = list(self._hooks)
        for hook in hooks:
            hook()


@dataclass(frozen=True)
class BackendParts:
    """What the harness offers a backend factory; it gets, by keyword, those it declares.

    - `settings`: drafts_api's settings with the gate's test timings and CORS for the page's origin;
    - `cors_origins`: the page's origin(s), for an app's own CORS settings;
    - `generator`: the scripted generator (drafts_api's `DraftGenerator` seam);
    - `redis_factory` / `async_redis_factory`: a new asyncio client of the worker's Redis;
      `sync_redis_factory`: a synchronous one; `redis_url`: its URL, for apps that build their own
      client (`redis.from_url`, a pool, at import, start-up or on the first request);
    - `runner`: a generation worker outliving the app (drafts_api's `TaskRunner`);
    - `held_generation`: the task-state scripter (`TaskStateScripter.hold`/`ahold` stand in for the
      app's generation service), present when the contract declares its task state;
    - `on_reset`: register a callable run before every test (other app state);
    - `contract`: the app's contract.
    """

    settings: Settings
    generator: ScriptedGenerator
    redis_factory: Callable[[], AsyncRedis]
    runner: WorkerThread
    sync_redis_factory: Callable[[], redis.Redis]
    redis_url: str
    contract: AppContract
    cors_origins: tuple[str, ...] = ()
    held_generation: TaskStateScripter | None = None
    on_reset: ResetHooks = field(default_factory=ResetHooks)

    @property
    def async_redis_factory(self) -> Callable[[], AsyncRedis]:
        return self.redis_factory

    def offered(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["async_redis_factory"] = self.redis_factory
        return values


Scripting = Literal["generator", "task_state", "none"]


@dataclass(frozen=True)
class LoadedApp:
    app: Any
    description: str
    scripting: Scripting

    @property
    def scriptable(self) -> bool:
        return self.scripting != "none"


def build_default_app(parts: BackendParts) -> LoadedApp:
    app = create_app(parts.settings, generator=parts.generator, redis_factory=parts.redis_factory, runner=parts.runner)
    return LoadedApp(app, "drafts_api.app:create_app", scripting="generator")


def load_backend_app(spec: str, parts: BackendParts) -> LoadedApp:
    """Import `MODULE:ATTR`; call it if it is a factory (a plain function), with the parts it declares."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise BackendSpecError(f"--backend-app wants MODULE:ATTR, got {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise BackendSpecError(f"--backend-app {spec!r}: cannot import {module_name!r}: {exc}") from exc
    try:
        target = getattr(module, attr)
    except AttributeError:
        raise BackendSpecError(f"--backend-app {spec!r}: module {module_name!r} has no {attr!r}") from None
    if not inspect.isfunction(target):
        if not callable(target):
            raise BackendSpecError(f"--backend-app {spec!r} is neither an ASGI app nor a factory: {target!r}")
        return LoadedApp(target, spec, scripting="none")
    offered = parts.offered()
    parameters = inspect.signature(target).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {name: value for name, value in offered.items() if takes_all or name in parameters}
    app = target(**kwargs)
    scripting: Scripting = "none"
    if "generator" in kwargs and not takes_all:
        scripting = "generator"
    elif "held_generation" in kwargs and parts.held_generation is not None:
        scripting = "task_state"
    elif "generator" in kwargs:
        scripting = "generator"
    return LoadedApp(app, spec, scripting=scripting)


class LiveBackend:
    """The backend under test as the browser sees it: a URL, plus control where the harness runs it."""

    def __init__(
        self,
        url: str,
        description: str,
        *,
        server: LiveServer | None = None,
        scripting: Scripting = "none",
        wire_log: WireLog | None = None,
        on_reset: ResetHooks | None = None,
    ) -> None:
        self._url = url
        self.description = description
        self.server = server
        self.scripting = scripting
        self.wire_log = wire_log
        self.on_reset = on_reset or ResetHooks()
        self._mark = 0

    def begin_test(self) -> None:
        """Count live streams from here on (a previous test's stream may still be winding down)."""
        if self.wire_log is not None:
            self._mark = self.wire_log.mark()

    @property
    def scriptable(self) -> bool:
        return self.scripting != "none"

    @property
    def url(self) -> str:
        return self.server.url if self.server is not None else self._url

    @property
    def is_local(self) -> bool:
        return self.server is not None

    def restart(self) -> None:
        """Stop the server with its streams open and serve again on the same port (a deploy)."""
        if self.server is None:
            pytest.skip(f"cannot restart a backend the harness does not run ({self.url})")
        self.server.restart()

    def live_streams(self) -> int:
        """Stream responses still open, as the gate's wire recorder saw them: nothing is asked of the
        app (it needs no `/health` that counts streams). A stream is open until the app ends its
        response; a client that went away does not close it, the app noticing it does."""
        if self.wire_log is None:
            pytest.skip(f"stream liveness is measured on a backend the harness runs, not {self.description}")
        return self.wire_log.running_streams(self._mark)

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
