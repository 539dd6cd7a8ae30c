"""The one seam through which drafts are generated.

The task runner calls `DraftGenerator.generate(request, report_progress)`. Production would put a
language model behind it; the default here is deterministic and offline. The harness substitutes a
generator that the test thread steps through (`harness.scripting`), so a browser test decides when
each progress message is written and when the task ends, and never waits on a clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from drafts_api.protocol import GenerateRequest, Length

ProgressCallback = Callable[[str], Awaitable[None]]
"""Records a progress message in the task state; returns once it is written to Redis."""


class DraftContent(BaseModel):
    """What a generator produces; the runner saves it as a `Draft`."""

    title: str
    body: str


class GenerationFailed(Exception):
    """A failure whose message is meant for the user: the stream's `error` event carries it verbatim.

    Any other exception from a generator is logged and reported with a generic message, so internal
    details never reach the page.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@runtime_checkable
class DraftGenerator(Protocol):
    async def generate(self, request: GenerateRequest, report_progress: ProgressCallback) -> DraftContent:
        """Build a draft from `request`, calling `report_progress` at each phase."""
        ...


_POINTS_FOR_LENGTH = {Length.SHORT: 1, Length.MEDIUM: 3, Length.LONG: 10}


class DeterministicGenerator:
    """Offline generator: the same inputs always give the same draft and the same phases.

    `phase_delay` spaces the phases out so a person clicking through `make serve` can read them;
    tests never rely on it (they use the scripted generator).
    """

    def __init__(self, phase_delay: float = 0.0) -> None:
        self.phase_delay = phase_delay

    async def _phase(self, report_progress: ProgressCallback, message: str) -> None:
        await report_progress(message)
        if self.phase_delay:
            await asyncio.sleep(self.phase_delay)

    async def generate(self, request: GenerateRequest, report_progress: ProgressCallback) -> DraftContent:
        await self._phase(report_progress, f"Analyzing campaign brief for {request.audience}...")
        await self._phase(report_progress, f"Outlining {len(request.key_points) or 3} key points...")
        await self._phase(report_progress, f"Writing a {request.length.value} draft in a {request.tone.value} tone...")
        await self._phase(report_progress, "Polishing and saving the draft...")
        points = request.key_points or ["why it matters", "what changes", "what to do next"]
        paragraphs = [f"{request.topic}, for {request.audience}."]
        paragraphs += [f"On {point}: {request.topic} in a {request.tone.value} voice." for point in points]
        paragraphs = paragraphs[: 1 + _POINTS_FOR_LENGTH[request.length]]
        return DraftContent(title=request.topic, body="\n\n".join(paragraphs))
