"""A fault-injecting HTTP proxy between page and backend: buffering, gzip, cuts, idle timeouts, latency."""

from harness.proxy._faults import (
    BufferUnlessAccelOff,
    CannedStatus,
    CutAfterBytes,
    CutAfterEvents,
    Fault,
    Gzip,
    IdleTimeout,
    Latency,
    PassThrough,
)
from harness.proxy._proxy import (
    FaultProxy,
    FaultProxyError,
    ProxiedRequest,
)

__all__ = [
    "BufferUnlessAccelOff",
    "CannedStatus",
    "CutAfterBytes",
    "CutAfterEvents",
    "Fault",
    "FaultProxy",
    "FaultProxyError",
    "Gzip",
    "IdleTimeout",
    "Latency",
    "PassThrough",
    "ProxiedRequest",
]
