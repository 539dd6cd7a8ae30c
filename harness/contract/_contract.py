"""The app contract: what the gate knows of the app under test, in one typed object.

Every scenario, page object, the stub page's generated config and every diagnosis rule read the
app's protocol from here, never from `drafts_api` directly, so that a team can gate its own app of
the same shape by writing one `AppContract`. `DRAFTS_API` (our reference app) is the default.

Routes are templates with `{campaign_id}`, `{task_id}` and `{draft_id}` placeholders. Payload
locations are dotted paths into an event's JSON `data` ("draft.id"), read with `read_path`.

Besides routes, events and payloads, a contract says how the page's form maps to the request body
(`FormField`), which texts the app shows for its fixed failures (`Messages`), the timings the app runs
with under the gate (`Timings`), and, for an app whose generation cannot be handed the harness's
generator, how its worker writes the task state (`TaskStateShape`), so that the test can step the
generation by writing that state itself (see `harness.scripting.TaskStateScripter`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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


def write_path(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set dotted `path` in `payload` (creating objects on the way); returns `payload`."""
    steps = path.split(".")
    target = payload
    for step in steps[:-1]:
        nested = target.get(step)
        if not isinstance(nested, dict):
            nested = target[step] = {}
        target = nested
    target[steps[-1]] = value
    return payload


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

    def url_regex(self) -> re.Pattern[str]:
        """A regex matching full URLs that end in this route (no named groups: Playwright runs it as
        a JS RegExp, e.g. in `page.route`)."""
        parts = _PLACEHOLDER.split(self.template)
        regex = "".join("[^/?#]+" if index % 2 else re.escape(part) for index, part in enumerate(parts))
        return re.compile(regex + "$")

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
    def progress(self) -> str:
        """The status event that carries each progress message (the last of `status`)."""
        return self.status[-1]

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
    """The timings the app under test declares (as it runs under the gate); scenarios and diagnosis
    derive their bounds from them, never from the harness's own settings."""

    poll_interval_s: float = 1.5
    heartbeat_interval_s: float = 15.0  # the longest quiet gap between two frames of a healthy stream
    retry_ms: int | None = 3000  # the `retry:` the stream sends, if any
    # The shortest TTL of the task state in Redis that outlives a long generation and the page's
    # reconnects (a state that expires mid-generation reads as an unknown task).
    min_task_ttl_s: float = 300.0

    def event_bound_ms(self, margin_s: float = 5.0) -> float:
        """How long a page may take to show a state written to the store: two polls, plus a margin."""
        return (2 * self.poll_interval_s + margin_s) * 1000


FieldKind = Literal["text", "textarea", "select", "lines", "number"]


@dataclass(frozen=True)
class FormField:
    """One input of the new-draft form and where its value goes in the POST's JSON body.

    `kind` says how the page turns the input into JSON: text/textarea/select as a string, `lines` as a
    list of the non-empty trimmed lines, `number` as an integer. `sample` is what a scenario types when
    it needs valid input, `other` a second valid value (to prove the field really reaches the body).
    """

    name: str  # how scenarios refer to it (`new_draft.fill(topic=...)`)
    label: str  # the accessible label on the page
    body_path: str  # dotted path in the JSON body ("options.word_count")
    kind: FieldKind = "text"
    options: tuple[str, ...] = ()  # a select's choices
    sample: str = ""
    other: str = ""

    def to_json(self, typed: str) -> Any:
        """The body value the page must send for `typed` (what the user entered)."""
        if self.kind == "lines":
            return [line.strip() for line in typed.split("\n") if line.strip()]
        if self.kind == "number":
            return int(typed)
        return typed


@dataclass(frozen=True)
class Messages:
    """Texts of the app the scenarios expect verbatim on the page (None: the app has no such text,
    and the scenario asserts only that an error is shown)."""

    generic_failure: str | None = None  # the generator crashed: never the exception's text
    store_unavailable_stream: str | None = None  # Redis failed while streaming
    store_unavailable_post: str | None = None  # Redis down when Generate is clicked (a 503's detail)
    task_not_found: str | None = None  # unknown task or a task of another campaign
    invalid_input: str | None = None  # fragment of the 422 shown for `AppContract.invalid_input`
    started: str | None = None  # the status text once the worker took the task (None: its `started` has none)


@dataclass(frozen=True)
class TaskStates:
    pending: str = "PENDING"
    started: str = "STARTED"
    progress: str = "PROGRESS"
    success: str = "SUCCESS"
    failure: str = "FAILURE"


