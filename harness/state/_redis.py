"""The Redis a test session runs on: one fakeredis server per worker, or a real Redis, isolated per worker."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import fakeredis
import pytest
import redis
import redis.asyncio
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


# The URL an app under test gets when the session runs on fakeredis. `.invalid` never resolves
# (RFC 2606): should a client reach the network with it, it fails at once instead of finding some
# Redis on the machine.
FAKE_REDIS_HOST = "sse-gate-fakeredis.invalid"


class RedisProvider(Protocol):
    description: str
    url: str  # what the app under test is given (a real Redis, or the fakeredis URL routed below)

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

    def __init__(self, worker_index: int = 0) -> None:
        self.server = fakeredis.FakeServer()
        self.url = f"redis://{FAKE_REDIS_HOST}:6379/{worker_index}"

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
    return RealRedisProvider(redis_url, worker_index) if redis_url else FakeRedisProvider(worker_index)


def _is_fake_url(url: object) -> bool:
    return isinstance(url, str) and urlsplit(url).hostname == FAKE_REDIS_HOST


def _fake_pool(client_class: Any, server: fakeredis.FakeServer, kwargs: dict[str, Any]) -> Any:
    # The client's options that fakeredis understands (decode_responses above all) are kept; the
    # pool is fakeredis's own, so its connections talk to the worker's FakeServer.
    try:
        return client_class(server=server, **kwargs).connection_pool
    except TypeError:
        return client_class(server=server, decode_responses=bool(kwargs.get("decode_responses"))).connection_pool


@contextlib.contextmanager
def route_fake_url(provider: RedisProvider) -> Iterator[None]:
    """While active, a connection pool built from `provider.url` (the fakeredis URL) is fakeredis's.

    Why here and like this: every way redis-py builds a client from a URL (`redis.from_url`,
    `Redis.from_url`, `redis.asyncio.from_url`, a `ConnectionPool.from_url` the app makes itself, sync
    or async, at import, at start-up or on the first request) goes through `ConnectionPool.from_url`,
    looked up on the class at call time, so even a `from redis import from_url` bound before this
    began is covered. Only the fakeredis URL is rerouted; any other URL goes to redis-py unchanged,
    so the rest of the session (tests/api with a real Redis) is not affected while a backend lives.
    The harness keeps it active for the backend's whole lifetime. A real Redis needs no routing: the
    app is given its URL.
    """
    if not isinstance(provider, FakeRedisProvider):
        yield
        return
    server = provider.server
    sync_from_url = redis.ConnectionPool.from_url.__func__  # type: ignore[attr-defined]
    async_from_url = redis.asyncio.ConnectionPool.from_url.__func__  # type: ignore[attr-defined]

    def routed_sync(cls: Any, /, url: str, **kwargs: Any) -> Any:
        if _is_fake_url(url):
            return _fake_pool(fakeredis.FakeRedis, server, kwargs)
        return sync_from_url(cls, url, **kwargs)

    def routed_async(cls: Any, /, url: str, **kwargs: Any) -> Any:
        if _is_fake_url(url):
            return _fake_pool(fakeredis.FakeAsyncRedis, server, kwargs)
        return async_from_url(cls, url, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis.ConnectionPool, "from_url", classmethod(routed_sync))
        patch.setattr(redis.asyncio.ConnectionPool, "from_url", classmethod(routed_async))
        yield


AsyncClientFactory = Callable[[], AsyncRedis]
