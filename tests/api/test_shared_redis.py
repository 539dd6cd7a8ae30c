"""Two test sessions on one real Redis server never flush each other's state (the gate's per-worker database).

The cause of "no generation started within 10 s" in a real-Redis pass: a second session on the same
server (another worktree, a second `make test`) took the same numbered database for its gw0, and its
per-test FLUSHDB deleted the first session's task between the POST's 202 and the worker's first
write. Each session now leases its database.
"""

from __future__ import annotations

import pytest

from harness.state import RealRedisProvider

pytestmark = pytest.mark.timeout(30)

UNUSED_WORKER_INDEX = 12  # db 13


def test_two_sessions_get_two_databases_and_flush_only_their_own(real_redis_url: str) -> None:
    """fails if: the database is chosen by the worker index alone (both sessions' gw0 share one)."""
    first = RealRedisProvider(real_redis_url, worker_index=0)
    second = RealRedisProvider(real_redis_url, worker_index=0)
    try:
        assert first.url != second.url, f"both sessions' gw0 use {first.url}"
        first.sync_client().set("gate:task:first", "alive")
        second.flush()
        assert first.sync_client().get("gate:task:first") == b"alive", "the other session's flush deleted it"
    finally:
        first.close()
        second.close()


def test_a_closed_session_frees_its_database(real_redis_url: str) -> None:
    """fails if: a lease outlives the session that held it (15 sessions would exhaust the server)."""
    # A worker index no session of this run uses (they lease from db 1 + their index up): another
    # session's lease taken between the close and the new lease would read as a leaked one.
    first = RealRedisProvider(real_redis_url, worker_index=UNUSED_WORKER_INDEX)
    url = first.url
    first.close()
    again = RealRedisProvider(real_redis_url, worker_index=UNUSED_WORKER_INDEX)
    try:
        assert again.url == url, f"the freed database was not reused: {url} then {again.url}"
    finally:
        again.close()
