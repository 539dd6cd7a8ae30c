"""Under load on a healthy store every request and every stream is served (`bench/load.py` does the work).

The API runs in its own process with its default (bounded, blocking) Redis pool and production
timings; 300 generation requests arrive at once, then 500 streams open at once and are all held.
"""

from __future__ import annotations

import pytest

from bench.load import measure

from .redis_under_test import RealRedisUnderTest, RedisUnderTest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STREAMS = 500
POSTS = 300


def _redis_url(redis_under_test: RedisUnderTest) -> str | None:
    return redis_under_test.url if isinstance(redis_under_test, RealRedisUnderTest) else None


def test_500_streams_and_300_posts_are_all_served(redis_under_test: RedisUnderTest) -> None:
    """fails if: the pool fails fast when busy (redis-py 8's default: 100 connections, then
    `MaxConnectionsError`), a busy pool is reported as an outage (503), or streams hold a connection each.
    """
    result = measure(streams=STREAMS, posts=POSTS, redis_url=_redis_url(redis_under_test), timeout=120.0)
    summary = result.summary()
    assert result.post_statuses == {"202": POSTS}, summary
    assert result.stream_statuses == {"200": STREAMS}, summary
    assert result.first_events == {"pending": STREAMS}, summary
    assert result.streams_held == STREAMS, summary


def test_the_check_fails_with_redis_pys_default_pool(redis_under_test: RedisUnderTest) -> None:
    """The broken variant the issue found (the default pool, busy = outage) must fail the check above."""
    result = measure(streams=0, posts=POSTS, redis_url=_redis_url(redis_under_test), timeout=120.0, unbounded_pool=True)
    assert result.post_statuses.get("503", 0) > 0, f"the default pool served everything: {result.summary()}"
