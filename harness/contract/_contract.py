"""The app contract: what the gate knows of the app under test, in one typed object.

Every scenario, page object, the stub page's generated config and every diagnosis rule read the
app's protocol from here, never from `drafts_api` directly, so that a team can gate its own app of
the same shape by writing one `AppContract`. `DRAFTS_API` (our reference app) is the default.

Routes are templates with `{campaign_id}`, `{task_id}` and `{draft_id}` placeholders. Payload
locations are dotted paths into an event's JSON `data` ("draft.id"), read with `read_path`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_PLACEHOLDER = re.compile(r"\{(campaign_id|task_id|draft_id)\}")
_MISSING = object()


def read_path(payload: Any, path: str) -> Any:
    """The value at dotted `path` in a decoded JSON payload, or None when any step is missing."""
    value = payload
    for step in path.split(".") if path else ():
        if isinstance(value, Mapping):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
        if value is _MISSING:
            return None
    return value


def _pattern(template: str) -> re.Pattern[str]:
    """A regex for a route template: each placeholder matches one path segment (named group)."""
    parts = _PLACEHOLDER.split(template)
    regex = "".join(f"(?P<{part}>[^/?#]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts))
    return re.compile(f"^{regex}$")


@dataclass(frozen=True)
class Route:
    """A path template such as `/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}`."""

    template: str

    def __post_init__(self) -> None:
        unknown = set(re.findall(r"\{([^}]*)\}", self.template)) - {"campaign_id", "task_id", "draft_id"}
        if unknown:
            raise ValueError(f"route {self.template!r} has unknown placeholders {sorted(unknown)}")

    def fill(self, **values: str) -> str:
        missing = set(_PLACEHOLDER.findall(self.template)) - set(values)
        if missing:
            raise ValueError(f"route {self.template!r} needs {sorted(missing)}, got {sorted(values)}")
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.template)

    def match(self, path: str) -> dict[str, str] | None:
        """The placeholders' values when `path` (no query) is this route, else None."""
        found = _pattern(self.template).match(path.split("?", 1)[0])
        return found.groupdict() if found else None


@dataclass(frozen=True)
class EventNames:
    """The `event:` names on the wire. A status event carries progress text; one terminal event
    (success or error) ends the generation, then `done` ends the stream."""

    status: tuple[str, ...] = ("pending", "started", "progress")
    success: str = "success"
    error: str = "error"
    done: str = "done"

    @property
    def terminal(self) -> frozenset[str]:
        return frozenset({self.success, self.error})

    @property
    def all(self) -> tuple[str, ...]:
        return (*self.status, self.success, self.error, self.done)


@dataclass(frozen=True)
class PayloadPaths:
    """Where the page reads each fact in an event's JSON data (dotted paths, `read_path`)."""

    progress_text: str = "message"  # in a status event
    draft_id: str = "draft.id"  # in the success event
    draft_title: str = "draft.title"
    draft_body: str = "draft.body"
    error_message: str = "message"  # in the error event


@dataclass(frozen=True)
class Timings:
    """The timings the app under test declares; scenarios and diagnosis derive their bounds from them."""

    poll_interval_s: float = 1.5
    heartbeat_interval_s: float = 15.0  # the longest quiet gap between two frames of a healthy stream
    retry_ms: int | None = 3000  # the `retry:` the stream sends, if any


@dataclass(frozen=True)
class AppContract:
    """What the gate knows of one app. `DRAFTS_API` is ours; write one for your own app."""

    name: str
    campaign_id: str
    generate: Route  # POST, JSON body built from the page's form
    stream: Route  # GET, text/event-stream
    draft: Route  # GET, the saved draft (the editor fetches it)
    new_draft_page: Route  # the page with the form and the Generate button
    editor_page: Route  # where the page lands after success
    task_id_field: str = "task_id"  # in the POST answer
    stream_url_field: str | None = "stream_url"  # in the POST answer; None: the page fills `stream`
    events: EventNames = field(default_factory=EventNames)
    payloads: PayloadPaths = field(default_factory=PayloadPaths)
    timings: Timings = field(default_factory=Timings)

    def stream_ids(self, path: str) -> tuple[str, str] | None:
        """(campaign_id, task_id) when `path` is this app's stream route."""
        values = self.stream.match(path)
        return (values.get("campaign_id", ""), values.get("task_id", "")) if values else None

    def is_generate(self, path: str) -> bool:
        return self.generate.match(path) is not None

    def draft_id_of_draft_path(self, path: str) -> str | None:
        values = self.draft.match(path)
        return values.get("draft_id") if values else None

    def progress_text(self, payload: Any) -> str | None:
        text = read_path(payload, self.payloads.progress_text)
        return text if isinstance(text, str) else None

    def draft_id(self, payload: Any) -> str | None:
        value = read_path(payload, self.payloads.draft_id)
        return str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None

    def error_message(self, payload: Any) -> str | None:
        text = read_path(payload, self.payloads.error_message)
        return text if isinstance(text, str) else None


DRAFTS_API = AppContract(
    name="drafts_api",
    campaign_id="spring-launch",
    generate=Route("/v1/campaigns/{campaign_id}/drafts/generate"),
    stream=Route("/v1/campaigns/{campaign_id}/drafts/generate/stream/{task_id}"),
    draft=Route("/v1/drafts/{draft_id}"),
    new_draft_page=Route("/dashboard/campaigns/{campaign_id}/drafts/new"),
    editor_page=Route("/dashboard/drafts/{draft_id}/edit"),
)
"""Our reference app (`drafts_api`), as the harness serves it with production timings."""
