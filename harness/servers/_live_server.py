"""A real uvicorn server for an ASGI app, in a background thread, on a loopback port.

Modelled on pytest-django's `LiveServer`: the fixture wraps this class; tests talk HTTP to `url`.
In-process clients (`TestClient`, `httpx.ASGITransport`) buffer whole response bodies, so an SSE
stream can only be observed honestly over a socket.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import socket
import threading
from types import TracebackType
from typing import Any, Literal

import uvicorn

from harness.servers._loop import BackgroundLoop, BackgroundLoopError

_STARTUP_TIMEOUT_S = 15.0
_STOP_TIMEOUT_S = 5.0


class LiveServerError(RuntimeError):
    """The server could not start or stop; the message carries uvicorn's own words."""


class _LogCapture(logging.Handler):
    """Keeps uvicorn's error records so a start-up failure can be reported with its own message."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Lifespan failures arrive as a whole traceback in the message: its last line says what
        # went wrong, and one line is what the test report needs.
        lines = [line for line in record.getMessage().strip().splitlines() if line.strip()]
        text = (lines[-1] if lines[0].startswith("Traceback") else lines[0]).strip() if lines else ""
        if record.exc_info and record.exc_info[1] is not None:
            text = f"{text.rstrip(':')}: {record.exc_info[1]!r}"
        if text and text not in self.messages:
            self.messages.append(text)


class _Server(uvicorn.Server):
    """uvicorn's server, telling the starting thread when start-up has finished, well or not
    (uvicorn only sets a flag, which would have to be polled)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_finished = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.startup_finished.set()


async def _serve(server: _Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:
        # uvicorn exits the process on a start-up failure; on a shared loop that would end the loop
        # itself, so it becomes an ordinary error of this one task (the log capture has the reason).
        raise LiveServerError(f"uvicorn exited with status {exc.code!r}") from None
    finally:
        server.startup_finished.set()


class LiveServer:
    """Serves `app` with uvicorn on `host:port` until `stop()`.

    `port=0` picks a free port once; `restart()` serves again on that same port, so a page that holds
    the URL can reconnect (a backend restart mid-stream).
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        timeout_graceful_shutdown: float = 1.0,
        log_level: str = "warning",
        lifespan: Literal["auto", "on", "off"] = "auto",
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.timeout_graceful_shutdown = timeout_graceful_shutdown
        self.log_level = log_level
        self.lifespan = lifespan
        self._server: _Server | None = None
        self._loop: BackgroundLoop | None = None
        self._serving: concurrent.futures.Future[None] | None = None
        self._port: int | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise LiveServerError("the live server has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def is_running(self) -> bool:
        return self._loop is not None and self._loop.is_running

    def _bind(self) -> socket.socket:
        # Binding ourselves (instead of letting uvicorn bind port 0) fixes the port before start-up,
        # and lets `restart()` reuse it. SO_REUSEADDR: the old listener's TIME_WAIT must not block it.
        # IPPROTO_TCP explicitly: asyncio turns Nagle off (TCP_NODELAY) only on sockets whose `proto` says
        # TCP, and accepted sockets inherit the listener's 0; with Nagle on, every response whose head and
        # body go out as two writes waited ~40 ms for the client's delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        port = self._port if self._port is not None else self._requested_port
        try:
            sock.bind((self.host, port))
        except OSError as exc:
            sock.close()
            raise LiveServerError(f"cannot bind {self.host}:{port}: {exc}") from exc
        sock.set_inheritable(True)
        return sock

    def start(self) -> LiveServer:
        if self.is_running:
            raise LiveServerError(f"the live server is already running at {self.url}")
        sock = self._bind()
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_level=self.log_level,
            # No dictConfig of uvicorn's own: an embedded server must not replace the host's logging
            # (pytest's capture, the harness's backend-log handler); records propagate to the root.
            log_config=None,
            access_log=False,
            lifespan=self.lifespan,
            # Typed `int` by uvicorn, used as seconds by asyncio: a fraction is fine.
            timeout_graceful_shutdown=self.timeout_graceful_shutdown,  # type: ignore[arg-type]
            # Keep-alive connections would make stop() wait for the browser to hang up.
            timeout_keep_alive=1,
        )
        server = _Server(config)
        capture = _LogCapture()
        uvicorn_logger = logging.getLogger("uvicorn")  # parent of uvicorn.error: one record each
        uvicorn_logger.addHandler(capture)
        loop = BackgroundLoop(f"live-server:{self._port}")
        try:
            loop.start()
            serving = loop.submit(_serve(server, sock))
            finished = server.startup_finished.wait(_STARTUP_TIMEOUT_S)
        finally:
            uvicorn_logger.removeHandler(capture)
        if not (finished and server.started):
            server.should_exit = True
            failure = serving.exception(_STOP_TIMEOUT_S) if serving.done() or finished else None
            loop.stop()
            sock.close()
            detail = "; ".join(capture.messages[-5:]) or (
                repr(failure) if failure else f"not started within {_STARTUP_TIMEOUT_S} s"
            )
            raise LiveServerError(f"the live server for {self.app!r} did not start: {detail}")
        self._server, self._loop, self._serving = server, loop, serving
        return self

    def stop(self) -> None:
        server, loop, serving = self._server, self._loop, self._serving
        if server is None or loop is None or serving is None:
            return
        self._server = self._loop = self._serving = None
        server.should_exit = True
        try:
            serving.result(self.timeout_graceful_shutdown + _STOP_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            # Open streams that ignore the graceful timeout: force it, then give up loudly.
            server.force_exit = True
            with contextlib.suppress(concurrent.futures.TimeoutError):
                serving.result(_STOP_TIMEOUT_S)
        try:
            loop.stop(_STOP_TIMEOUT_S)
        except BackgroundLoopError as exc:
            raise LiveServerError(f"the live server at {self.url} did not stop within its bound: {exc}") from exc
        if not serving.done():
            raise LiveServerError(f"the live server at {self.url} did not stop within its bound")

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._port is not None else "not started"
        return f"<LiveServer {where}>"
