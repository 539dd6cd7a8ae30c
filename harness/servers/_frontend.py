"""Serves a static frontend on its own loopback origin, as the production page would be served.

The page runs the production EventSource code against the live backend on another origin (CORS as in
production). Two things are injected: `/config.js`, which tells the page where the API is, and, with
`--sse-client`, another file in place of the page's EventSource module.
"""

from __future__ import annotations

import importlib.resources
import json
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Package data: in the wheel a real folder, in the checkout a symlink to the top-level stub_frontend/.
# resolve() makes the checkout's report name stub_frontend/ itself.
STUB_FRONTEND_DIR = Path(str(importlib.resources.files("harness.servers") / "stub_frontend")).resolve()
CONFIG_PATH = "/config.js"
SSE_CLIENT_PATH = "/lib/draft-stream.js"
CONFIG_GLOBAL = "__DRAFTS_CONFIG__"


def origin_of(url: str) -> str:
    """`http://127.0.0.1:3000/a/b` -> `http://127.0.0.1:3000` (what a browser sends as Origin)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


class FrontendConfig:
    """What `/config.js` hands the page; changed per test (thread-safe), read on every page load."""

    def __init__(self, **defaults: Any) -> None:
        self._defaults = dict(defaults)
        self._values = dict(defaults)
        self._lock = threading.Lock()

    def update(self, **values: Any) -> None:
        with self._lock:
            self._values.update(values)

    def reset(self) -> None:
        with self._lock:
            self._values = dict(self._defaults)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._values)

    def script(self) -> str:
        return f"window.{CONFIG_GLOBAL} = {json.dumps(self.snapshot(), indent=2)};\n"


class _SinglePageFiles(StaticFiles):
    """Static files with the usual single-page-app fallback: unknown paths get `index.html`."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404 or Path(path).suffix:
                raise  # a missing asset stays a 404; only page routes fall back
            return await super().get_response("index.html", scope)


def frontend_app(directory: Path, config: FrontendConfig, sse_client: Path | None = None) -> Starlette:
    """The ASGI app serving `directory`, with `/config.js` generated and the SSE client swappable."""
    if not (directory / "index.html").is_file():
        raise FileNotFoundError(f"frontend directory {directory} has no index.html")
    if sse_client is not None and not sse_client.is_file():
        raise FileNotFoundError(f"--sse-client {sse_client} is not a file")

    async def config_js(request: Request) -> Response:
        return Response(config.script(), media_type="text/javascript", headers={"Cache-Control": "no-store"})

    routes = [Route(CONFIG_PATH, config_js)]
    if sse_client is not None:
        client_file = sse_client

        async def swapped_client(request: Request) -> Response:
            return FileResponse(client_file, media_type="text/javascript", headers={"Cache-Control": "no-store"})

        routes.append(Route(SSE_CLIENT_PATH, swapped_client))
    app = Starlette(routes=routes)
    app.mount("/", _SinglePageFiles(directory=directory, html=True, follow_symlink=False))
    return app
