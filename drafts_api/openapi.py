"""What the OpenAPI document says beyond what FastAPI derives: error bodies and the stream's events."""

from __future__ import annotations

from typing import Any

from drafts_api.protocol import STREAM_EVENTS, ErrorResponse


def error_responses() -> dict[int | str, dict[str, Any]]:
    """The JSON error bodies of a JSON route (a new dict per route: FastAPI keeps what it is given)."""
    return {status: {"model": ErrorResponse} for status in (404, 422, 503)}


def stream_responses() -> dict[int | str, dict[str, Any]]:
    events = {name: model.model_json_schema() for name, model in STREAM_EVENTS.items()}
    ok = {
        "description": (
            "A `text/event-stream` of named events, each with one JSON `data:` line: "
            + ", ".join(f"`{name}` ({model.__name__})" for name, model in STREAM_EVENTS.items())
            + ". `done` follows the terminal `success` or `error`, then the response ends."
        ),
        "content": {"text/event-stream": {"schema": {"type": "string"}, "x-sse-events": events}},
    }
    return {200: ok, 404: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}
