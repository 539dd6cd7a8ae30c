"""A real uvicorn server for an ASGI app, in a background thread, on a loopback port.

Modelled on pytest-django's `LiveServer`: the fixture wraps this class; tests talk HTTP to `url`.
In-process clients (`TestClient`, `httpx.ASGITransport`) buffer whole response bodies, so an SSE
stream can only be observed honestly over a socket.
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType
from typing import Any, Literal

import uvicorn

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
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
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
        return self._thread is not None and self._thread.is_alive()

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
        server = uvicorn.Server(config)
        capture = _LogCapture()
        loggers = [logging.getLogger("uvicorn")]  # parent of uvicorn.error: one record each
        for logger in loggers:
            logger.addHandler(capture)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name=f"live-server:{self._port}", daemon=True
        )
        self._server, self._thread = server, thread
        try:
            thread.start()
            started = self._wait_started(server, thread)
        finally:
            for logger in loggers:
                logger.removeHandler(capture)
        if not started:
            sock.close()
            self._server = self._thread = None
            detail = "; ".join(capture.messages[-5:]) or "no message from uvicorn"
            raise LiveServerError(f"the live server for {self.app!r} did not start: {detail}")
        return self

    @staticmethod
    def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> bool:
        # A bind or lifespan failure calls sys.exit inside the thread: the thread just ends, so poll
        # both the flag and the thread instead of waiting on the flag alone.
        waited = 0.0
        step = 0.005
        while waited < _STARTUP_TIMEOUT_S:
            if server.started:
                return True
            if not thread.is_alive():
                return False
            thread.join(step)
            waited += step
        server.should_exit = True
        return False

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(self.timeout_graceful_shutdown + _STOP_TIMEOUT_S)
        if thread.is_alive():
            # Open streams that ignore the graceful timeout: force it, then give up loudly.
            server.force_exit = True
            thread.join(_STOP_TIMEOUT_S)
        self._server = self._thread = None
        if thread.is_alive():
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
