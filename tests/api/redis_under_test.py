"""The Redis the API tests run on: a fakeredis server per test module, or a real Redis shared by key prefix."""

from __future__ import annotations

from typing import Final, Protocol

import pytest
import redis
from redis.asyncio import Redis as AsyncRedis

from harness.redaction import redact_url
from harness.state import FakeRedisProvider

DEFAULT_REAL_REDIS_URL: Final = "redis://127.0.0.1:6379/0"
REACHABLE_WITHIN_S: Final = 0.5
OUTAGE_SKIP_REASON: Final = (
    "a Redis outage is simulated with fakeredis only; a shared real server cannot be cut per test"
)
START_REDIS_HINT: Final = (
    "start one with: redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize yes"
)


class RedisUnderTest(Protocol):
    kind: str

    def async_client(self) -> AsyncRedis:
        """A new asyncio client; call it on the event loop that will use it."""
        ...

    def sync_client(self) -> redis.Redis:
        """A client for the test thread (e.g. to delete a task behind the API's back)."""
        ...

    def cut(self) -> None:
        """Make every command of every client fail with `redis.ConnectionError` (an outage)."""
        ...

    def heal(self) -> None: ...

    def delete_prefix(self, key_prefix: str) -> None: ...


class FakeRedisUnderTest(FakeRedisProvider):
    """The harness's fakeredis provider, with an outage the test switches on and off itself."""

    kind = "fakeredis"

    def cut(self) -> None:
        # The server-wide flag: a client's own `connected=` keyword does not reliably take effect.
        self.server.connected = False

    def heal(self) -> None:
        self.server.connected = True

    def delete_prefix(self, key_prefix: str) -> None:
        pass  # the server dies with the test


class RealRedisUnderTest:
    """A real server, possibly shared with other tests and workers: everything stays under one prefix."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        self.url = url

    def async_client(self) -> AsyncRedis:
        # Bounded timeouts, as the API's own default factory has: a dead server must fail, not hang.
        return AsyncRedis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def sync_client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2.0, socket_connect_timeout=2.0)

    def cut(self) -> None:
        pytest.skip(OUTAGE_SKIP_REASON)

    def heal(self) -> None:
        pass

    def delete_prefix(self, key_prefix: str) -> None:
        with self.sync_client() as client:
            keys = list(client.scan_iter(match=f"{key_prefix}*", count=500))
            if keys:
                client.delete(*keys)


def check_reachable(url: str) -> str | None:
    """None if a Redis server answers a PING at `url` within the bound, else why not."""
    client = redis.Redis.from_url(url, socket_timeout=REACHABLE_WITHIN_S, socket_connect_timeout=REACHABLE_WITHIN_S)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"no Redis server answers at {redact_url(url)} within {REACHABLE_WITHIN_S} s ({exc}); {START_REDIS_HINT}"
    finally:
        client.close()
    return None


def skip_unless_outage_possible(redis_under_test: RedisUnderTest) -> None:
    """Skip up front (rather than half-way, at `cut()`) when this Redis cannot be cut."""
    if not isinstance(redis_under_test, FakeRedisUnderTest):
        pytest.skip(OUTAGE_SKIP_REASON)
