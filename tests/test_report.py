"""The SSE timeline and the run report, from written evidence (no browser): marks, escaping, size, merge."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

import harness.report
from harness.diagnosis import diagnose, write_report
from harness.evidence import (
    Evidence,
    PageClose,
    PageDispatch,
    PageEventSource,
    PageEventSourceLog,
    PageRequest,
    WireFrame,
    WireStream,
)
from harness.recording import PageText
from harness.report import (
    MUTANTS_FILE,
    ResultEntry,
    build_timeline,
    record_result,
    render_timeline,
    timeline_for,
    write_page_text,
    write_run_report,
    write_steps,
    write_timeline,
)
from harness.report.__main__ import main as report_main
from harness.scripting import StepRecord

SAMPLES = Path(__file__).parent / "evidence_samples"
SIZE_BOUND = 200_000
T = 1_800_000_000.0  # any wall-clock time


def _sample_folder(tmp_path: Path, name: str) -> Path:
    evidence = Evidence.from_json(json.loads((SAMPLES / name).read_text()))
    return write_report(evidence, diagnose(evidence), tmp_path / name.removesuffix(".json"))


def _stream(stream_id: int, frames: list[WireFrame], *, opened: float = T, closed: float | None = None) -> WireStream:
    return WireStream(
        stream_id=stream_id,
        method="GET",
        path=f"/v1/campaigns/c/drafts/generate/stream/task{stream_id}",
        query="",
        opened_at=opened,
        status=200,
        response_headers={"content-type": "text/event-stream"},
        frames=frames,
        ended_by="server" if closed else None,
        closed_at=closed,
    )


def _event(t: float, name: str, data: str = "{}") -> WireFrame:
    return WireFrame(t=t, kind="event", event=name, data=data)


def _dispatch(t: float, name: str, listeners: int = 1, data: str = "{}") -> PageDispatch:
    return PageDispatch(source_id="d:1", type=name, t=t, data=data, message_event=True, listeners_called=listeners)


def _evidence(streams: list[WireStream], dispatches: list[PageDispatch], closes: Sequence[PageClose] = ()) -> Evidence:
    source = PageEventSource(source_id="d:1", url="/stream", resolved_url="/stream", page_url="/", t=T - 0.1)
    log = PageEventSourceLog(sources=[source], dispatches=dispatches, closes=list(closes))
    return Evidence(test_id="t::x", streams=streams, eventsource=log, collected_at=T + 10)


def test_production_bug_timeline_heads_with_the_diagnosis_and_marks_every_undelivered_progress(
    tmp_path: Path,
) -> None:
    """Fails if: the diagnosis line is not the heading, the tally hides that no `progress` reached a
    listener, the reconnect after `done` is not marked, or the page grows past the size bound."""
    folder = _sample_folder(tmp_path, "named_event_mismatch.json")
    path = write_timeline(folder)
    page = path.read_text()
    timeline = timeline_for(folder)
    assert page.index("<h1>[sse-gate] ") < page.index("<table")
    assert "named-event mismatch" in page[: page.index("</h1>")]
    assert (timeline.tallies["progress"].sent, timeline.tallies["progress"].delivered) == (6, 0)
    undelivered = [r for r in timeline.lane_rows("page EventSource") if "reached no listener" in r.marks]
    assert sum(r.text.startswith("progress") for r in undelivered) == 6
    assert any("reconnect after the end" in r.marks for r in timeline.lane_rows("connection"))
    assert path.stat().st_size < SIZE_BOUND


def test_every_sample_renders_within_the_size_bound(tmp_path: Path) -> None:
    for sample in sorted(s for s in SAMPLES.glob("*.json") if s.name != "index.json"):
        folder = _sample_folder(tmp_path, sample.name)
        assert write_timeline(folder).stat().st_size < SIZE_BOUND, sample.name


def test_never_dispatched_held_back_and_healthy_done_after_close() -> None:
    """Fails if: frames are paired with dispatches of another type, a late dispatch is not marked held
    back, or a healthy `done` after the page closed is called a mismatch."""
    frames = [_event(T, "progress"), _event(T + 0.1, "success"), _event(T + 0.2, "done")]
    never = build_timeline(_evidence([_stream(1, frames[:2])], [_dispatch(T + 0.12, "success")]), "", "", [], [], [])
    assert any("never dispatched" in r.marks for r in never.lane_rows("server sent") if "progress" in r.text)
    assert any("`progress` sent at +" in m and "never dispatched" in m for m in never.mismatches)

    held = build_timeline(_evidence([_stream(1, frames[:1])], [_dispatch(T + 2.5, "progress")]), "", "", [], [], [])
    (row,) = held.lane_rows("page EventSource")[1:]
    assert row.warn and any(m.startswith("held back 2.5") for m in row.marks)

    healthy = _evidence(
        [_stream(1, frames, closed=T + 0.3)],
        [_dispatch(T + 0.01, "progress"), _dispatch(T + 0.11, "success")],
        [PageClose(source_id="d:1", t=T + 0.12)],
    )
    assert build_timeline(healthy, "", "", [], [], []).mismatches == []


def test_reconnect_after_done_is_a_mismatch() -> None:
    first = _stream(1, [_event(T, "success"), _event(T, "done")], closed=T + 0.01)
    again = _stream(2, [_event(T + 0.3, "success")], opened=T + 0.25)
    timeline = build_timeline(_evidence([first, again], []), "", "", [], [], [])
    assert any("after a stream had ended with `done`" in m for m in timeline.mismatches)
    (reconnect,) = [r for r in timeline.lane_rows("connection") if r.text.startswith("reconnect")]
    assert "reconnect after the end" in reconnect.marks


def test_steps_and_page_text_are_on_the_same_axis(tmp_path: Path) -> None:
    folder = _sample_folder(tmp_path, "gate_original_onmessage.json")
    evidence = Evidence.load(folder)
    t = evidence.streams[0].opened_at
    write_steps(folder, [StepRecord(1, "progress 'Writing...'", t + 0.1, t + 0.11)])
    write_page_text(folder, [PageText(t + 0.5, "http://x/new", "Starting...", "Connection lost. Please try again.")])
    timeline = timeline_for(folder)
    (step,) = timeline.lane_rows("test")
    (shown,) = timeline.lane_rows("page shows")
    assert step.t < shown.t and "progress 'Writing...'" in step.text
    assert "Connection lost" in shown.text and shown.marks == ["alert"]


def test_server_text_is_escaped_and_nothing_is_loaded(tmp_path: Path) -> None:
    """Fails if: a frame's data, an event name or the page text reaches the HTML unescaped."""
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    evidence = _evidence(
        [_stream(1, [_event(T, "progress", hostile), _event(T + 0.1, hostile, "x")])],
        [_dispatch(T + 0.01, "progress", 0, hostile)],
    )
    evidence = replace(evidence, failure_text=hostile, test_id=hostile)
    page = render_timeline(
        build_timeline(evidence, "rule", hostile, [hostile], [], [PageText(T, hostile, hostile, hostile)])
    )
    assert "<script" not in page and "<img" not in page and 'onerror="' not in page
    assert "&lt;script&gt;" in page
    assert "default-src 'none'" in page  # the CSP forbids anything the escaping might have missed


