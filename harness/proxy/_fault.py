"""The fault protocol: what a fault may do to one HTTP response, and nothing about who carries it.

A fault is a small frozen object that owns its transform of the response head and body. The fault
proxy (`FaultProxy`) applies it to responses it forwards; `FaultMiddleware` applies the very same
object to an ASGI app's responses, so a backend mutant and a proxy fault are one implementation.
The carrier asks, in this order: `canned_answer` (answer without upstream?), `receive_head` (timing
of the head), `transform_head`, `transform_body`; a `Cut` raised from the body ends the connection.
"""

from __future__ import annotations

import http
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, replace

Headers = list[tuple[str, str]]


class Cut(Exception):
    """The fault closes the client connection here (no end of body is sent)."""


class UpstreamTimeout(Exception):
    """The fault gave up waiting for the upstream response head (a proxy answers 504)."""


def header(headers: Headers, name: str) -> str | None:
    """The first value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    return next((value for key, value in headers if key.lower() == wanted), None)


def text_headers(raw: Iterable[tuple[bytes, bytes]] | None) -> Headers:
    """Raw header pairs (h11's, ASGI's) as text; HTTP header bytes are latin-1 by definition."""
    return [(bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in raw or ()]


def without(headers: Headers, *names: str) -> Headers:
    unwanted = {name.lower() for name in names}
    return [(key, value) for key, value in headers if key.lower() not in unwanted]


def reason_phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def has_body(method: str, status: int) -> bool:
    """Whether a response to `method` with `status` carries a body at all (RFC 9110 section 6.4.1)."""
    return method != "HEAD" and status >= 200 and status not in (204, 304)


@dataclass(frozen=True)
class ResponseHead:
    """A response's status and headers as the carrier sees them; `has_body` is False for a HEAD
    request's answer and for 1xx/204/304, which no fault may give a body."""

    status: int
    headers: Headers
    has_body: bool = True

    def header(self, name: str) -> str | None:
        return header(self.headers, name)

    def with_headers(self, headers: Headers) -> ResponseHead:
        return replace(self, headers=headers)


@dataclass(frozen=True)
class CannedAnswer:
    """A complete answer a fault gives instead of asking upstream."""

    head: ResponseHead
    body: bytes


class Fault:
    """The base of every fault: each hook does nothing, so a fault overrides only what it changes.

    `path_contains`: when set, only requests whose target (path and query) contains it are affected,
    others pass through (so a fault can target the stream URL and leave the page's assets alone).
    `uses`: how many matching requests the fault applies to once set (None: all of them).
    """

    path_contains: str | None = None

    @property
    def uses(self) -> int | None:
        return None

    def matches(self, target: str) -> bool:
        return self.path_contains is None or self.path_contains in target

    def canned_answer(self, request_headers: Headers) -> CannedAnswer | None:
        """An answer that replaces the upstream round trip, or None to forward the request."""
        return None

    async def receive_head(self, head: Awaitable[ResponseHead]) -> ResponseHead:
        """Awaits the upstream head; a fault may time it (raise `UpstreamTimeout`) or delay it."""
        return await head

    def transform_head(self, head: ResponseHead) -> ResponseHead:
        """The head the client gets, from the head upstream sent."""
        return head

    def transform_body(self, head: ResponseHead, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """The body the client gets, from upstream's body `chunks` (`head` is upstream's head)."""
        return chunks

    @property
    def name(self) -> str:
        return type(self).__name__
