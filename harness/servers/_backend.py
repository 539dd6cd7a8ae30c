"""Which backend the gate runs against, and how the harness plugs its parts into it.

Three ways, by option:
- default: `drafts_api.create_app`, with the harness's scripted generator, Redis and worker;
- `--backend-app MODULE:ATTR`: another ASGI app, or an app factory. A factory gets, by keyword, those
  of `settings`, `generator`, `redis_factory`, `runner` it declares (all of them with `**parts`), so any
  app of the same shape can be scripted by accepting a `generator`; apps that build their own Redis
  client from a URL get fakeredis through `redis.from_url` being patched while they are imported and built;
- `--backend-url URL`: a backend that is already running (staging); nothing can be scripted then.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis
import redis.asyncio

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness.scripting import ScriptedGenerator
from harness.servers._live_server import LiveServer
from harness.servers._worker import WorkerThread
from harness.state import FakeRedisProvider, RedisProvider

_HEALTH_TIMEOUT_S = 2.0


class BackendSpecError(ValueError):
    """`--backend-app` does not name something the harness can run."""


@dataclass(frozen=True)
class BackendParts:
    """What the harness offers a backend factory."""

    settings: Settings
    generator: ScriptedGenerator
    redis_factory: Any
    runner: WorkerThread


@dataclass(frozen=True)
class LoadedApp:
    app: Any
    description: str
    scriptable: bool


def build_default_app(parts: BackendParts) -> LoadedApp:
    app = create_app(parts.settings, generator=parts.generator, redis_factory=parts.redis_factory, runner=parts.runner)
    return LoadedApp(app, "drafts_api.app:create_app", scriptable=True)


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
        return LoadedApp(target, spec, scriptable=False)
    offered = {
        "settings": parts.settings,
        "generator": parts.generator,
        "redis_factory": parts.redis_factory,
        "runner": parts.runner,
    }
    parameters = inspect.signature(target).parameters
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    kwargs = {name: value for name, value in offered.items() if takes_all or name in parameters}
    app = target(**kwargs)
    return LoadedApp(app, spec, scriptable="generator" in kwargs)


@contextlib.contextmanager
def fakeredis_from_url(provider: RedisProvider) -> Iterator[None]:
    """While active, `redis.from_url`/`redis.asyncio.from_url` (and `Redis.from_url`) give fakeredis clients.

    The harness keeps it active while a `--backend-app` is imported, built and started, not longer.

    For apps that build their Redis client from a URL themselves. Only with the fakeredis provider:
    with `--redis-url` the app should be given that URL instead.
    """
    if not isinstance(provider, FakeRedisProvider):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.asyncio, "from_url", lambda *args, **kwargs: provider.async_client())
        patch.setattr(redis.asyncio.Redis, "from_url", classmethod(lambda cls, *a, **k: provider.async_client()))
        patch.setattr(redis, "from_url", lambda *args, **kwargs: provider.sync_client())
        patch.setattr(redis.Redis, "from_url", classmethod(lambda cls, *a, **k: provider.sync_client()))
        yield


class LiveBackend:
    """The backend under test as the browser sees it: a URL, plus control where the harness runs it."""

    def __init__(
        self, url: str, description: str, *, server: LiveServer | None = None, scriptable: bool = False
    ) -> None:
        self._url = url
        self.description = description
        self.server = server
        self.scriptable = scriptable

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

    def health(self) -> dict[str, Any]:
        response = httpx.get(f"{self.url}/health", timeout=_HEALTH_TIMEOUT_S)
        response.raise_for_status()
        payload: dict[str, Any] = response.json()
        return payload

    def live_streams(self) -> int:
        """Open progress streams, from `/health` (`live_streams`); fails clearly if not reported."""
        payload = self.health()
        if "live_streams" not in payload:
            raise AssertionError(f"{self.url}/health does not report live_streams: {payload!r}")
        return int(payload["live_streams"])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
