"""Scripted generation: the test thread steps the backend's generator, one state change at a time.

The backend calls `ScriptedGenerator.generate()` on its own event loop when the page clicks Generate.
That call becomes a `ScriptedRun`, and then does nothing until the test tells it what to do:

    run = scripted.next_run()          # the page has POSTed; the generation is held
    run.progress("Analyzing...")       # written to Redis when this returns
    expect(status).to_have_text("Analyzing...")   # the page must show it while the run is held
    run.succeed()                      # the generator returns a draft; the runner saves it

Because every step the page must show is gated by the test, a buffered stream or a lost event fails
at once with an `expect` timeout instead of passing by luck of timing, and no test sleeps.
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from drafts_api.generation import DraftContent, GenerationFailed, ProgressCallback
from drafts_api.protocol import GenerateRequest

DEFAULT_STEP_TIMEOUT_S: Final = 10.0


class ScriptedGenerationError(AssertionError):
    """A scripted step could not be carried out (no generation started, the backend went away...)."""


@dataclass(frozen=True)
class Progress:
    """Report a progress message (the stream sends it as a `progress` event)."""

    message: str


@dataclass(frozen=True)
class Hold:
    """Hold the generation until the test calls `run.release()`."""


@dataclass(frozen=True)
class Succeed:
    """Return a draft; the runner saves it, then writes SUCCESS. Title/body default from the inputs."""

    title: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class Fail:
    """Fail with a message meant for the user (`GenerationFailed`): the `error` event carries it."""

    message: str


@dataclass(frozen=True)
class Crash:
    """Raise an unexpected exception: the user must see a generic message, never its text."""

    text: str = "scripted crash"


Step = Progress | Hold | Succeed | Fail | Crash


def describe_step(step: Step | None) -> str:
    """`progress 'Analyzing...'`, `succeed`, `release`: a step as the timeline and the trace name it."""
    match step:
        case None:
            return "release"
        case Progress(message):
            return f"progress {message!r}"
        case Fail(message):
            return f"fail {message!r}"
        case Crash(text):
            return f"crash {text!r}"
        case Succeed(title, _):
            return f"succeed (title {title!r})" if title is not None else "succeed"
        case Hold():
            return "hold"
    return repr(step)


@dataclass(frozen=True)
class StepRecord:
    """One scripted step and when it happened (wall-clock seconds, the evidence's clock).

    `t_end` is None while the step is being applied; `error` says why it was not.
    `by` is "test" for a step the test sent, "autoplay" for one the run played by itself.
    """

    run: int
    step: str
    t_start: float
    t_end: float | None = None
    error: str = ""
    by: str = "test"


StepObserver = Callable[[StepRecord], None]
"""Called on the test thread when a step starts (`t_end` None) and when it has been applied."""


@dataclass
class _Command:
    step: Step | None  # None: release a Hold
    applied: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class RunSteps:
    """The verbs every kind of run shares, over the one way it delivers a step (`_send`): a held
    generation of the harness's generator (`ScriptedRun`) or of an app's own worker (`TaskStateRun`)."""

    _finished: threading.Event

    def _send(self, step: Step | None, timeout: float) -> None:
        raise NotImplementedError

    def hold(self, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """Queue a barrier: later steps wait until `release()` (a run also waits between commands)."""
        self._send(Hold(), timeout)

    def release(self, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        self._send(None, timeout)

    def play(self, *steps: Step, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """Apply several steps in order, each acknowledged before the next."""
        for step in steps:
            self._send(step, timeout)

    @property
    def finished(self) -> bool:
        return self._finished.is_set()


class ScriptedRun(RunSteps):
    """One generation in the backend, driven from the test thread."""

    def __init__(self, request: GenerateRequest, loop: asyncio.AbstractEventLoop, index: int) -> None:
        self.request = request
        self.index = index
        self._loop = loop
        self._commands: asyncio.Queue[_Command] = asyncio.Queue()
        self._finished = threading.Event()
        self.steps_applied: list[Step] = []
        self.history: list[StepRecord] = []  # appended on the test thread, or the loop for autoplay
        self._observers: tuple[StepObserver, ...] = ()

    @property
    def request_body(self) -> dict[str, Any]:
        """The request as JSON, as the page sent it (what `TaskStateRun.request_body` also gives)."""
        return self.request.model_dump(mode="json")

    # -- test thread ------------------------------------------------------------------------------

    def progress(self, message: str, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        """Report `message`; returns once it is written to the task state in Redis."""
        self._send(Progress(message), timeout)

    def succeed(
        self, title: str | None = None, body: str | None = None, *, timeout: float = DEFAULT_STEP_TIMEOUT_S
    ) -> None:
        """End the generation with a draft; returns once the generator has returned it.

        The job then saves the draft and writes SUCCESS on its own: a stream opened right after
        this may still see `started` first, so open it before (or wait for the state).
        """
        self._send(Succeed(title, body), timeout)

    def fail(self, message: str, *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        self._send(Fail(message), timeout)

    def crash(self, text: str = "scripted crash", *, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> None:
        self._send(Crash(text), timeout)

    def _send(self, step: Step | None, timeout: float) -> None:
        record = StepRecord(self.index, describe_step(step), time.time())
        self._notify(record)
        try:
            self._send_unrecorded(step, timeout)
        except BaseException as exc:
            self._finish_record(replace(record, t_end=time.time(), error=str(exc)))
            raise
        self._finish_record(replace(record, t_end=time.time()))

    def _finish_record(self, record: StepRecord) -> None:
        self.history.append(record)
        self._notify(record)

    def _notify(self, record: StepRecord) -> None:
        for observer in self._observers:
            observer(record)

    def _send_unrecorded(self, step: Step | None, timeout: float) -> None:
        if self._finished.is_set():
            raise ScriptedGenerationError(
                f"generation #{self.index} already ended (after {self.steps_applied!r}); cannot apply {step!r}"
            )
        command = _Command(step)
        try:
            self._loop.call_soon_threadsafe(self._commands.put_nowait, command)
        except RuntimeError as exc:  # the backend's event loop is closed
            raise ScriptedGenerationError(f"the backend's event loop is gone; cannot apply {step!r}") from exc
        if not command.applied.wait(timeout):
            raise ScriptedGenerationError(
                f"the backend did not apply {step!r} within {timeout} s (generation #{self.index}; "
                f"applied so far: {self.steps_applied!r})"
            )
        if command.error is not None:
            raise ScriptedGenerationError(f"applying {step!r} failed in the backend: {command.error!r}") from (
                command.error
            )

    # -- backend event loop -----------------------------------------------------------------------

    async def _play(self, report_progress: ProgressCallback, opening: tuple[Step, ...]) -> DraftContent:
        try:
            pending = [_Command(step) for step in opening]
            while True:
                autoplayed = bool(pending)
                command = pending.pop(0) if pending else await self._commands.get()
                step = command.step
                if autoplayed:
                    # Not the test thread: recorded without observers (they may call Playwright).
                    self.history.append(StepRecord(self.index, describe_step(step), time.time(), by="autoplay"))
                if step is None:
                    command.error = ScriptedGenerationError("release() sent while not held")
                    command.applied.set()
                    continue
                try:
                    outcome = await self._apply(step, report_progress)
                except (GenerationFailed, RuntimeError):
                    # Fail and Crash end the generation by raising into the runner, as intended.
                    self.steps_applied.append(step)
                    command.applied.set()
                    raise
                except BaseException as exc:
                    command.error = exc
                    command.applied.set()
                    raise
                self.steps_applied.append(step)
                command.applied.set()
                if isinstance(step, Hold):
                    (await self._next_release()).applied.set()
                if outcome is not None:
                    return outcome
        finally:
            self._finished.set()

    async def _next_release(self) -> _Command:
        while True:
            command = await self._commands.get()
            if command.step is None:
                return command
            command.error = ScriptedGenerationError(f"{command.step!r} sent while held; call release() first")
            command.applied.set()

    async def _apply(self, step: Step, report_progress: ProgressCallback) -> DraftContent | None:
        match step:
            case Progress(message):
                await report_progress(message)
            case Hold():
                pass
            case Succeed(title, body):
                return DraftContent(
                    title=title if title is not None else self.request.topic,
                    body=body
                    if body is not None
                    else f"A draft about {self.request.topic} for {self.request.audience}.",
                )
            case Fail(message):
                raise GenerationFailed(message)
            case Crash(text):
                raise RuntimeError(text)
        return None


class ScriptedGenerator:
    """The `DraftGenerator` the harness plugs into the backend; shared by all tests of a worker.

    Thread-safe: `generate()` runs on the backend's loop, everything else on the test thread.
    """

    def __init__(self) -> None:
        self._started: queue.SimpleQueue[ScriptedRun] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._runs: list[ScriptedRun] = []
        self._opening: tuple[Step, ...] = ()
        self._observers: tuple[StepObserver, ...] = ()
        self._taken: list[StepRecord] = []  # `next_run` returns, on the test thread

    async def generate(self, request: GenerateRequest, report_progress: ProgressCallback) -> DraftContent:
        with self._lock:
            run = ScriptedRun(request, asyncio.get_running_loop(), index=len(self._runs) + 1)
            run._observers = self._observers
            self._runs.append(run)
            opening = self._opening
        self._started.put(run)
        return await run._play(report_progress, opening)

    def observe(self, observer: StepObserver) -> Callable[[], None]:
        """Call `observer` around every step the test sends (and `next_run`); returns the undo."""
        with self._lock:
            self._observers = (*self._observers, observer)
            for run in self._runs:
                run._observers = self._observers

        def remove() -> None:
            with self._lock:
                self._observers = tuple(o for o in self._observers if o is not observer)
                for run in self._runs:
                    run._observers = self._observers

        return remove

    def history(self) -> list[StepRecord]:
        """Every step of this test's generations so far, and each `next_run`, in time order."""
        with self._lock:
            records = [*self._taken, *(record for run in self._runs for record in run.history)]
        return sorted(records, key=lambda record: record.t_start)

    def next_run(self, timeout: float = DEFAULT_STEP_TIMEOUT_S) -> ScriptedRun:
        t_start = time.time()
        try:
            run = self._started.get(timeout=timeout)
        except queue.Empty:
            raise ScriptedGenerationError(
                f"no generation started within {timeout} s: did the page POST the generation request? "
                f"(generations started so far in this test: {len(self.runs)})"
            ) from None
        record = StepRecord(run.index, "generation started (next_run)", t_start, time.time())
        with self._lock:
            self._taken.append(record)
            observers = self._observers
        for observer in observers:
            observer(record)
        return run

    def autoplay(self, *steps: Step) -> None:
        """Steps every upcoming generation plays by itself before waiting for the test."""
        with self._lock:
            self._opening = steps

    @property
    def runs(self) -> list[ScriptedRun]:
        with self._lock:
            return list(self._runs)

    def reset(self) -> None:
        """Forget the previous test's runs (the harness cancels their tasks separately)."""
        with self._lock:
            self._runs.clear()
            self._taken.clear()
            self._opening = ()
        while True:
            try:
                self._started.get_nowait()
            except queue.Empty:
                break
