"""Servers under test: uvicorn on loopback in a thread (`LiveServer`), the backend, the static frontend."""

from harness.servers._backend import (
    BackendParts,
    BackendSpecError,
    LiveBackend,
    LoadedApp,
    ResetHooks,
    Scripting,
    build_default_app,
    load_backend_app,
)
from harness.servers._frontend import STUB_FRONTEND_DIR, FrontendConfig, frontend_app, origin_of
from harness.servers._live_server import LiveServer, LiveServerError
from harness.servers._loop import BackgroundLoop, BackgroundLoopError
from harness.servers._worker import WorkerThread

__all__ = [
    "BackgroundLoop",
    "BackgroundLoopError",
    "STUB_FRONTEND_DIR",
    "BackendParts",
    "BackendSpecError",
    "FrontendConfig",
    "LiveBackend",
    "LiveServer",
    "LiveServerError",
    "LoadedApp",
    "ResetHooks",
    "Scripting",
    "WorkerThread",
    "build_default_app",
    "frontend_app",
    "load_backend_app",
    "origin_of",
]
