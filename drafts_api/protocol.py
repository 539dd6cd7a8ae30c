"""The wire protocol between the drafts API and its pages, in one place.

Every request body, response body and SSE event payload is a pydantic model here. The stream
route, the OpenAPI document, the harness's frame validation and the README table are all derived
from these models, so the protocol cannot drift between the two sides without a test noticing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from pydantic_core import PydanticCustomError

CampaignId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
TaskId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{16,64}$")]


class TaskState(StrEnum):
    """The task states written to Redis, in the order a generation goes through them."""

    PENDING = "PENDING"
    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"

    @property
    def is_terminal(self) -> bool:
        return self in (TaskState.SUCCESS, TaskState.FAILURE)


class Tone(StrEnum):
    PROFESSIONAL = "professional"
    FRIENDLY = "friendly"
    PLAYFUL = "playful"
    FORMAL = "formal"


class Length(StrEnum):
    SHORT = "short"
    MEDIUM = "medium"
    LONG = "long"


MAX_UNKNOWN_FIELDS: Final = 10


def _class_of(chars: list[str]) -> str:
    return "".join(f"\\u{ord(char):04x}" for char in chars)


# Exactly the characters `str.strip()` removes, spelled out: `\s` differs between Python's regexes
# (which Schemathesis and pydantic use) and ECMA-262's (which JSON Schema specifies), e.g. on U+0085.
_WHITESPACE: Final = _class_of([chr(code) for code in range(0x3001) if chr(code).isspace()])


def stripped_length_pattern(min_length: int, max_length: int) -> str:
    """A regex that holds exactly when a string, stripped of surrounding whitespace, has a length in range.

    Text fields are stripped before their length is checked, so `minLength`/`maxLength` alone would
    publish the wrong limits ("   a" has 4 characters and is refused).
    """
    if min_length < 1 or max_length < max(min_length, 2):
        raise ValueError(f"unsupported stripped length range {min_length}..{max_length}")
    space, text = f"[{_WHITESPACE}]*", f"[^{_WHITESPACE}]"
    if min_length == 1:
        return f"^{space}{text}(?:[\\s\\S]{{0,{max_length - 2}}}{text})?{space}$"
    return f"^{space}{text}[\\s\\S]{{{min_length - 2},{max_length - 2}}}{text}{space}$"


def _stripped(min_length: int, max_length: int) -> Callable[[dict[str, Any]], None]:
    """The published schema of a stripped text field: its pattern, no raw `maxLength` (it does not hold)."""

    def edit(schema: dict[str, Any]) -> None:
        schema.pop("maxLength", None)
        schema["pattern"] = stripped_length_pattern(min_length, max_length)
        schema["description"] = (
            schema.get("description", "") + f" {min_length}-{max_length} characters once surrounding whitespace is"
            " stripped."
        ).strip()

    return edit


class GenerateRequest(BaseModel):
    """The generation inputs posted by the new-draft form."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topic: Annotated[
        str,
        Field(
            min_length=3, max_length=200, description="What the draft is about.", json_schema_extra=_stripped(3, 200)
        ),
    ]
    audience: Annotated[
        str,
        Field(min_length=1, max_length=120, description="Who it is written for.", json_schema_extra=_stripped(1, 120)),
    ]
    tone: Tone = Tone.PROFESSIONAL
    length: Length = Length.MEDIUM
    key_points: Annotated[
        list[
            Annotated[
                str,
                StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
                Field(json_schema_extra=_stripped(1, 200)),
            ]
        ],
        Field(max_length=10, description="Points the draft must cover, at most 10."),
    ] = []

    @model_validator(mode="before")
    @classmethod
    def _few_unknown_fields(cls, data: Any) -> Any:
        # One error per unknown key is what `extra="forbid"` gives: for a body of thousands of keys that
        # costs ~40 ms of the event loop per request. Past a handful, one error says it all, at once.
        if isinstance(data, dict) and len(data) > len(cls.model_fields) + MAX_UNKNOWN_FIELDS:
            unknown = [str(key) for key in data if key not in cls.model_fields]
            raise PydanticCustomError(
                "too_many_unknown_fields",
                "{count} unknown fields: {names} and more",
                {"count": len(unknown), "names": ", ".join(unknown[:MAX_UNKNOWN_FIELDS])},
            )
        return data


class GenerateAccepted(BaseModel):
    """202 answer to a generation request: where to follow the task's progress."""

    task_id: str
    stream_url: Annotated[str, Field(description="Path of the SSE stream, relative to the API origin.")]


class Draft(BaseModel):
    """A saved draft, as the editor page loads it and as the `success` event carries it."""

    id: str
    campaign_id: str
    title: str
    body: str
    tone: Tone
    length: Length
    created_at: datetime


class ErrorResponse(BaseModel):
    """Every 4xx/5xx JSON body: one readable sentence, plus field errors for 422."""

    detail: str
    errors: list[str] = []


# --- SSE event payloads -------------------------------------------------------------------------


class StatusEvent(BaseModel):
    """Data of `started`, `pending` and `progress`: the text the page shows while work runs."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["status"] = "status"
    message: str


class CompleteEvent(BaseModel):
    """Data of `success`: the saved draft (already readable at `GET /v1/drafts/{id}`)."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["complete"] = "complete"
    draft: Draft


class ErrorEvent(BaseModel):
    """Data of the server's `error` event: a message meant for the user, shown verbatim."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["error"] = "error"
    message: str


class DoneEvent(BaseModel):
    """Data of `done`, the last event of every stream: `{}` (an event needs a data line)."""

    model_config = ConfigDict(extra="forbid")


# Event name -> payload model. The names are the `event:` field on the wire; none is unnamed,
# which is exactly why a page listening only with `onmessage` receives nothing.
STREAM_EVENTS: Final[dict[str, type[BaseModel]]] = {
    "started": StatusEvent,
    "pending": StatusEvent,
    "progress": StatusEvent,
    "success": CompleteEvent,
    "error": ErrorEvent,
    "done": DoneEvent,
}

# The event each task state is announced with.
EVENT_FOR_STATE: Final[dict[TaskState, str]] = {
    TaskState.PENDING: "pending",
    TaskState.STARTED: "started",
    TaskState.PROGRESS: "progress",
    TaskState.SUCCESS: "success",
    TaskState.FAILURE: "error",
}

TERMINAL_EVENTS: Final[frozenset[str]] = frozenset({"success", "error"})


def stream_path(campaign_id: str, task_id: str) -> str:
    return f"/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}"


def generate_path(campaign_id: str) -> str:
    return f"/v1/campaigns/{campaign_id}/drafts/generate"


def draft_path(draft_id: str) -> str:
    return f"/v1/drafts/{draft_id}"