def test_a_huge_run_is_cut_to_the_size_bound_keeping_start_and_end() -> None:
    """Fails if: a long stream (thousands of frames, big payloads) makes a timeline over the bound, or
    the cut drops the end of the run (where the failure is)."""
    frames = [_event(T + i * 0.01, "progress", "x" * 5000) for i in range(3000)]
    dispatches = [_dispatch(T + i * 0.01 + 0.001, "progress", 0) for i in range(3000)]
    page = render_timeline(build_timeline(_evidence([_stream(1, frames)], dispatches), "", "long", [], [], []))
    assert len(page.encode()) < SIZE_BOUND
    assert "rows left out here" in page
    assert "+29.99" in page  # the last frame is still shown


def _entry(test_id: str, outcome: str, folder: str = "", worker: str = "gw0", line: str = "") -> ResultEntry:
    return ResultEntry(test_id, outcome, "call", 1.0, line, folder, worker)


def test_merge_builds_one_report_over_shards_with_links_and_the_kill_table(tmp_path: Path) -> None:
    """Fails if: a shard's failures are missing, links do not resolve from the report's folder,
    test ids are not escaped, or the mutant table is dropped."""
    shards = [tmp_path / "shard-1" / "test-results", tmp_path / "shard-2" / "test-results"]
    for index, shard in enumerate(shards):
        folder = shard / f"failed-{index}"
        folder.mkdir(parents=True)
        (folder / "timeline.html").write_text("<html></html>")
        (folder / "trace.zip").write_bytes(b"PK")
        record_result(shard, _entry(f"e2e/t.py::test_<{index}>", "failed", folder.name, line=f"why {index}"))
        record_result(shard, _entry(f"e2e/t.py::test_ok_{index}", "passed", worker="gw1"))
    (shards[0] / MUTANTS_FILE).write_text(
        json.dumps(
            {
                "mutants": [
                    {
                        "name": "original_onmessage",
                        "kind": "client",
                        "verdict": "killed",
                        "failed_tests": ["e2e/t.py::test_0"],
                        "diagnosis": "named-event mismatch",
                    }
                ]
            }
        )
    )
    out = tmp_path / "merged" / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "harness.report", "merge", *map(str, shards), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert "test_&lt;0&gt;" in page and "test_&lt;1&gt;" in page and "<0>" not in page
    assert "why 0" in page and "why 1" in page and "2 failed" in page and "2 passed" in page
    for href in ("../shard-1/test-results/failed-0/timeline.html", "../shard-2/test-results/failed-1/trace.zip"):
        assert f'href="{href}"' in page and (out.parent / href).is_file()
    assert "original_onmessage" in page and "Mutants: 1 killed of 1" in page


