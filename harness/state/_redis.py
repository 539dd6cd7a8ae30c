"""The Redis a test session runs on: one fakeredis server per worker, or a real Redis, isolated per worker."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from harness.redaction import redact_url

# Real Redis has 16 numbered databases; db 0 is left to whoever else uses the server (and holds the leases).
_FIRST_WORKER_DB = 1
_MAX_DB = 15
_LEASE_KEY = "sse-gate:db-lease:{db}"
# Renewed at every test's flush; a session that died without releasing its database frees it after this.
_LEASE_TTL_S = 900


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
    """A real Redis server; each pytest-xdist worker gets a numbered database of its own, flushed per test.

    Of its own across sessions too: a database is leased (a key in db 0, `SET NX` with a TTL renewed
    at every flush) before it is used, so two sessions on one server (two worktrees, a second
    `make test`, a developer's shell beside CI) never flush each other's tasks and drafts. Without
    the lease the second session's gw0 took db 1 as well, and its per-test FLUSHDB deleted the first
    one's task between the POST's 202 and the worker's first write: the worker found no task, so "no
    generation started within 10 s", or a `success` pointed to a draft that was gone.
    """

    def __init__(self, url: str, worker_index: int) -> None:
        parts = urlsplit(url)

        def at(db: int) -> str:
            return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))

        self._leases = redis.Redis.from_url(at(0), socket_timeout=2.0, socket_connect_timeout=2.0)
        self._token = f"{os.getpid()}:{uuid.uuid4().hex}"
        try:
            self._db = self._claim(worker_index)
        except redis.RedisError as exc:
            raise RedisUnavailable(f"--redis-url {redact_url(url)!r} does not answer: {exc}") from exc
        self.url = at(self._db)
        self.description = f"redis at {redact_url(self.url)}"
        self._sync = redis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def _claim(self, worker_index: int) -> int:
        """The first free database from this worker's own (1 + index) on, leased to this session."""
        preferred = _FIRST_WORKER_DB + worker_index
        candidates: list[int] = [*range(preferred, _MAX_DB + 1), *range(_FIRST_WORKER_DB, preferred)]
        for db in candidates:
            if self._leases.set(_LEASE_KEY.format(db=db), self._token, nx=True, ex=_LEASE_TTL_S):
                return db
        raise RedisUnavailable(
            f"every Redis database {_FIRST_WORKER_DB}-{_MAX_DB} is leased by another test session"
            f" (keys {_LEASE_KEY.format(db='N')} in db 0): use another Redis server, or wait for them"
        )

    def async_client(self) -> AsyncRedis:
        return AsyncRedis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def sync_client(self) -> redis.Redis:
        return self._sync

    def flush(self) -> None:
        self._leases.set(_LEASE_KEY.format(db=self._db), self._token, ex=_LEASE_TTL_S)
        self._sync.flushdb()

    @contextlib.contextmanager
    def outage(self) -> Iterator[None]:
        pytest.skip("a Redis outage is simulated with fakeredis only; this run uses a real Redis server")
        yield  # pragma: no cover

    def close(self) -> None:
        self._sync.close()
        key = _LEASE_KEY.format(db=self._db)
        with contextlib.suppress(redis.RedisError):
            if self._leases.get(key) == self._token.encode():
                self._leases.delete(key)
        self._leases.close()


def make_provider(redis_url: str | None, worker_index: int) -> RedisProvider:
    return RealRedisProvider(redis_url, worker_index) if redis_url else FakeRedisProvider()


AsyncClientFactory = Callable[[], AsyncRedis]
