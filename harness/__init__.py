"""The SSE progress gate: a pytest plugin (`harness.plugin`) and the public API of its pieces.

Fixtures are the main interface (`pytest --fixtures` lists them, all `gate_`-prefixed). Scenarios,
`conftest.py` files, `--backend-app` factories and the benchmark import what they need from here:

    from harness import EDITOR_URL, NewDraftPage, ScriptedGenerator, FaultProxy, CutAfterEvents

or from one of the documented subpackages, each with its own `__all__`: `harness.plugin` (hooks,
fixture types and test timings), `harness.servers`, `harness.state`, `harness.scripting`,
`harness.proxy`, `harness.sse`, `harness.recording`, `harness.evidence`, `harness.diagnosis`,
`harness.contract`, `harness.pages`, `harness.waiting`, `harness.browsers`, `harness.redaction`. Modules whose name
starts with `_` are private.

Names are imported on first use (PEP 562 `__getattr__`): the plugin loads in every pytest session
of an environment it is installed in, and `import harness` must not pull in FastAPI, uvicorn,
fakeredis and Playwright's API for a session that never uses the gate.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# name -> the public module that defines it.
_EXPORTS: dict[str, str] = {
    # page objects and the page contract
    "EDITOR_URL": "harness.pages",
    "DEFAULT_CAMPAIGN": "harness.pages",
    "EditorPage": "harness.pages",
    "NewDraftPage": "harness.pages",
    "editor_path": "harness.pages",
    "new_draft_path": "harness.pages",
    # scripted generation
    "Crash": "harness.scripting",
    "Fail": "harness.scripting",
    "Hold": "harness.scripting",
    "Progress": "harness.scripting",
    "ScriptedGenerationError": "harness.scripting",
    "ScriptedGenerator": "harness.scripting",
    "ScriptedRun": "harness.scripting",
    "Succeed": "harness.scripting",
    # the fault proxy and its faults
    "BufferUnlessAccelOff": "harness.proxy",
    "CannedStatus": "harness.proxy",
    "CutAfterBytes": "harness.proxy",
    "CutAfterEvents": "harness.proxy",
    "Fault": "harness.proxy",
    "FaultProxy": "harness.proxy",
    "FaultProxyError": "harness.proxy",
    "Gzip": "harness.proxy",
    "IdleTimeout": "harness.proxy",
    "Latency": "harness.proxy",
    "PassThrough": "harness.proxy",
    "ProxiedRequest": "harness.proxy",
    # servers, and what a `--backend-app` factory is given
    "BackendParts": "harness.servers",
    "BackendSpecError": "harness.servers",
    "FrontendConfig": "harness.servers",
    "LiveBackend": "harness.servers",
    "LiveServer": "harness.servers",
    "LiveServerError": "harness.servers",
    "STUB_FRONTEND_DIR": "harness.servers",
    "WorkerThread": "harness.servers",
    "frontend_app": "harness.servers",
    "origin_of": "harness.servers",
    # state
    "RedisProvider": "harness.state",
    "RedisUnavailable": "harness.state",
    "redact_url": "harness.redaction",
    # fixture types and the harness's test timings
    "GateOptions": "harness.plugin",
    "RedisOutage": "harness.plugin",
    "TEST_HEARTBEAT_POLLS": "harness.plugin",
    "TEST_RECONNECT_TIMEOUT_MS": "harness.plugin",
    "TEST_RETRY_MS": "harness.plugin",
    # recording, evidence, diagnosis
    "EvidenceCollector": "harness.recording",
    "WireLog": "harness.recording",
    "WireRecorder": "harness.recording",
    "Evidence": "harness.evidence",
    "Diagnosis": "harness.diagnosis",
    "diagnose": "harness.diagnosis",
    # the SSE parser
    "SSEDecoder": "harness.sse",
    "SSEEvent": "harness.sse",
    # the app contract
    "AppContract": "harness.contract",
    "DRAFTS_API": "harness.contract",
    "EventNames": "harness.contract",
    "PayloadPaths": "harness.contract",
    "Route": "harness.contract",
    "Timings": "harness.contract",
    # browsers, waiting
    "BrowserChoice": "harness.browsers",
    "BrowserNotFound": "harness.browsers",
    "find_browser": "harness.browsers",
    "wait_until": "harness.waiting",
}

# Spelled out (not sorted(_EXPORTS)) so that linters and type checkers read it; a test keeps both equal.
__all__ = [
    "AppContract",
    "BackendParts",
    "BackendSpecError",
    "BrowserChoice",
    "BrowserNotFound",
    "BufferUnlessAccelOff",
    "CannedStatus",
    "Crash",
    "CutAfterBytes",
    "CutAfterEvents",
    "DEFAULT_CAMPAIGN",
    "DRAFTS_API",
    "Diagnosis",
    "EDITOR_URL",
    "EditorPage",
    "EventNames",
    "Evidence",
    "EvidenceCollector",
    "Fail",
    "Fault",
    "FaultProxy",
    "FaultProxyError",
    "FrontendConfig",
    "GateOptions",
    "Gzip",
    "Hold",
    "IdleTimeout",
    "Latency",
    "LiveBackend",
    "LiveServer",
    "LiveServerError",
    "NewDraftPage",
    "PassThrough",
    "PayloadPaths",
    "Progress",
    "ProxiedRequest",
    "RedisOutage",
    "RedisProvider",
    "RedisUnavailable",
    "Route",
    "SSEDecoder",
    "SSEEvent",
    "STUB_FRONTEND_DIR",
    "ScriptedGenerationError",
    "ScriptedGenerator",
    "ScriptedRun",
    "Succeed",
    "TEST_HEARTBEAT_POLLS",
    "TEST_RECONNECT_TIMEOUT_MS",
    "TEST_RETRY_MS",
    "Timings",
    "WireLog",
    "WireRecorder",
    "WorkerThread",
    "diagnose",
    "editor_path",
    "find_browser",
    "frontend_app",
    "new_draft_path",
    "origin_of",
    "redact_url",
    "wait_until",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # imported once; later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ above
    from harness.browsers import BrowserChoice, BrowserNotFound, find_browser
    from harness.contract import DRAFTS_API, AppContract, EventNames, PayloadPaths, Route, Timings
    from harness.diagnosis import Diagnosis, diagnose
    from harness.evidence import Evidence
    from harness.pages import DEFAULT_CAMPAIGN, EDITOR_URL, EditorPage, NewDraftPage, editor_path, new_draft_path
    from harness.plugin import (
        TEST_HEARTBEAT_POLLS,
        TEST_RECONNECT_TIMEOUT_MS,
        TEST_RETRY_MS,
        GateOptions,
        RedisOutage,
    )
    from harness.proxy import (
        BufferUnlessAccelOff,
        CannedStatus,
        CutAfterBytes,
        CutAfterEvents,
        Fault,
        FaultProxy,
        FaultProxyError,
        Gzip,
        IdleTimeout,
        Latency,
        PassThrough,
        ProxiedRequest,
    )
    from harness.recording import EvidenceCollector, WireLog, WireRecorder
    from harness.redaction import redact_url
    from harness.scripting import (
        Crash,
        Fail,
        Hold,
        Progress,
        ScriptedGenerationError,
        ScriptedGenerator,
        ScriptedRun,
        Succeed,
    )
    from harness.servers import (
        STUB_FRONTEND_DIR,
        BackendParts,
        BackendSpecError,
        FrontendConfig,
        LiveBackend,
        LiveServer,
        LiveServerError,
        WorkerThread,
        frontend_app,
        origin_of,
    )
    from harness.sse import SSEDecoder, SSEEvent
    from harness.state import RedisProvider, RedisUnavailable
    from harness.waiting import wait_until
