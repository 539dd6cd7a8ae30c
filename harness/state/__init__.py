"""Redis for the app under test: one fakeredis server, or one database of a real Redis, per xdist worker."""

from harness.redaction import redact_url
from harness.state._redis import (
    FAKE_REDIS_HOST,
    FakeRedisProvider,
    RealRedisProvider,
    RedisProvider,
    RedisUnavailable,
    make_provider,
    route_fake_url,
)

__all__ = [
    "FAKE_REDIS_HOST",
    "FakeRedisProvider",
    "RealRedisProvider",
    "RedisProvider",
    "RedisUnavailable",
    "make_provider",
    "redact_url",
    "route_fake_url",
]
