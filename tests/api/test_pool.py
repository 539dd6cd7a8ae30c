"""The API's Redis pool: bounded, blocking, and a busy pool told apart from an outage (no server needed)."""

from __future__ import annotations

import asyncio

import pytest
import redis
from redis.asyncio import BlockingConnectionPool

from drafts_api.redis_pool import pool_exhausted, redis_client
from drafts_api.settings import Settings
from harness.servers import BackgroundLoop

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("redis_url", [None, "redis://127.0.0.1:1/0"], ids=["fakeredis", "real-url"])
def test_the_client_is_on_a_bounded_blocking_pool(redis_url: str | None) -> None:
    """fails if: the default client is on redis-py's default pool (fails fast at 100 connections)."""
    settings = Settings(redis_url=redis_url, redis_max_connections=7, redis_pool_timeout=3.5)
    client = redis_client(settings)
    pool = client.connection_pool
    assert isinstance(pool, BlockingConnectionPool), type(pool)
    assert (pool.max_connections, pool.timeout) == (7, 3.5)


def test_far_more_concurrent_commands_than_connections_all_succeed(own_loop: BackgroundLoop) -> None:
    """fails if: a command finding every connection busy fails instead of waiting for one."""

    async def run() -> list[object]:
        client = redis_client(Settings(redis_url=None, redis_max_connections=5))
        await client.set("key", "value")
        try:
            return await asyncio.gather(*(client.get("key") for _ in range(2000)), return_exceptions=True)
        finally:
            await client.aclose()

    results = own_loop.run(run(), timeout=30)
    assert results == [b"value"] * 2000, {type(r).__name__ for r in results}


def test_a_busy_pool_is_not_an_outage(own_loop: BackgroundLoop) -> None:
    """fails if: the pool's wait timing out, or `MaxConnectionsError`, reads as "Redis is down"."""

    async def exhausted() -> BaseException:
        client = redis_client(Settings(redis_url=None, redis_max_connections=1, redis_pool_timeout=0.05))
        held = await client.connection_pool.get_connection()  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
        try:
            await client.get("key")
        except redis.RedisError as exc:
            return exc
        finally:
            await client.connection_pool.release(held)
            await client.aclose()
        raise AssertionError("a command got a connection from an exhausted pool")

    assert pool_exhausted(own_loop.run(exhausted(), timeout=10))
    assert pool_exhausted(redis.MaxConnectionsError("Too many connections"))
    assert not pool_exhausted(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused."))
    assert not pool_exhausted(redis.TimeoutError("Timeout reading from 127.0.0.1:6379"))
