"""A real `redis-server` killed and started again mid-generation: the stream ends with a clear error, never hangs.

The test starts its own server (from `shutil.which("redis-server")`, on `DRAFTS_RESTART_REDIS_PORT`,
6384 by default, without persistence, as the CI's is), because killing a shared one would take other
tests down with it. The API runs with its default Redis client (the bounded blocking pool).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from drafts_api.app import TASK_NOT_FOUND_DETAIL, create_app
from drafts_api.protocol import generate_path
from drafts_api.settings import Settings
from drafts_api.stream import STORE_UNAVAILABLE, TASK_EXPIRED
from harness.scripting import ScriptedGenerator
from harness.servers import LiveServer

from .api_backend import CLIENT_TIMEOUT, DEFAULT_CAMPAIGN, generate_body
from .event_stream import EventStream
from .test_http_errors import assert_json_error

pytestmark = pytest.mark.timeout(60)

PORT = int(os.environ.get("DRAFTS_RESTART_REDIS_PORT", "6384"))
# The socket timeouts are 2 s and redis-py retries three times with a backoff: an outage must be
# reported well within this, and the test fails (never hangs) past it.
ENDS_WITHIN_S = 15.0


class RedisServer:
    """A `redis-server` process of this test's own, killed and started again on the same port."""

    def __init__(self, executable: str, port: int, workdir: Path) -> None:
        self.command = [executable, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
        self.port, self.workdir = port, workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10.0
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"redis-server on port {self.port} did not start (exit {self.process.poll()})")
            time.sleep(0.05)  # a pause between connection attempts

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip(
            "no redis-server on PATH: the restart test needs a real server it can kill (apt-get install redis-server)"
        )
    if not _port_is_free(PORT):
        pytest.skip(f"port {PORT} is taken: set DRAFTS_RESTART_REDIS_PORT to a free port for the restart test")
    server = RedisServer(executable, PORT, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def test_a_redis_restart_mid_generation_ends_the_stream_with_a_clear_error(redis_server: RedisServer) -> None:
    """fails if: the stream hangs on a dead Redis (no socket timeout, an unbounded pool wait), or is cut
    without `error`/`done` (the page would say "Connection lost"), or a stream after the restart
    opens on a task that no longer exists instead of a 404.
    """
    settings = Settings(redis_url=f"redis://127.0.0.1:{redis_server.port}/0", poll_interval=0.05, cors_origins=[])
    generator = ScriptedGenerator()
    with (
        LiveServer(create_app(settings, generator=generator), timeout_graceful_shutdown=1.0) as server,
        httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as client,
    ):
        accepted = client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body())
        assert accepted.status_code == 202, accepted.text
        stream_url = accepted.json()["stream_url"]
        run = generator.next_run()
        with client.stream("GET", stream_url) as response:
            stream = EventStream(response)
            stream.expect("started")
            run.progress("Writing the draft...")
            stream.expect("progress")
            redis_server.kill()
            started = time.monotonic()
            error = stream.expect("error", timeout=ENDS_WITHIN_S)
            stream.expect("done")
            stream.expect_end()
            took = time.monotonic() - started
        assert error["message"] in (STORE_UNAVAILABLE, TASK_EXPIRED), error
        assert took < ENDS_WITHIN_S, f"the stream took {took:.1f} s to report the outage"

        redis_server.start()  # empty: it kept nothing (no persistence)
        refusal = client.get(stream_url)
        assert assert_json_error(refusal, 404)["detail"] == TASK_NOT_FOUND_DETAIL
        again = client.post(generate_path(DEFAULT_CAMPAIGN), json=generate_body())
        assert again.status_code == 202, f"the API did not recover after Redis came back: {again.text}"
        generator.next_run().crash("the test ended")
