"""The API's Redis client: one bounded, blocking connection pool, and how to tell a busy pool from an outage.

Every Redis command borrows a pool connection only for its own round trip: neither a stream nor a
request holds one while it waits. The pool is bounded on purpose (`Settings.redis_max_connections`)
and *blocking*: when every connection is busy, a command waits up to `Settings.redis_pool_timeout`
for one instead of failing. redis-py 8's default pool caps at 100 connections and raises
`MaxConnectionsError` at once, which an app that catches `RedisError` would report as an outage: 101
streams polling at the same instant were enough to get 503s from a healthy store.
"""

from __future__ import annotations

import asyncio
import functools

import fakeredis
from redis import ConnectionError as RedisConnectionError
from redis import MaxConnectionsError
from redis.asyncio import BlockingConnectionPool, Redis

from drafts_api.settings import Settings

# Bounded socket timeouts: a dead Redis must become a clear error, never a hung request or stream.
SOCKET_TIMEOUT_S = 2.0


def pool_exhausted(exc: BaseException) -> bool:
    """Whether `exc` says "no free pool connection" (load), as opposed to Redis being unreachable.

    `MaxConnectionsError` is what a non-blocking pool raises (e.g. a client an embedding app injects);
    a `BlockingConnectionPool` whose wait timed out raises a plain `ConnectionError` caused by the
    wait's `asyncio.TimeoutError` (redis-py gives it no type of its own).
    """
    if isinstance(exc, MaxConnectionsError):
        return True
    return type(exc) is RedisConnectionError and isinstance(exc.__cause__, asyncio.TimeoutError | TimeoutError)


def redis_client(settings: Settings, server: fakeredis.FakeServer | None = None) -> Redis:
    """A client on a bounded blocking pool: `settings.redis_url`'s server, else the fakeredis `server`."""
    if settings.redis_url:
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_max_connections,
            timeout=settings.redis_pool_timeout,
            socket_timeout=SOCKET_TIMEOUT_S,
            socket_connect_timeout=SOCKET_TIMEOUT_S,
        )
        return Redis.from_pool(pool)
    # fakeredis builds its pool from the class it is given with the connection's own keywords, which
    # do not include the pool's wait timeout: bind it here.
    pool_class = functools.partial(BlockingConnectionPool, timeout=settings.redis_pool_timeout)
    return fakeredis.FakeAsyncRedis(
        server=server or fakeredis.FakeServer(),
        connection_pool_class=pool_class,  # type: ignore[arg-type]
        max_connections=settings.redis_max_connections,
    )
