"""The gate's command-line options, each also settable in `[tool.pytest.ini_options]`."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

GROUP = "sse-gate"

# (option, ini name, help). Every option has an ini twin so a repository can pin its gate settings.
_PATH_OPTIONS: tuple[tuple[str, str, str], ...] = (
    (
        "--sse-client",
        "sse_client",
        "serve this JS file in place of the page's EventSource module (/lib/draft-stream.js)",
    ),
    ("--frontend-dir", "frontend_dir", "serve this static frontend instead of stub_frontend/"),
    ("--frontend-url", "frontend_url", "use this running frontend instead of serving one (no config injection)"),
    ("--backend-app", "backend_app", "run this ASGI app or app factory (MODULE:ATTR) instead of drafts_api"),
    ("--backend-url", "backend_url", "use this running backend (e.g. staging); scripted tests skip"),
    (
        "--redis-url",
        "redis_url",
        "run on this real Redis (one db per xdist worker) instead of fakeredis; env SSE_GATE_REDIS_URL",
    ),
)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup(GROUP, "SSE progress gate (harness)")
    for option, ini_name, help_text in _PATH_OPTIONS:
        group.addoption(option, dest=ini_name, default=None, help=help_text)
        parser.addini(ini_name, help_text, default=None)
    group.addoption(
        "--gate-poll-interval",
        dest="gate_poll_interval",
        type=float,
        default=None,
        help="backend poll interval in seconds for the harness's backend (default 0.05)",
    )
    parser.addini("gate_poll_interval", "backend poll interval for the harness's backend", default="0.05")
    group.addoption(
        "--frontend-port",
        dest="frontend_port",
        type=int,
        default=None,
        help="serve the frontend on this loopback port, plus the xdist worker's number (default: a free "
        "one); a deployed backend's CORS settings can then allow the page's origin, http://127.0.0.1:PORT",
    )
    parser.addini("frontend_port", "loopback port of the served frontend (0: a free one)", default="0")


@dataclass(frozen=True)
class GateOptions:
    sse_client: Path | None
    frontend_dir: Path | None
    frontend_url: str | None
    backend_app: str | None
    backend_url: str | None
    redis_url: str | None = field(repr=False)  # may hold a password; shown with harness.state.redact_url
    poll_interval: float
    frontend_port: int

    @classmethod
    def from_config(cls, config: pytest.Config) -> GateOptions:
        def value(name: str) -> str | None:
            raw = config.getoption(name) or config.getini(name) or None
            return str(raw) if raw else None

        def path(name: str) -> Path | None:
            # A relative path on the command line is taken from where pytest was started; one in
            # the ini file from the ini file's folder.
            if config.getoption(name):
                return config.invocation_params.dir / str(config.getoption(name))
            raw = config.getini(name)
            return config.rootpath / str(raw) if raw else None

        backend_app, backend_url = value("backend_app"), value("backend_url")
        if backend_app and backend_url:
            raise pytest.UsageError(
                f"--backend-app {backend_app!r} and --backend-url {backend_url!r} exclude each other"
            )
        if backend_app and not re.fullmatch(r"[\w.]+:[\w.]+", backend_app):
            raise pytest.UsageError(f"--backend-app wants MODULE:ATTR, got {backend_app!r}")
        frontend_dir, frontend_url = path("frontend_dir"), value("frontend_url")
        if frontend_dir and frontend_url:
            raise pytest.UsageError(
                f"--frontend-dir {frontend_dir} and --frontend-url {frontend_url!r} exclude each other"
            )
        poll = config.getoption("gate_poll_interval") or float(config.getini("gate_poll_interval"))
        return cls(
            sse_client=path("sse_client"),
            frontend_dir=frontend_dir,
            frontend_url=frontend_url.rstrip("/") if frontend_url else None,
            backend_app=backend_app,
            backend_url=backend_url.rstrip("/") if backend_url else None,
            redis_url=value("redis_url") or os.environ.get("SSE_GATE_REDIS_URL") or None,
            poll_interval=poll,
            frontend_port=config.getoption("frontend_port") or int(config.getini("frontend_port")),
        )
