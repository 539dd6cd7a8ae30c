"""Scripting an app by its task state: for apps that cannot be handed the harness's generator.

The app keeps its own worker; only its generation service (the slow, external part: a language
model) is replaced by `HeldGeneration`, handed in as a FastAPI dependency override or a factory
argument. When the app's worker calls it, the call becomes a `TaskStateRun` and is held. The test then
steps the generation the way the app's worker records it (the contract's `TaskStateShape`: key
pattern, JSON shape, TTL):

    run = scripted.next_run()        # the app's worker called its generation service; held there
    run.progress("Analyzing...")     # the harness writes PROGRESS under task:{id}, as the worker would
    run.succeed(title="...")         # the held call returns the draft content; the app saves it and
                                     # writes SUCCESS itself; returns once SUCCESS is in Redis
    run.fail("message")              # the harness writes FAILURE with the message

The API is the one `ScriptedGenerator` offers (`next_run`, `runs`, `autoplay`, `reset`; per run
`progress`, `succeed`, `fail`, `crash`, `hold`, `release`, `play`, `finished`, `request_body`), so the
same scenarios run against both kinds of app.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import redis

from harness.contract import AppContract, TaskStateShape, read_path, write_path
from harness.scripting._scripted import (
    DEFAULT_STEP_TIMEOUT_S,
    Crash,
    Fail,
    Hold,
    Progress,
    RunSteps,
    ScriptedGenerationError,
    Step,
    Succeed,
    _Command,
)

_FAILED = object()  # `_apply`'s outcome for a Fail step
_STATE_POLL_S = 0.01  # how often `succeed` looks for the app's SUCCESS write (a bounded wait, not a sleep)


class GenerationReleased(Exception):
    """Raised in the app's worker when the test ended a held generation by writing its state
    (`fail`) or the test is over: the task state is already final, whatever the worker does next."""


class ScriptedCrash(RuntimeError):
    """`run.crash()`: an unexpected exception from the generation service."""


class TaskStateRun(RunSteps):
    """One held call of the app's generation service, driven from the test thread."""

    def __init__(self, scripter: TaskStateScripter, task_id: str, request_body: Mapping[str, Any], index: int) -> None:
        self._scripter = scripter
        self.task_id = task_id
        self.request_body = dict(request_body)
        self.index = index
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._finished = threading.Event()
        self.released = threading.Event()  # set when the test is over: the held call may end
        self.steps_applied: list[Step] = []

    @property
    def request(self) -> Mapping[str, Any]:
        return self.request_body

    # -- test thread ------------------------------------------------------------------------------

    def progress(self, message: str, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """Write a PROGRESS state with `message`; returns once it is in Redis."""
        self._send(Progress(message), timeout)

    def succeed(
        self, title: str | None = None, body: str | None = None, *, timeout: float = DEFAULT_STEP_TIMEOUT_S
    ) -> None:
        """Let the app's worker finish with this content; returns once its SUCCESS state is in Redis."""
        self._send(Succeed(title, body), timeout)
        self._scripter.wait_for_state(self.task_id, self._scripter.shape.states.success, timeout)

    def fail(self, message: str, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """Write a FAILURE state with `message` (what the app's worker writes for a failure the user
        must read); the held call then ends with `GenerationReleased`."""
        self._send(Fail(message), timeout)

    def crash(self, text: str = "scripted crash", *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """The generation service raises an unexpected exception; the app's worker records what it
        records for that; returns once a FAILURE state is in Redis."""
        self._send(Crash(text), timeout)
        self._scripter.wait_for_state(self.task_id, self._scripter.shape.states.failure, timeout)

    def _send(self, step: Step | None, timeout: float) -> None:
        if self._finished.is_set():
            raise ScriptedGenerationError(
                f"generation #{self.index} (task {self.task_id}) already ended (after {self.steps_applied!r}); "
                f"cannot apply {step!r}"
            )
        command = _Command(step)
        self._commands.put(command)
        if not command.applied.wait(timeout):
            raise ScriptedGenerationError(
                f"the app's worker did not apply {step!r} within {timeout} s (generation #{self.index}, "
                f"task {self.task_id}; applied so far: {self.steps_applied!r})"
            )
        if command.error is not None:
            raise ScriptedGenerationError(f"applying {step!r} failed: {command.error!r}") from command.error

    # -- the app's worker thread ------------------------------------------------------------------

    def _play(self, opening: tuple[Step, ...]) -> dict[str, str]:
        """Runs in the held call until a step ends it: returns the content or raises."""
        try:
            pending = [_Command(step) for step in opening]
            while True:
                command = pending.pop(0) if pending else self._next_command()
                step = command.step
                if step is None:
                    command.error = ScriptedGenerationError("release() sent while not held")
                    command.applied.set()
                    continue
                try:
                    outcome = self._apply(step)
                except BaseException as exc:
                    if isinstance(exc, GenerationReleased | ScriptedCrash):
                        self.steps_applied.append(step)
                    else:
                        command.error = exc
                    command.applied.set()
                    raise
                self.steps_applied.append(step)
                if outcome is _FAILED:
                    # The FAILURE is the test's: the app's worker must not overwrite it with its own
                    # (a generic message) before the stream has read it, so the call stays held until
                    # the test is over, like a generation that never returns.
                    self._finished.set()
                    command.applied.set()
                    self.released.wait()
                    raise GenerationReleased(f"generation #{self.index} was failed by the test")
                command.applied.set()
                if isinstance(step, Hold):
                    self._next_release().applied.set()
                if isinstance(outcome, dict):
                    return outcome
        finally:
            self._finished.set()

    def _next_command(self) -> _Command:
        while True:
            try:
                return self._commands.get(timeout=0.2)
            except queue.Empty:
                if self.released.is_set():
                    raise GenerationReleased(f"the test ended while generation #{self.index} was held") from None

    def _next_release(self) -> _Command:
        while True:
            command = self._next_command()
            if command.step is None:
                return command
            command.error = ScriptedGenerationError(f"{command.step!r} sent while held; call release() first")
            command.applied.set()

    def _apply(self, step: Step) -> dict[str, str] | object | None:
        match step:
            case Progress(message):
                self._scripter.write_progress(self.task_id, message)
            case Hold():
                pass
            case Succeed(title, body):
                return {
                    "title": title if title is not None else self._scripter.default_title(self.request_body),
                    "body": body if body is not None else "A scripted draft.",
                }
            case Fail(message):
                self._scripter.write_failure(self.task_id, message)
                return _FAILED
            case Crash(text):
                raise ScriptedCrash(text)
        return None


class TaskStateScripter:
    """The harness's side of task-state scripting; shared by the tests of one xdist worker.

    `hold` (or `ahold`) is what the app's generation service fake calls; everything else runs on the
    test thread.
    """

    def __init__(self, contract: AppContract, redis_client: Callable[[], redis.Redis]) -> None:
        if contract.task_state is None:
            raise ValueError(f"contract {contract.name!r} declares no task_state: it cannot be scripted by state")
        self.contract = contract
        self.shape: TaskStateShape = contract.task_state
        self._redis = redis_client
        self._started: queue.SimpleQueue[TaskStateRun] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._runs: list[TaskStateRun] = []
        self._opening: tuple[Step, ...] = ()

    # -- called by the app's generation service fake (its worker thread) --------------------------

    def hold(self, task_id: str, request_body: Mapping[str, Any]) -> dict[str, str]:
        """Hold the app's generation of `task_id` until the test ends it; the draft content
        (`{"title", "body"}`) on `run.succeed()`. Raises `GenerationReleased` or `ScriptedCrash`."""
        with self._lock:
            run = TaskStateRun(self, task_id, request_body, index=len(self._runs) + 1)
            self._runs.append(run)
            opening = self._opening
        self._started.put(run)
        return run._play(opening)

    async def ahold(self, task_id: str, request_body: Mapping[str, Any]) -> dict[str, str]:
        """`hold` for a service that is awaited: the wait happens on a thread, not the event loop."""
        import asyncio

        return await asyncio.to_thread(self.hold, task_id, request_body)

    # -- test thread ------------------------------------------------------------------------------

    def next_run(self, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> TaskStateRun:
        try:
            return self._started.get(timeout=timeout)
        except queue.Empty:
            raise ScriptedGenerationError(
                f"the app's generation service was not called within {timeout} s: did the page POST the "
                f"generation request, and does the app's gate factory hand the service fake in? "
                f"(generations started so far in this test: {len(self.runs)})"
            ) from None

    def autoplay(self, *steps: Step) -> None:
        with self._lock:
            self._opening = steps

    @property
    def runs(self) -> list[TaskStateRun]:
        with self._lock:
            return list(self._runs)

    def reset(self) -> None:
        """End every held call of the previous test and forget its runs."""
        with self._lock:
            for run in self._runs:
                run.released.set()
            self._runs.clear()
            self._opening = ()
        while True:
            try:
                self._started.get_nowait()
            except queue.Empty:
                break

    # -- the task state, written as the app's worker writes it ------------------------------------

    def default_title(self, request_body: Mapping[str, Any]) -> str:
        first = self.contract.form[0] if self.contract.form else None
        value = read_path(request_body, first.body_path) if first is not None else None
        return value if isinstance(value, str) and value else "Scripted draft"

    def _write(self, task_id: str, state: str, meta: dict[str, Any]) -> None:
        record: dict[str, Any] = {self.shape.state_field: state, self.shape.meta_field: meta}
        if self.shape.stamp_field:
            record[self.shape.stamp_field] = time.time()
        self._redis().set(self.shape.key_of(task_id), json.dumps(record), ex=self.shape.ttl_s)

    def write_progress(self, task_id: str, message: str) -> None:
        meta = write_path(dict(self.shape.progress_meta), self.contract.payloads.progress_text, message)
        self._write(task_id, self.shape.states.progress, meta)

    def write_failure(self, task_id: str, message: str) -> None:
        meta = write_path(dict(self.shape.failure_meta), self.contract.payloads.error_message, message)
        self._write(task_id, self.shape.states.failure, meta)

    def read_state(self, task_id: str) -> str | None:
        raw = self._redis().get(self.shape.key_of(task_id))
        if raw is None:
            return None
        try:
            state = json.loads(raw).get(self.shape.state_field)
        except (ValueError, AttributeError):
            return None
        return state if isinstance(state, str) else None

    def wait_for_state(self, task_id: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (seen := self.read_state(task_id)) != state:
            if time.monotonic() > deadline:
                raise ScriptedGenerationError(
                    f"the app's worker did not write {state!r} for task {task_id} within {timeout} s "
                    f"(state now: {seen!r})"
                )
            time.sleep(_STATE_POLL_S)
