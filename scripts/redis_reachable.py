"""Exit 0 when a Redis server answers PING at the URL given (default: $REDIS_URL), else 1 with the reason.

`make test` asks this before its real-Redis pass: one cheap round trip with short timeouts, so a
machine without Redis costs a second, not a hang. `--redact URL` only prints the URL as the project
shows it, its password replaced (the Makefile's messages use it).
"""

from __future__ import annotations

import os
import sys

import redis

from harness.redaction import redact_url

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
TIMEOUT_S = 2.0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--redact":
        print(redact_url(argv[2]))
        return 0
    url = argv[1] if len(argv) > 1 else os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT_S, socket_timeout=TIMEOUT_S)
        with client:
            client.ping()
    except (redis.RedisError, ValueError, OSError) as error:
        # redis-py's messages name host and port, never the password; the URL is shown redacted.
        print(f"no Redis answering at {redact_url(url)}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