def test_merge_of_a_folder_without_results_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report_main(["merge", str(tmp_path / "missing")]) == 1
    assert "not a folder" in capsys.readouterr().err
    assert report_main(["merge", str(tmp_path)]) == 1
    assert "no sse-gate-results.*.jsonl under" in capsys.readouterr().err


def test_a_corrupt_results_line_names_the_file_and_line(tmp_path: Path) -> None:
    record_result(tmp_path, _entry("t::a", "passed"))
    with (tmp_path / "sse-gate-results.gw0.jsonl").open("a") as out:
        out.write("{not json\n")
    with pytest.raises(ValueError, match=r"sse-gate-results.gw0.jsonl:2: not a result entry"):
        write_run_report([tmp_path], tmp_path / "report.html")


def test_job_summary_lists_failures_escaped_for_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Fails if: a test id or first line can break the Markdown table or inject HTML into the summary."""
    record_result(tmp_path, _entry("t.py::test[a|b]", "failed", line="<b>bold</b> | `x`"))
    record_result(tmp_path, _entry("t.py::test_ok", "passed"))
    assert report_main(["summary", str(tmp_path), "--artifact-url", "https://example.invalid/a/1"]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith("### SSE gate: 1 failed of 2")
    assert "(https://example.invalid/a/1)" in summary
    assert "| t.py::test[a\\|b] | &lt;b&gt;bold&lt;/b&gt; \\| 'x' |" in summary


def test_a_stream_request_the_backend_never_saw_is_on_the_connection_lane() -> None:
    """Fails if: a proxy's own answer (a 502 the backend never sent) is missing from the timeline."""
    evidence = _evidence([], [])
    evidence.page_requests = [
        PageRequest(url="http://127.0.0.1:9/stream/x", method="GET", resource_type="eventsource", t=T, status=502),
        PageRequest(url="http://127.0.0.1:9/stream/x", method="GET", resource_type="eventsource", t=T + 1,
                    failure="net::ERR_CONNECTION_REFUSED"),
    ]  # fmt: skip
    rows = build_timeline(evidence, "", "", [], [], []).lane_rows("connection")
    assert [r.text.rsplit(" -> ", 1)[1] for r in rows] == ["502", "None"]
    assert rows[1].marks == ["failed: net::ERR_CONNECTION_REFUSED"]


def test_every_public_name_resolves() -> None:
    """Fails if: an entry of `harness.report.__all__` points at a module that does not define it."""
    for name in harness.report.__all__:
        assert getattr(harness.report, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        _ = harness.report.NoSuchThing
