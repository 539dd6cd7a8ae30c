"""A fault-injecting HTTP proxy between page and backend: buffering, gzip, cuts, idle timeouts, latency.

Each fault owns its transform of a response (`Fault`); the same objects work inside a backend as
ASGI middleware (`FaultMiddleware`).
"""

from harness.proxy._fault import CannedAnswer, Cut, Fault, ResponseHead, UpstreamTimeout
from harness.proxy._faults import (
    BufferBody,
    BufferUnlessAccelOff,
    CannedStatus,
    CutAfterBytes,
    CutAfterEvents,
    Gzip,
    IdleTimeout,
    Latency,
    PassThrough,
)
from harness.proxy._http import Limits
from harness.proxy._middleware import FaultMiddleware
from harness.proxy._proxy import (
    FaultProxy,
    FaultProxyError,
    ProxiedRequest,
)

__all__ = [
    "BufferBody",
    "BufferUnlessAccelOff",
    "CannedAnswer",
    "CannedStatus",
    "Cut",
    "CutAfterBytes",
    "CutAfterEvents",
    "Fault",
    "FaultMiddleware",
    "FaultProxy",
    "FaultProxyError",
    "Gzip",
    "IdleTimeout",
    "Latency",
    "Limits",
    "PassThrough",
    "ProxiedRequest",
    "ResponseHead",
    "UpstreamTimeout",
]
