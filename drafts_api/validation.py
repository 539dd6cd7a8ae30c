"""Readable 422s: pydantic's errors as one short line each, every problem once, the list bounded.

A body of 100 000 unknown keys would otherwise become 100 000 errors (and a 66 MB answer): unknown
fields are reported together in one entry, and the list stops at `MAX_ERRORS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

MAX_ERRORS: Final = 20
MAX_NAMED_EXTRAS: Final = 10
MAX_FIELD_CHARS: Final = 60


def _location(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part not in ("body", "path", "query"))
    return location if len(location) <= MAX_FIELD_CHARS else location[:MAX_FIELD_CHARS] + "..."


def readable_errors(errors: Sequence[dict[str, Any]]) -> list[str]:
    readable: list[str] = []
    extras: list[str] = []
    for error in errors:
        kind = error.get("type")
        if kind == "json_invalid":  # loc holds a character position, not a field
            reason = (error.get("ctx") or {}).get("error", "")
            line = f"the body is not valid JSON ({reason})" if reason else "the body is not valid JSON"
        elif kind == "extra_forbidden":
            extras.append(_location(error))
            continue
        else:
            location = _location(error)
            line = f"{location}: {error.get('msg', 'invalid')}" if location else str(error.get("msg"))
        if line not in readable:
            readable.append(line)
    if extras:
        named = ", ".join(extras[:MAX_NAMED_EXTRAS]) + (
            f" and {len(extras) - MAX_NAMED_EXTRAS} more" if len(extras) > MAX_NAMED_EXTRAS else ""
        )
        readable.append(f"unknown field{'s' if len(extras) > 1 else ''}: {named}")
    if len(readable) > MAX_ERRORS:
        readable = [*readable[: MAX_ERRORS - 1], f"and {len(readable) - MAX_ERRORS + 1} more problems"]
    return readable


def summary(errors: Sequence[str]) -> str:
    """The 422's `detail`: the one problem, or how many and where (the list itself is in `errors`)."""
    if len(errors) == 1:
        return f"Invalid request: {errors[0]}"
    fields = list(dict.fromkeys(error.split(":")[0] for error in errors))
    return f"Invalid request: {len(errors)} problems ({'; '.join(fields)}); see errors"
