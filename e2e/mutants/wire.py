"""Wire mutants, generated: mutation operators applied to the reference backend's stream, frame by frame.

Each operator is a small transform of the stream as the browser would see it (one `FrameEdit` per
response, so a held-back event can be released later), of its head (status, headers), or of how it
ends. `WIRE_MUTANTS` is every operator crossed with the events, fields or headers it applies to;
each entry is an app factory for `--backend-app e2e.mutants.wire:NAME` (the module resolves names
through `__getattr__`), taking the harness's parts so the backend stays scriptable.

Hand-written on purpose, not a library: no SSE library rewrites a live response frame by frame
while keeping the chunk boundaries the backend chose (each chunk is one event, so a transform that
holds one back is visible to the page exactly as a reordering proxy would make it).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafts_api.app import create_app
from drafts_api.settings import Settings
from harness.contract import DRAFTS_API, AppContract
from harness.scripting import ScriptedGenerator

Line = tuple[str, str]  # (field, value); a comment has the field ""
Frame = tuple[Line, ...]
Headers = list[tuple[bytes, bytes]]

_SEP = "\r\n"


def parse_frames(chunk: bytes) -> list[Frame]:
    """The frames in one body chunk (the backend writes whole frames per chunk)."""
    text = chunk.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    frames = []
    for block in text.split("\n\n"):
        if not block.strip("\n"):
            continue
        lines = []
        for raw in block.split("\n"):
            field, _, value = raw.partition(":")
            lines.append((field, value.removeprefix(" ")))
        frames.append(tuple(lines))
    return frames


def render_frames(frames: list[Frame], sep: str = _SEP) -> bytes:
    return "".join(sep.join(f"{k}: {v}" if k else f": {v}" for k, v in frame) + sep + sep for frame in frames).encode()


def event_of(frame: Frame) -> str | None:
    """The frame's event name (`message` when it has data but no name), None for comments and retry-only."""
    fields = dict(frame)
    if "data" not in fields:
        return None
    return fields.get("event", "message")


class FrameEdit:
    """Per-response transform; the default passes everything through."""

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return frames

    def end(self) -> list[Frame]:
        """Frames still held when the backend ends the response."""
        return []


@dataclass(frozen=True)
class Head:
    status: int | None = None
    headers: Callable[[Headers], Headers] = lambda headers: headers


class _Rewriter:
    """Pure ASGI middleware around the app: rewrites `text/event-stream` responses only."""

    def __init__(
        self,
        app: ASGIApp,
        new_edit: Callable[[], FrameEdit],
        head: Head,
        *,
        end_after_events: int | None = None,
        never_end: bool = False,
        line_ending: str = _SEP,
    ) -> None:
        self.app, self.new_edit, self.head = app, new_edit, head
        self.end_after_events, self.never_end, self.sep = end_after_events, never_end, line_ending

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        edit, is_stream, ended, events = self.new_edit(), False, False, 0

        async def app_receive() -> Message:
            if ended:  # we ended the response early: the app must see its client leave
                return {"type": "http.disconnect"}
            return await receive()

        async def rewriting_send(message: Message) -> None:
            nonlocal is_stream, ended, events
            if ended:
                return
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                is_stream = any(k.lower() == b"content-type" and v.startswith(b"text/event-stream") for k, v in headers)
                if is_stream:
                    status = self.head.status or message["status"]
                    message = {**message, "status": status, "headers": self.head.headers(headers)}
                await send(message)
                return
            if message["type"] != "http.response.body" or not is_stream:
                await send(message)
                return
            frames = edit.frames(parse_frames(message.get("body", b"")))
            more = message.get("more_body", False)
            if not more:
                frames += edit.end()
            if self.end_after_events is not None:
                kept = []
                for frame in frames:
                    kept.append(frame)
                    events += event_of(frame) is not None
                    if events >= self.end_after_events:
                        ended, more = True, False
                        break
                frames = kept
            if not more and self.never_end:
                await send({"type": "http.response.body", "body": render_frames(frames, self.sep), "more_body": True})
                while (await receive())["type"] != "http.disconnect":
                    pass
                ended = True
                return
            await send({"type": "http.response.body", "body": render_frames(frames, self.sep), "more_body": more})

        await self.app(scope, app_receive, rewriting_send)


# --- frame operators ----------------------------------------------------------------------------------


def _renamed(frame: Frame, name: str) -> Frame:
    lines = [(k, name if k == "event" else v) for k, v in frame]
    return tuple(lines) if any(k == "event" for k, _ in frame) else (("event", name), *frame)


class _Rename(FrameEdit):
    def __init__(self, target: str, new: str) -> None:
        self.target, self.new = target, new

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return [_renamed(f, self.new) if event_of(f) == self.target else f for f in frames]


