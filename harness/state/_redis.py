"""The Redis a test session runs on: one fakeredis server per worker, or a real Redis, isolated per worker."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from harness.redaction import redact_url

# Real Redis has 16 numbered databases; db 0 is left to whoever else uses the server.
_FIRST_WORKER_DB = 1
_MAX_DB = 15


class RedisUnavailable(RuntimeError):
    pass


class RedisProvider(Protocol):
    description: str

    def async_client(self) -> AsyncRedis:
        """A new asyncio client; call it on the event loop that will use it."""
        ...

    def sync_client(self) -> redis.Redis: ...

    def flush(self) -> None: ...

    def outage(self) -> contextlib.AbstractContextManager[None]: ...

    def close(self) -> None: ...


class FakeRedisProvider:
    """All clients share one `fakeredis.FakeServer`; an outage flips the server's `connected` flag."""

    description = "fakeredis (in-process)"

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()

    def async_client(self) -> AsyncRedis:
        return fakeredis.FakeAsyncRedis(server=self.server)

    def sync_client(self) -> redis.Redis:
        return fakeredis.FakeRedis(server=self.server)

    def flush(self) -> None:
        self.sync_client().flushall()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        # The server-wide flag, not a client's `connected=`: every client of the backend must fail.
        self.server.connected = False
        try:
            yield
        finally:
            self.server.connected = True

    def close(self) -> None:
        pass


class RealRedisProvider:
    """A real Redis server; each pytest-xdist worker gets its own numbered database, flushed per test."""

    def __init__(self, url: str, worker_index: int) -> None:
        db = _FIRST_WORKER_DB + worker_index
        if db > _MAX_DB:
            raise RedisUnavailable(f"worker #{worker_index} needs Redis db {db}; only 0-{_MAX_DB} exist")
        parts = urlsplit(url)
        self.url = urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))
        self.description = f"redis at {redact_url(self.url)}"
        self._sync = redis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)
        try:
            self._sync.ping()
        except redis.RedisError as exc:
            raise RedisUnavailable(f"--redis-url {redact_url(url)!r} does not answer: {exc}") from exc

    def async_client(self) -> AsyncRedis:
        return AsyncRedis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def sync_client(self) -> redis.Redis:
        return self._sync

    def flush(self) -> None:
        self._sync.flushdb()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        pytest.skip("a Redis outage is simulated with fakeredis only; this run uses a real Redis server")
        yield  # pragma: no cover

    def close(self) -> None:
        self._sync.close()


def make_provider(redis_url: str | None, worker_index: int) -> RedisProvider:
    return RealRedisProvider(redis_url, worker_index) if redis_url else FakeRedisProvider()


AsyncClientFactory = Callable[[], AsyncRedis]
