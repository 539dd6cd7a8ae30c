"""Redis for the app under test: one fakeredis server, or one database of a real Redis, per xdist worker."""

from harness.redaction import redact_url
from harness.state._redis import (
    FakeRedisProvider,
    RealRedisProvider,
    RedisProvider,
    RedisUnavailable,
    make_provider,
)

__all__ = [
    "FakeRedisProvider",
    "RealRedisProvider",
    "RedisProvider",
    "RedisUnavailable",
    "make_provider",
    "redact_url",
]
