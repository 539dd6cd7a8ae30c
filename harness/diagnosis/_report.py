"""The failure report of one test: the evidence files and the short summary, from a diagnosis made once.

The diagnosis is computed by the caller (the collector) and handed in, so that a failure is diagnosed
exactly once however many places show it (the report's first line, the summary section, the files).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from harness.diagnosis._base import Diagnosis
from harness.evidence import Evidence, WireFrame, describe_sequence, iso

FILES = (
    "wire.jsonl",
    "streams.json",
    "page-eventsource.json",
    "requests.json",
    "console.log",
    "backend.log",
    "diagnosis.txt",
    "evidence.json",
)


def summary(evidence: Evidence, diagnosis: Diagnosis) -> str:
    """A few lines for the failure report: the diagnosis, then what each side saw."""
    sent = [frame.event for _, frame in evidence.wire_events()]
    received = [d.type for d in evidence.eventsource.delivered() if d.message_event]
    listened = ", ".join(f"{type_} ({'/'.join(ways)})" for type_, ways in evidence.eventsource.listened_types().items())
    lines = [
        f"diagnosis: {diagnosis.line}",
        f"backend sent [{describe_sequence(sent)}] on {len(evidence.streams)} stream response(s)",
        f"page listened for [{listened}]; its listeners received [{describe_sequence(received)}]; "
        f"{len(evidence.stream_connections())} stream connection(s)",
    ]
    errors = evidence.console_errors()
    if errors:
        lines.append(f"console: {len(errors)} error(s), last: {errors[-1].text[:200]}")
    return "\n".join(lines)


def write_report(evidence: Evidence, diagnosis: Diagnosis, directory: Path | str) -> Path:
    """Write the evidence files (`FILES`) into `directory` (created if needed) and return it."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    data = evidence.to_json()
    with (out / "wire.jsonl").open("w", encoding="utf-8") as wire:
        for stream in evidence.streams:
            for frame in stream.frames:
                row = {"stream": stream.stream_id, "path": stream.path, "wall": iso(frame.t)}
                row.update(_FRAME.dump_python(frame, mode="json"))
                wire.write(json.dumps(row, ensure_ascii=False) + "\n")
    streams = [
        {**{k: v for k, v in s.items() if k != "frames"}, "frame_count": len(s["frames"])} for s in data["streams"]
    ]
    _write_json(out / "streams.json", {"streams": streams, "http_exchanges": data["http_exchanges"]})
    _write_json(out / "page-eventsource.json", data["eventsource"])
    _write_json(out / "requests.json", {"page_requests": data["page_requests"], "navigations": data["navigations"]})
    (out / "console.log").write_text(
        "".join(
            f"{iso(e.t)} [{e.type}] {e.text}{f'  ({e.location})' if e.location else ''}\n" for e in evidence.console
        ),
        encoding="utf-8",
    )
    (out / "backend.log").write_text("".join(line.rstrip("\n") + "\n" for line in evidence.backend_log), "utf-8")
    (out / "diagnosis.txt").write_text(
        "\n".join([f"[{diagnosis.rule}] {diagnosis.line}", *(f"  - {d}" for d in diagnosis.details)]) + "\n",
        encoding="utf-8",
    )
    evidence.save(out)
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


_FRAME: TypeAdapter[WireFrame] = TypeAdapter(WireFrame)
