"""Hostile request bodies, and a client process that keeps posting them (`python hostile_client.py URL SECONDS`).

A process of its own, so that what a test measures meanwhile is the server's event loop, not the
test process's GIL shared with the attacker.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import Final

import httpx

LIMIT: Final = 64 * 1024
_VALID: Final = {"topic": "Spring launch", "audience": "Existing customers", "tone": "friendly", "length": "short"}

# Each within the 64 KiB limit, each costly in its own way for a parser or a validator.
HOSTILE_BODIES: Final[dict[str, bytes]] = {
    "many-keys": json.dumps({f"key{n}": [n] for n in range(3500)}).encode(),
    "deep-nesting": b"[" * 30000 + b"]" * 30000,
    "deep-objects": b'{"a":' * 10000 + b"1" + b"}" * 10000,
    "long-strings": json.dumps(_VALID | {"topic": "x" * 60000}).encode(),
    "many-points": json.dumps(_VALID | {"key_points": ["p"] * 10000}).encode(),
    "bad-utf8": b'{"topic": "\xff\xfe", "audience": "x"}',
}
# The 10 MB body of keys: over the limit, refused unread.
OVERSIZED: Final = json.dumps({f"key{n}": n for n in range(560_000)}).encode()


def main(url: str, seconds: float, path: str) -> int:
    handled = 0
    deadline = time.monotonic() + seconds
    with httpx.Client(base_url=url, timeout=10.0) as client:
        while time.monotonic() < deadline:
            for body in [*HOSTILE_BODIES.values(), OVERSIZED]:
                with contextlib.suppress(httpx.TransportError):  # a cut-off oversized body still counts
                    client.post(path, content=body, headers={"Content-Type": "application/json"})
                handled += 1
    print(handled)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1], float(sys.argv[2]), sys.argv[3]))
