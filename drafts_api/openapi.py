"""What the OpenAPI document says beyond what FastAPI derives: error bodies and the stream's events.

The stream is described per event for OpenAPI 3.2 tools (`itemSchema` of `text/event-stream`: one of
the named events, each with its `event` name, a `data` line holding JSON of its payload model, and
the optional `retry`), and for 3.1 tools as the `x-sse-events` extension (event name -> payload
schema). Payload schemas reference the document's components, so they stay one definition each.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import BaseModel

from drafts_api.protocol import STREAM_EVENTS, ErrorResponse

COMPONENTS_REF: Final = "#/components/schemas/{model}"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The JSON error bodies of a route (a new dict per route: FastAPI keeps what it is given)."""
    descriptions = {
        400: "The body could not be read (not UTF-8, or nested too deeply to parse).",
        404: "No such task or draft (or one of another campaign).",
        413: "The body is over the size limit (`max_body_bytes`, 64 KiB by default).",
        422: "The request does not match its schema; `errors` lists each problem once.",
        500: "A record in the store is unreadable, or an internal error.",
        503: "The task store is unavailable (an outage), or busy past the pool's wait (with `Retry-After`).",
    }
    return {status: {"model": ErrorResponse, "description": descriptions[status]} for status in statuses}


def payload_schema(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s JSON schema with its nested models as component references (FastAPI adds those)."""
    schema = model.model_json_schema(ref_template=COMPONENTS_REF)
    schema.pop("$defs", None)
    return schema


def event_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """One event as OpenAPI 3.2 describes an SSE item: its fields, `data` holding JSON of `model`."""
    return {
        "type": "object",
        "title": f"{name} event",
        "required": ["event", "data"],
        "properties": {
            "event": {"const": name},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": payload_schema(model)},
            "retry": {"type": "integer", "minimum": 0},
            "id": {"type": "string"},
        },
    }


def stream_responses() -> dict[int | str, dict[str, Any]]:
    ok = {
        "description": (
            "A `text/event-stream` of named events, each with one JSON `data:` line: "
            + ", ".join(f"`{name}` ({model.__name__})" for name, model in STREAM_EVENTS.items())
            + ". `done` follows the terminal `success` or `error`, then the response ends."
            + " `: heartbeat` comments keep a quiet stream alive."
        ),
        "content": {
            "text/event-stream": {
                "itemSchema": {"oneOf": [event_schema(name, model) for name, model in STREAM_EVENTS.items()]},
                "x-sse-events": {name: payload_schema(model) for name, model in STREAM_EVENTS.items()},
            }
        },
    }
    return {200: ok, **error_responses(404, 422, 500, 503)}
