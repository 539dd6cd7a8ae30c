"""Scripted generation: the test steps the backend's work (`run.progress(...)`, `run.succeed()`).

Two ways, one API: `ScriptedGenerator` is plugged into an app that takes a generator (drafts_api);
`TaskStateScripter` steps an app with its own worker by writing its task state (see the contract's
`TaskStateShape`), its generation service held by a fake.
"""

from harness.scripting._scripted import (
    Crash,
    Fail,
    Hold,
    Progress,
    ScriptedGenerationError,
    ScriptedGenerator,
    ScriptedRun,
    Step,
    StepObserver,
    StepRecord,
    Succeed,
    describe_step,
)
from harness.scripting._task_state import GenerationReleased, ScriptedCrash, TaskStateRun, TaskStateScripter

Scripted = ScriptedGenerator | TaskStateScripter
"""What `gate_scripted` gives a test: either kind, with the same API."""

__all__ = [
    "Crash",
    "Fail",
    "GenerationReleased",
    "Hold",
    "Progress",
    "Scripted",
    "ScriptedCrash",
    "ScriptedGenerationError",
    "ScriptedGenerator",
    "ScriptedRun",
    "Step",
    "StepObserver",
    "StepRecord",
    "Succeed",
    "TaskStateRun",
    "TaskStateScripter",
    "describe_step",
]
