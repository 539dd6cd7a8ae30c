"""The app contract: routes, event names, payload paths and timings of the app under test."""

from harness.contract._contract import (
    DRAFTS_API,
    AppContract,
    EventNames,
    PayloadPaths,
    Route,
    Timings,
    read_path,
)

__all__ = ["DRAFTS_API", "AppContract", "EventNames", "PayloadPaths", "Route", "Timings", "read_path"]
