"""Scripted generation: the test steps the backend's work (`run.progress(...)`, `run.succeed()`)."""

from harness.scripting._scripted import (
    Crash,
    Fail,
    Hold,
    Progress,
    ScriptedGenerationError,
    ScriptedGenerator,
    ScriptedRun,
    StepObserver,
    StepRecord,
    Succeed,
    describe_step,
)

__all__ = [
    "Crash",
    "Fail",
    "Hold",
    "Progress",
    "ScriptedGenerationError",
    "ScriptedGenerator",
    "ScriptedRun",
    "StepObserver",
    "StepRecord",
    "Succeed",
    "describe_step",
]
