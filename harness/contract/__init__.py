"""The app contract: routes, form, event names, payload paths, timings and task state of the app under test."""

from harness.contract._contract import (
    DRAFTS_API,
    AppContract,
    EventNames,
    FormField,
    Messages,
    PayloadPaths,
    Route,
    TaskStates,
    TaskStateShape,
    Timings,
    read_path,
    write_path,
)
from harness.contract._loading import ContractSpecError, load_contract

__all__ = [
    "DRAFTS_API",
    "AppContract",
    "ContractSpecError",
    "EventNames",
    "FormField",
    "Messages",
    "PayloadPaths",
    "Route",
    "TaskStateShape",
    "TaskStates",
    "Timings",
    "load_contract",
    "read_path",
    "write_path",
]
