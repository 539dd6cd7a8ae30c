"""Redis URLs are shown with the password replaced everywhere the project prints them: the pytest
header, the `make serve` banner, scripts/redis_reachable.py and the Makefile's messages (and traces).

Each check runs the real thing with a URL whose password is SECRET and fails if SECRET appears in
what it printed, or if the redacted form does not (a check that printed nothing would pass otherwise).
"""

from __future__ import annotations

import os
import shutil
import signal
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from harness.redaction import redact_url

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-Pa55"
# Port 1: nothing listens there, so the URL is refused at once wherever it is tried.
UNREACHABLE_URL = f"redis://:{SECRET}@127.0.0.1:1/0"
SHOWN = "redis://:***@127.0.0.1:1/0"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://:{SECRET}@h:6379/0", "redis://:***@h:6379/0"),
        (f"rediss://app:{SECRET}@[::1]:7000/2?ssl_cert_reqs=none", "rediss://app:***@[::1]:7000/2?ssl_cert_reqs=none"),
        (f"redis://h/0?password={SECRET}&db=1", "redis://h/0?password=***&db=1"),
        (f"unix:///run/redis.sock?Password={SECRET}", "unix:///run/redis.sock?Password=***"),
        (f"redis://:{SECRET}:with@colons@h/0", "redis://:***@h/0"),
        ("redis://app@h/0", "redis://app@h/0"),  # a user name alone is no secret
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_an_unparsable_url_is_hidden_whole() -> None:
    shown = redact_url(f"redis://:{SECRET}@[::1/0")
    assert SECRET not in shown and "hidden" in shown


def test_pytest_header(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest_subprocess(f"--redis-url={UNREACHABLE_URL}")
    output = result.stdout.str() + result.stderr.str()
    assert SECRET not in output
    result.stdout.fnmatch_lines([f"sse-gate: redis: real Redis at {SHOWN} (one db per worker)*"])


def test_pytest_error_when_the_redis_does_not_answer(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(gate_backend): pass")
    result = pytester.runpytest_subprocess(f"--redis-url={UNREACHABLE_URL}")
    output = result.stdout.str() + result.stderr.str()
    assert SECRET not in output
    assert "redis://:***@127.0.0.1:1/" in output


def test_make_serve_banner() -> None:
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "harness.serve", "--api-port", "0", "--frontend-port", "0"]
        + ["--redis-url", UNREACHABLE_URL],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()  # the API line; ends at exit if the process crashed
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()
    assert SECRET not in banner
    assert f"Redis: {SHOWN}" in banner, banner
    # Ctrl-C during start-up (right after the first line) still stops both servers cleanly.
    assert process.returncode == 0, f"serve exited with {process.returncode} on a Ctrl-C during start-up"


def test_redis_reachable_script() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/redis_reachable.py", UNREACHABLE_URL],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert SECRET not in result.stdout + result.stderr
    assert f"no Redis answering at {SHOWN}" in result.stderr, result.stderr


class _PongHandler(socketserver.StreamRequestHandler):
    """Just enough of Redis for a PING behind a password: +PONG for PING, +OK for anything else
    (AUTH, CLIENT SETINFO, SELECT). Reads RESP arrays of bulk strings, as redis-py sends them.
    HELLO is refused as a Redis before 6 refuses it: redis-py 8.2 opens with `HELLO 3 AUTH ...`
    (RESP3 by default) and, on that error, falls back to RESP2 and AUTH, which +OK answers; a
    +OK to HELLO would be read as its RESP3 map and fail with AttributeError."""

    REPLIES: ClassVar[dict[str, bytes]] = {"PING": b"+PONG\r\n", "HELLO": b"-ERR unknown command 'HELLO'\r\n"}

    def handle(self) -> None:
        while header := self.rfile.readline():
            count = int(header[1:])
            words = []
            for _ in range(count):
                length = int(self.rfile.readline()[1:])
                words.append(self.rfile.read(length + 2)[:-2].decode())
            self.wfile.write(self.REPLIES.get(words[0].upper(), b"+OK\r\n"))


@pytest.fixture
def password_redis() -> Iterator[str]:
    """The URL, with SECRET as its password, of a loopback server that answers like Redis."""
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _PongHandler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield f"redis://:{SECRET}@127.0.0.1:{server.server_address[1]}/0"
        server.shutdown()


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("target", ["test", "test-redis"])
def test_makefile_messages_and_traces(password_redis: str, target: str) -> None:
    """`make test` / `make test-redis` with a Redis that answers: every message and the traced
    pytest command. The passes themselves are replaced by `true` (their output is pytest's: the
    header, checked above), the venv and browser stamps by nothing (they exist to get here), and
    `make check` is taken as done (`-o check`)."""
    port = password_redis.rsplit(":", 1)[1].split("/")[0]
    shown = f"redis://:***@127.0.0.1:{port}/0"
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", "check", target, f"REDIS_URL={password_redis}", "BROWSER_READY="]
        + ["PYTEST=true"]
        + ["MUTANTS_PASS=true", f"BIN={Path(sys.executable).parent}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SSE_GATE_REDIS_URL": ""},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert SECRET not in output
    assert f"on the real Redis at {shown}" in output, output
    assert "+ true" in output, output  # the traced pass ran (through the environment, not argv)


def test_the_pong_server_is_a_redis_for_redis_py(password_redis: str) -> None:
    """The premise of the Makefile test: redis-py's PING with a password succeeds against it."""
    import redis

    with redis.Redis.from_url(password_redis, socket_timeout=5) as client:
        assert client.ping() is True