@dataclass(frozen=True)
class TaskStateShape:
    """How the app's worker records a task in Redis, so that a test can write it the same way.

    The value under `key` is JSON `{state_field: <state>, meta_field: {...}}` with a TTL of `ttl_s`.
    A progress meta is `progress_meta` with the text at `PayloadPaths.progress_text`; a failure meta
    is `failure_meta` with the text at `PayloadPaths.error_message`. With `stamp_field`, every write
    carries a fresh value there (the worker's timestamp), so two equal messages are two changes.
    """

    key: str = "task:{task_id}"
    ttl_s: int = 3600
    state_field: str = "state"
    meta_field: str = "meta"
    states: TaskStates = field(default_factory=TaskStates)
    progress_meta: Mapping[str, Any] = field(default_factory=lambda: {"type": "status"})
    failure_meta: Mapping[str, Any] = field(default_factory=lambda: {"type": "error"})
    stamp_field: str | None = None

    def key_of(self, task_id: str) -> str:
        if "{task_id}" not in self.key:
            raise ValueError(f"task state key {self.key!r} has no {{task_id}} placeholder")
        return self.key.replace("{task_id}", task_id)


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
    form: tuple[FormField, ...] = ()
    invalid_input: Mapping[str, str] = field(default_factory=dict)  # form values the API refuses (422)
    messages: Messages = field(default_factory=Messages)
    other_campaign_id: str = "someone-else"  # a campaign the scenarios' tasks do not belong to
    draft_resource_title: str = "title"  # in the draft route's JSON
    draft_resource_body: str = "body"
    task_state: TaskStateShape | None = None  # None: scripted through the app's generator seam
    # Known defects of the app: scenario (test function name) -> reason. Those scenarios are strict
    # expected failures for this app: they must fail (the defect is asserted, not skipped), and one
    # that passes fails the run (the defect is fixed: drop it here).
    known_findings: Mapping[str, str] = field(default_factory=dict)

    def field(self, name: str) -> FormField:
        for form_field in self.form:
            if form_field.name == name:
                return form_field
        raise KeyError(f"contract {self.name!r} has no form field {name!r}; it has {[f.name for f in self.form]}")

    def stream_url(self, campaign_id: str, task_id: str) -> str:
        return self.stream.fill(campaign_id=campaign_id, task_id=task_id)

    def sample_body(self) -> dict[str, Any]:
        """The POST body the page sends for the form filled with every field's `sample`."""
        body: dict[str, Any] = {}
        for form_field in self.form:
            write_path(body, form_field.body_path, form_field.to_json(form_field.sample))
        return body

    def stream_url_of(self, answer: Mapping[str, Any], campaign_id: str | None = None) -> str:
        """Where the page opens the stream for the POST's JSON `answer`: the URL the answer names,
        or the stream route filled with its task id (`stream_url_field` None, as the production page)."""
        if self.stream_url_field is not None:
            return str(answer[self.stream_url_field])
        return self.stream_url(campaign_id or self.campaign_id, str(answer[self.task_id_field]))

    def editor_path(self, draft_id: str, campaign_id: str | None = None) -> str:
        return self.editor_page.fill(draft_id=draft_id, campaign_id=campaign_id or self.campaign_id)

    def editor_url_pattern(self) -> re.Pattern[str]:
        """The editor route as a regex for Playwright's `to_have_url` (no named groups: it runs as a
        JS RegExp); group 1 is the draft id."""
        parts = _PLACEHOLDER.split(self.editor_page.template)
        regex = ""
        for index, part in enumerate(parts):
            if index % 2 == 0:
                regex += re.escape(part)
            else:
                regex += "([^/?#]+)" if part == "draft_id" else "[^/?#]+"
        return re.compile(regex + "$")

    def frontend_config(self) -> dict[str, Any]:
        """What the stub page needs of this contract, for its generated `/config.js`."""
        return {
            "routes": {
                "generate": self.generate.template,
                "stream": self.stream.template,
                "draft": self.draft.template,
                "newDraftPage": self.new_draft_page.template,
                "editorPage": self.editor_page.template,
            },
            "taskIdField": self.task_id_field,
            "streamUrlField": self.stream_url_field,
            "form": [
                {
                    "name": f.name,
                    "label": f.label,
                    "bodyPath": f.body_path,
                    "kind": f.kind,
                    "options": list(f.options),
                    **({"value": f.sample} if f.kind == "select" and f.sample else {}),  # a select's default
                }
                for f in self.form
            ],
            "draftTitlePath": self.draft_resource_title,
            "draftBodyPath": self.draft_resource_body,
        }

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
    form=(
        FormField("topic", "Topic", "topic", sample="Spring launch", other="Autumn sale"),
        FormField("audience", "Audience", "audience", sample="Existing customers", other="Students"),
        FormField(
            "tone",
            "Tone",
            "tone",
            kind="select",
            options=("professional", "friendly", "playful", "formal"),
            sample="professional",
            other="playful",
        ),
        FormField(
            "length",
            "Length",
            "length",
            kind="select",
            options=("short", "medium", "long"),
            sample="medium",
            other="short",
        ),
        FormField(
            "key_points", "Key points", "key_points", kind="lines", sample="", other="Free shipping\nTwo for one"
        ),
    ),
    invalid_input={"topic": "ab"},
    messages=Messages(
        generic_failure="Draft generation failed. Please try again.",
        store_unavailable_stream="Lost connection to the task store. Please try again.",
        store_unavailable_post="The task store is unavailable. Please try again shortly.",
        task_not_found="No such generation task for this campaign (it may have expired).",
        invalid_input="topic: String should have at least 3 characters",
        started="Generation started...",
    ),
)
"""Our reference app (`drafts_api`), as the harness serves it with production timings."""
