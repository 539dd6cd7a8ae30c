"""Backend-logic mutants: the reference backend with one check or one input handling broken.

Until the backend's seams land on main (branch `api-robust`), each wraps the real app as ASGI
middleware, which is what a broken layer in front of the handlers does: a check bypassed, an input
dropped, a draft served from a cache that ignores its id. `--backend-app e2e.mutants.logic:NAME`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drafts_api.app import create_app

_GENERATE = re.compile(r"^(/v1/campaigns/)([^/]+)(/drafts/generate)$")
_STREAM = re.compile(r"^(/v1/campaigns/)([^/]+)(/drafts/generate/stream/)([^/]+)$")
_DRAFT = re.compile(r"^/v1/drafts/[^/]+$")


def _app(parts: dict[str, Any]) -> ASGIApp:
    return create_app(
        parts["settings"], generator=parts["generator"], redis_factory=parts["redis_factory"], runner=parts["runner"]
    )


async def _read_body(receive: Receive) -> bytes:
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _with_length(scope: Scope, body: bytes) -> Scope:
    headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
    return {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}


def _rewrite_generate_body(app: ASGIApp, change: Callable[[dict[str, Any]], dict[str, Any]]) -> ASGIApp:
    async def mutant(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not _GENERATE.match(scope["path"]):
            await app(scope, receive, send)
            return
        body = await _read_body(receive)
        try:
            body = json.dumps(change(json.loads(body))).encode()
        except (ValueError, AttributeError, TypeError):
            pass
        await app(_with_length(scope, body), _replay(body), send)

    return mutant


def ownership_check_removed(**parts: Any) -> ASGIApp:
    """Streams a task under any campaign: the stream's campaign check is bypassed (the path's campaign is
    replaced by the one the task was created under). Killed by: a task of another campaign is not streamed."""
    app = _app(parts)
    owners: dict[str, str] = {}  # task id -> campaign, learned from this app's own 202 answers

    async def mutant(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (match := _STREAM.match(scope["path"])) and match.group(4) in owners:
            path = f"{match.group(1)}{owners[match.group(4)]}{match.group(3)}{match.group(4)}"
            await app({**scope, "path": path, "raw_path": path.encode()}, receive, send)
            return
        if scope["type"] != "http" or not (match := _GENERATE.match(scope["path"])):
            await app(scope, receive, send)
            return
        campaign = match.group(2)

        async def learning_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                try:
                    owners[str(json.loads(message.get("body", b"")).get("task_id"))] = campaign
                except (ValueError, AttributeError):
                    pass
            await send(message)

        await app(scope, receive, learning_send)

    return mutant


ownership_check_removed.operator = "logic: check removed"  # type: ignore[attr-defined]


def validation_removed(**parts: Any) -> ASGIApp:
    """Accepts any form: invalid fields are silently replaced by valid defaults before validation runs.
    Killed by: an invalid form gets the validation message and no generation."""

    def make_valid(body: dict[str, Any]) -> dict[str, Any]:
        topic = str(body.get("topic") or "").strip() or "(no topic)"
        audience = str(body.get("audience") or "").strip() or "(no audience)"
        return {**body, "topic": topic.ljust(3, ".")[:200], "audience": audience[:120]}

    return _rewrite_generate_body(_app(parts), make_valid)


validation_removed.operator = "logic: check removed"  # type: ignore[attr-defined]


def input_dropped(**parts: Any) -> ASGIApp:
    """Drops the form's key points and audience on the way in (defaults take their place).
    Killed by: the generation inputs reach the backend."""
    return _rewrite_generate_body(
        _app(parts),
        lambda body: {k: v for k, v in body.items() if k not in ("key_points", "audience")} | {"audience": "everyone"},
    )


input_dropped.operator = "logic: input dropped"  # type: ignore[attr-defined]


def stale_draft_served(**parts: Any) -> ASGIApp:
    """Serves every draft from a cache that ignores the id: after the first, each editor shows the first draft.
    Killed by: the editor shows the draft just generated (any second test of the session)."""
    app = _app(parts)
    cached: list[Message] = []

    async def mutant(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _DRAFT.match(scope["path"]):
            await app(scope, receive, send)
            return
        if len(cached) >= 2:
            for message in cached:
                await send(message)
            return
        answer: list[Message] = []

        async def caching_send(message: Message) -> None:
            answer.append(message)
            await send(message)

        await app(scope, receive, caching_send)
        if answer and answer[0].get("status") == 200 and not cached:
            cached.extend(answer)

    return mutant


stale_draft_served.operator = "logic: stale or wrong draft served"  # type: ignore[attr-defined]


LOGIC_MUTANTS: dict[str, Callable[..., ASGIApp]] = {
    f.__name__: f for f in (ownership_check_removed, validation_removed, input_dropped, stale_draft_served)
}
