"""The hand-written SSE parser against browser vectors, fed whole and one byte at a time."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from harness.sse import (
    SSEComment,
    SSEDataless,
    SSEDecoder,
    SSEEvent,
    SSEObservation,
    SSERetry,
    SSEUnterminated,
)

# Vendored in the repository (see tests/vectors/PROVENANCE.md). Read at collection: a missing or
# unreadable file is a collection error (the run fails), never an empty parametrization that passes.
VECTORS_FILE = Path(__file__).with_name("vectors") / "sse-parsing-vectors.json"


def _load_vectors() -> list[dict[str, Any]]:
    return list(json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"])


VECTORS = _load_vectors()


def _parse(chunks: Iterable[bytes]) -> list[SSEObservation]:
    decoder = SSEDecoder()
    observations: list[SSEObservation] = []
    for chunk in chunks:
        observations.extend(decoder.feed(chunk))
    observations.extend(decoder.close())
    return observations


def _events(observations: list[SSEObservation]) -> list[dict[str, str]]:
    return [
        {"type": o.type, "data": o.data, "last_event_id": o.last_event_id}
        for o in observations
        if isinstance(o, SSEEvent)
    ]


def _bytewise(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


def test_vectors_file_is_present_and_not_empty() -> None:
    assert VECTORS, f"no vectors loaded from {VECTORS_FILE}"


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
@pytest.mark.parametrize("feeding", ["whole", "bytewise"])
def test_browser_vector(vector: dict[str, Any], feeding: str) -> None:
    raw = base64.b64decode(vector["input_base64"])
    chunks = [raw] if feeding == "whole" else _bytewise(raw)
    assert _events(_parse(chunks)) == vector["expected"]


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # Two line ends would be a blank line: "a" would be dispatched alone, then "b" separately.
    observations = _parse([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert _events(observations) == [{"type": "message", "data": "a\nb", "last_event_id": ""}]


def test_cr_at_chunk_end_followed_by_cr_is_two_line_ends() -> None:
    observations = _parse([b"data: a\r", b"\rdata: b\n\n"])
    assert [e["data"] for e in _events(observations)] == ["a", "b"]


def test_utf8_character_split_across_chunks() -> None:
    raw = "data: caf\u00e9 \u2026\n\n".encode()
    assert _events(_parse(_bytewise(raw)))[0]["data"] == "caf\u00e9 \u2026"


def test_bom_split_across_chunks_is_stripped_once() -> None:
    raw = b"\xef\xbb\xbfdata: 1\n\n"
    assert _events(_parse(_bytewise(raw))) == [{"type": "message", "data": "1", "last_event_id": ""}]


def test_invalid_utf8_becomes_replacement_character() -> None:
    assert _events(_parse([b"data: a\xffb\n\n"]))[0]["data"] == "a\ufffdb"


def test_named_protocol_frames_keep_their_type() -> None:
    raw = b'retry: 3000\nevent: progress\ndata: {"type":"status","message":"Analyzing"}\n\n'
    observations = _parse([raw])
    assert observations == [
        SSERetry(milliseconds=3000),
        SSEEvent(type="progress", data='{"type":"status","message":"Analyzing"}'),
    ]


def test_comments_are_reported_without_the_colon() -> None:
    assert _parse([b": ping 1\n:\n\n"]) == [SSEComment(text=" ping 1"), SSEComment(text="")]


def test_non_ascii_digit_retry_is_ignored() -> None:
    # "\u0663" is ARABIC-INDIC DIGIT THREE: str.isdigit() accepts it, browsers do not.
    assert _parse(["retry: 1\u0663\nretry: 12a\nretry:\n\n".encode()]) == []


def test_named_block_without_data_is_reported_not_dispatched() -> None:
    observations = _parse([b"event: done\n\nevent: done\ndata: {}\n\n"])
    assert observations == [SSEDataless(type="done"), SSEEvent(type="done", data="{}")]


def test_id_only_block_is_not_reported_as_dataless() -> None:
    assert _parse([b"id: 7\n\n"]) == []


def test_unterminated_final_event_is_reported_and_not_dispatched() -> None:
    observations = _parse([b"data: 1\n\nevent: success\ndata: {}\n"])
    assert observations == [SSEEvent(data="1"), SSEUnterminated(text="{}", type="success")]


def test_unterminated_partial_line_is_reported() -> None:
    assert _parse([b"data: 1\n\ndata: tru"]) == [SSEEvent(data="1"), SSEUnterminated(text="data: tru")]


def test_cleanly_ended_stream_reports_nothing_at_close() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: 1\n\n")
    assert decoder.close() == []


def test_feed_returns_events_as_soon_as_their_blank_line_arrives() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"event: progress\ndata: x\n") == []
    assert decoder.feed(b"\n") == [SSEEvent(type="progress", data="x")]


def test_feed_after_close_is_refused() -> None:
    decoder = SSEDecoder()
    decoder.close()
    with pytest.raises(ValueError, match="after close"):
        decoder.feed(b"data: x\n\n")


def test_last_event_id_persists_on_the_decoder() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"id: 41\ndata: a\n\ndata: b\n\n")
    assert decoder.last_event_id == "41"