class _Drop(FrameEdit):
    def __init__(self, target: str) -> None:
        self.target = target

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return [f for f in frames if event_of(f) != self.target]


class _Duplicate(FrameEdit):
    def __init__(self, target: str) -> None:
        self.target = target

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return [g for f in frames for g in ([f, f] if event_of(f) == self.target else [f])]


class _HoldBack(FrameEdit):
    """Holds each `target` event until the next other event has passed (it is overtaken)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.held: list[Frame] = []

    def frames(self, frames: list[Frame]) -> list[Frame]:
        out: list[Frame] = []
        for frame in frames:
            name = event_of(frame)
            if name == self.target:
                self.held.append(frame)
            elif name is not None and self.held:
                out += [frame, *self.held]
                self.held = []
            else:
                out.append(frame)
        return out

    def end(self) -> list[Frame]:
        held, self.held = self.held, []
        return held


def _edit_data(frame: Frame, change: Callable[[Any], Any]) -> Frame:
    lines = []
    for key, value in frame:
        if key == "data":
            try:
                value = json.dumps(change(json.loads(value)), separators=(",", ":"))
            except ValueError:
                pass
        lines.append((key, value))
    return tuple(lines)


def _at_path(payload: Any, path: str, change: Callable[[dict[str, Any], str], None]) -> Any:
    *parents, last = path.split(".")
    node = payload
    for step in parents:
        node = node.get(step) if isinstance(node, dict) else None
    if isinstance(node, dict) and last in node:
        change(node, last)
    return payload


class _FieldEdit(FrameEdit):
    def __init__(self, events: tuple[str, ...], path: str, change: Callable[[dict[str, Any], str], None]) -> None:
        self.events, self.path, self.change = events, path, change

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return [
            _edit_data(f, lambda p: _at_path(p, self.path, self.change)) if event_of(f) in self.events else f
            for f in frames
        ]


class _Retry(FrameEdit):
    def __init__(self, value: str | None) -> None:
        self.value = value

    def frames(self, frames: list[Frame]) -> list[Frame]:
        if self.value is None:
            return [tuple(line for line in f if line[0] != "retry") for f in frames if any(k != "retry" for k, _ in f)]
        return [tuple((k, self.value if k == "retry" else v) for k, v in f) for f in frames]


def _rename_key(new: str) -> Callable[[dict[str, Any], str], None]:
    def change(node: dict[str, Any], key: str) -> None:
        node[new] = node.pop(key)

    return change


def _drop_key(node: dict[str, Any], key: str) -> None:
    del node[key]


def _retype(node: dict[str, Any], key: str) -> None:
    value = node[key]
    node[key] = {"value": value} if isinstance(value, str) else str(value)


class _IdsAndComments(FrameEdit):
    """An `id:` on every event and a comment line inside it: both legal, both ignored by a correct page."""

    def __init__(self) -> None:
        self.count = 0

    def frames(self, frames: list[Frame]) -> list[Frame]:
        out = []
        for frame in frames:
            if event_of(frame) is not None:
                self.count += 1
                frame = (("", "note"), *frame, ("id", f"evt-{self.count}"))
            out.append(frame)
        return out


class _NoComments(FrameEdit):
    """Frames that are only comments (heartbeats) dropped: the stream is silent while quiet."""

    def frames(self, frames: list[Frame]) -> list[Frame]:
        return [f for f in frames if any(key for key, _ in f)]


class _ExtraEvents(FrameEdit):
    """An unknown named event before every event the contract knows."""

    def frames(self, frames: list[Frame]) -> list[Frame]:
        tick: Frame = (("event", "tick"), ("data", '{"type":"tick"}'))
        return [g for f in frames for g in ([tick, f] if event_of(f) is not None else [f])]


def _add_fields(payload: Any) -> Any:
    return {**payload, "trace_id": "t-1", "meta": {"v": 2}} if isinstance(payload, dict) else payload


class _ExtraFields(FrameEdit):
    """Fields the page does not read, added to every payload (and to the draft, at `draft_key`)."""

    def __init__(self, draft_key: str | None = "draft") -> None:
        self.draft_key = draft_key

    def frames(self, frames: list[Frame]) -> list[Frame]:
        def widen(payload: Any) -> Any:
            payload = _add_fields(payload)
            key = self.draft_key
            if key and isinstance(payload, dict) and isinstance(payload.get(key), dict):
                payload[key] = _add_fields(payload[key])
            return payload

        return [_edit_data(f, widen) if event_of(f) is not None else f for f in frames]


# --- head operators -----------------------------------------------------------------------------------


def _drop_header(name: bytes) -> Callable[[Headers], Headers]:
    return lambda headers: [(k, v) for k, v in headers if k.lower() != name]


def _set_header(name: bytes, value: bytes) -> Callable[[Headers], Headers]:
    return lambda headers: [*_drop_header(name)(headers), (name, value)]


# --- the generated catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class WireMutant:
    name: str
    operator: str
    summary: str
    new_edit: Callable[[], FrameEdit] = FrameEdit
    head: Head = Head()
    end_after_events: int | None = None
    never_end: bool = False
    settings: tuple[tuple[str, Any], ...] = ()
    line_ending: str = _SEP
    own_worker: bool = False  # generations run in the app's worker (with the mutant's settings)

    def factory(self, app_factory: Callable[..., ASGIApp] | None = None) -> Callable[..., ASGIApp]:
        """A `--backend-app` factory: `app_factory` (default: the reference backend) built from the
        harness's parts, its streams rewritten. It takes the parameters `app_factory` takes, so the
        harness scripts the app as it would the unmutated one (by its generator or its task state)."""
        inner = app_factory or _reference_app
        if self.settings and "settings" not in inspect.signature(inner).parameters:
            raise TypeError(f"wire mutant {self.name!r} edits settings; {inner.__qualname__} takes none")

        def build(**parts: Any) -> ASGIApp:
            if self.settings:
                parts = {**parts, "settings": parts["settings"].model_copy(update=dict(self.settings))}
            if self.own_worker:
                # The harness's generation worker outlives the app with the gate's own settings: the
                # app's in-process worker writes the task state with the mutant's settings instead.
                parts = {**parts, "runner": None}
            return _Rewriter(
                inner(**parts),
                self.new_edit,
                self.head,
                end_after_events=self.end_after_events,
                never_end=self.never_end,
                line_ending=self.line_ending,
            )

        build.__name__ = build.__qualname__ = self.name
        build.__doc__ = self.summary
        build.__signature__ = inspect.signature(inner)  # type: ignore[attr-defined]
        build.operator = self.operator  # type: ignore[attr-defined]
        return build


def _reference_app(
    settings: Settings, generator: ScriptedGenerator, redis_factory: Callable[[], Any], runner: Any
) -> ASGIApp:
    return create_app(settings, generator=generator, redis_factory=redis_factory, runner=runner)


def wire_catalogue(contract: AppContract = DRAFTS_API, *, app_settings: bool = True) -> tuple[WireMutant, ...]:
    """Every wire operator crossed with the contract's events, payload paths and the stream's headers.

    The first status event (`pending`: the task not yet taken) is left out: a scenario opens the
    stream before or after the worker starts, so whether the page sees it at all is a race, and a
    mutant of it would survive or die by chance. `app_settings`: the app is the reference backend,
    whose settings the heartbeat and TTL operators edit (another app's timings are its own)."""
    events = contract.events
    names = (*events.status[1:], events.success, events.error, events.done)
    success, error = events.success, events.error
    mutants = []
    for event in names:
        mutants += [
            WireMutant(
                f"wire_rename_{event}",
                "wire: rename event",
                f"sends `{event}` as `{event}_v2`.",
                partial(_Rename, event, f"{event}_v2"),
            ),
            WireMutant(f"wire_drop_{event}", "wire: drop event", f"never sends `{event}`.", partial(_Drop, event)),
        ]
    mutants += [
        WireMutant(
            f"wire_duplicate_{success}",
            "wire: duplicate event",
            f"sends `{success}` twice.",
            partial(_Duplicate, success),
        ),
        WireMutant(
            f"wire_duplicate_{error}", "wire: duplicate event", f"sends `{error}` twice.", partial(_Duplicate, error)
        ),
        WireMutant(
            f"wire_hold_back_{events.progress}",
            "wire: hold back event",
            f"holds each `{events.progress}` until the next event has passed (overtaken by the terminal event).",
            partial(_HoldBack, events.progress),
        ),
        WireMutant(
            "wire_reorder_done_first",
            "wire: reorder events",
            f"sends `{events.done}` before the terminal event.",
            partial(_HoldBack, success),
        ),
    ]
    fields = (
        ("status_message", events.status, contract.payloads.progress_text),
        ("draft_id", (success,), contract.payloads.draft_id),
        ("error_message", (error,), contract.payloads.error_message),
    )
    for label, carriers, path in fields:
        leaf = path.rsplit(".", 1)[-1]
        mutants += [
            WireMutant(
                f"wire_rename_field_{label}",
                "wire: rename payload field",
                f"renames `{path}` to `{leaf}_text`.",
                partial(_FieldEdit, carriers, path, _rename_key(f"{leaf}_text")),
            ),
            WireMutant(
                f"wire_drop_field_{label}",
                "wire: drop payload field",
                f"drops `{path}`.",
                partial(_FieldEdit, carriers, path, _drop_key),
            ),
            WireMutant(
                f"wire_retype_field_{label}",
                "wire: retype payload field",
                f"sends `{path}` as another JSON type.",
                partial(_FieldEdit, carriers, path, _retype),
            ),
        ]
    for header in (b"cache-control", b"x-accel-buffering", b"access-control-allow-origin"):
        mutants.append(
            WireMutant(
                f"wire_drop_header_{header.decode().replace('-', '_')}",
                "wire: drop header",
                f"drops the `{header.decode()}` header from the stream.",
                head=Head(headers=_drop_header(header)),
            )
        )
    altered = (
        ("content_type_plain", b"content-type", b"text/plain; charset=utf-8"),
        ("content_type_json", b"content-type", b"application/json"),
        ("cache_control_public", b"cache-control", b"public, max-age=600"),
        ("allow_origin_other", b"access-control-allow-origin", b"http://other.example"),
        ("content_encoding_gzip", b"content-encoding", b"gzip"),
    )
    for label, header, value in altered:
        mutants.append(
            WireMutant(
                f"wire_alter_header_{label}",
                "wire: alter header",
                f"sends `{header.decode()}: {value.decode()}` on the stream.",
                head=Head(headers=_set_header(header, value)),
            )
        )
    for status in (204, 500):
        mutants.append(
            WireMutant(
                f"wire_status_{status}",
                "wire: change status",
                f"answers the stream with status {status}.",
                head=Head(status=status),
            )
        )
    mutants += [
        WireMutant(
            "wire_end_after_first_event",
            "wire: end stream early",
            "ends every stream response after its first event.",
            end_after_events=1,
        ),
        WireMutant("wire_never_end", "wire: never end stream", "keeps the response open after `done`.", never_end=True),
    ]
    if contract.timings.retry_ms is not None:  # an app that sends no `retry:` has none to change
        mutants.append(
            WireMutant("wire_retry_huge", "wire: change retry", "sends `retry: 60000`.", partial(_Retry, "60000"))
        )
    if not app_settings:
        # Another app's heartbeat interval is its own: its heartbeats are dropped from the wire instead.
        mutants.append(
            WireMutant("wire_no_heartbeats", "wire: heartbeats off", "drops every heartbeat comment.", _NoComments)
        )
        return tuple(mutants)
    mutants += [
        WireMutant(
            "wire_no_heartbeats",
            "wire: heartbeats off",
            "sends no heartbeat while quiet.",
            settings=(("heartbeat_polls", 100000),),
        ),
        WireMutant(
            "wire_task_ttl_short",
            "wire: task TTL too short",
            "keeps task state in Redis for 1 s only.",
            settings=(("task_ttl", 1),),
            own_worker=True,
        ),
    ]
    return tuple(mutants)


def wire_equivalents(contract: AppContract = DRAFTS_API, *, app_settings: bool = True) -> tuple[WireMutant, ...]:
    """Variants a correct page must not tell from the real stream: they must pass (no false alarm)."""
    operator = "equivalent"
    draft = contract.payloads.draft_id.rpartition(".")[0]
    mutants = [
        WireMutant("equivalent_lf_line_endings", operator, "every line ends with LF only.", line_ending="\n"),
        WireMutant("equivalent_cr_line_endings", operator, "every line ends with CR only.", line_ending="\r"),
        WireMutant("equivalent_ids_and_comments", operator, "an `id:` and a comment in every event.", _IdsAndComments),
        WireMutant(
            "equivalent_extra_unknown_events", operator, "an unknown `tick` event before every event.", _ExtraEvents
        ),
        WireMutant(
            "equivalent_extra_payload_fields",
            operator,
            "extra fields in every payload.",
            partial(_ExtraFields, draft or None),
        ),
    ]
    if app_settings:
        mutants.append(
            WireMutant(
                "equivalent_heartbeat_every_poll",
                operator,
                "a heartbeat on every quiet poll.",
                settings=(("heartbeat_polls", 1),),
            )
        )
    return tuple(mutants)


WIRE_CATALOGUE: tuple[WireMutant, ...] = wire_catalogue()
EQUIVALENTS: tuple[WireMutant, ...] = wire_equivalents()
WIRE_MUTANTS: Mapping[str, Callable[..., ASGIApp]] = MappingProxyType(
    {m.name: m.factory() for m in (*WIRE_CATALOGUE, *EQUIVALENTS)}
)


def __getattr__(name: str) -> Callable[..., ASGIApp]:
    """`--backend-app e2e.mutants.wire:NAME` resolves a generated mutant by name."""
    try:
        return WIRE_MUTANTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no wire mutant {name!r}") from None
