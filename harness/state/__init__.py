"""Redis for the app under test: one fakeredis server, or one database of a real Redis, per xdist worker."""

from harness.state._redis import (
    FakeRedisProvider,
    RealRedisProvider,
    RedisProvider,
    RedisUnavailable,
    make_provider,
)
from harness.state._urls import redact_url

__all__ = [
    "FakeRedisProvider",
    "RealRedisProvider",
    "RedisProvider",
    "RedisUnavailable",
    "make_provider",
    "redact_url",
]
